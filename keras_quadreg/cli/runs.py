"""The run folder: everything one training run writes, in one place."""

import json
import pathlib
import zipfile
import zlib


class RunFolder:
    """Paths of a run folder.

    ```
    <run>/config.json        resolved configuration (flags, regularizer, versions)
    <run>/model.keras        the trained model
    <run>/checkpoints/       last and best weights (every epoch's with --keep-checkpoints all)
    <run>/backup/            BackupAndRestore state while training (resume)
    <run>/history.csv        per-epoch logs
    <run>/logs/              TensorBoard event files
    <run>/timing.json        training wall-clock
    <run>/selection.json     the epoch model.keras holds, chosen on held-out data (--holdout)
    <run>/report.md, .json   robustness report (`quadreg evaluate`)
    <run>/report-nN.json     attacks run on the first N examples only (`spsa@100`)
    <run>/reports/NNN/       the reports of earlier evaluations, 001 the oldest
    <run>/masking.md, .json  gradient-masking checks (`quadreg evaluate --masking`)
    <run>/explanations.json  interpretability scores (`quadreg explain`)
    <run>/figures/           figures (`robust_accuracy_vs_epsilon.png`: `--sweep`)
    <run>/export/<version>/  SavedModel for TF Serving (`quadreg export`)
    ```
    """

    def __init__(self, root):
        self.root = pathlib.Path(root)

    config = property(lambda self: self.root / "config.json")
    model = property(lambda self: self.root / "model.keras")
    checkpoints = property(lambda self: self.root / "checkpoints")
    backup = property(lambda self: self.root / "backup")
    history = property(lambda self: self.root / "history.csv")
    logs = property(lambda self: self.root / "logs")
    timing = property(lambda self: self.root / "timing.json")
    selection = property(lambda self: self.root / "selection.json")
    report_md = property(lambda self: self.root / "report.md")
    report_json = property(lambda self: self.root / "report.json")
    reports = property(lambda self: self.root / "reports")
    explanations = property(lambda self: self.root / "explanations.json")
    masking_md = property(lambda self: self.root / "masking.md")
    masking_json = property(lambda self: self.root / "masking.json")
    figures = property(lambda self: self.root / "figures")
    sweep_figure = property(lambda self: self.root / "figures" / "robust_accuracy_vs_epsilon.png")
    export = property(lambda self: self.root / "export")

    def subset_report(self, n):
        return self.root / f"report-n{n}.json"

    def subset_reports(self):
        """`{N: path}` of the reports of attacks run on the first N examples."""
        return {int(p.stem[len("report-n") :]): p for p in self.root.glob("report-n*.json")}

    def archive_reports(self):
        """Moves the current report files (report.md, report.json,
        report-nN.json) into `reports/NNN/`, numbered from 001.

        Returns:
            The number of archived evaluations (0 when there was no report).
        """
        current = [p for p in (self.report_md, self.report_json) if p.exists()]
        current += self.subset_reports().values()
        archived = len(list(self.reports.glob("[0-9][0-9][0-9]")))
        if not current:
            return archived
        target = self.reports / f"{archived + 1:03d}"
        target.mkdir(parents=True)
        for path in current:
            path.rename(target / path.name)
        return archived + 1

    def read_json(self, path):
        return json.loads(pathlib.Path(path).read_text())

    def write_json(self, path, value):
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")

    def require_model(self):
        """The trained model's path; a clear error when the run has none."""
        if not self.model.exists():
            raise SystemExit(
                f"quadreg: no trained model in {self.root} (expected {self.model.name}); "
                f"train one with `quadreg train --out {self.root}`."
            )
        return self.model

    def load_model(self):
        """The trained model; a clear error when the run has none, or when its
        file is corrupt or truncated (Keras would say "File not found")."""
        import keras

        import keras_quadreg  # noqa: F401 (registers QuadRegModel for load_model)

        damage = _damage(self.require_model())
        if damage:
            last = self.checkpoints / "last.weights.h5"
            recovery = (
                f"The last epoch's weights are in {last}: load them into the run's "
                "architecture with `model.load_weights`, or train again with --overwrite."
                if last.exists()
                else "No checkpoints/last.weights.h5 remains to recover from: train again "
                "with --overwrite."
            )
            raise ValueError(
                f"Expected {self.model} to be a Keras model file; it is corrupt or truncated "
                f"({damage}), e.g. a copy or a save cut short. {recovery} "
                f"Received: a file of {self.model.stat().st_size} bytes"
            )
        return keras.models.load_model(self.model)


def _damage(path):
    """What is wrong with the zip archive of a `.keras` file, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
        return "not a readable zip archive"
    return None if bad is None else f"its member {bad} fails its checksum"
