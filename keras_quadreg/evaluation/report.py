"""`RobustnessReport`: what `evaluate_robustness` measured, and its formats."""

import dataclasses
import itertools
import json
import pathlib

import numpy as np

from keras_quadreg import _validation

_NORM_NAMES = {"inf": "l_inf", 2: "l_2"}


def _to_plain(record, per_example, skip=()):
    """A report's fields as plain values; boolean arrays as 0/1 lists, only
    with `per_example`. Private fields and `skip` are left out."""
    out = {}
    for field in dataclasses.fields(record):
        if field.name.startswith("_") or field.name in skip:
            continue
        value = getattr(record, field.name)
        if isinstance(value, np.ndarray):
            if per_example:
                out[field.name] = value.astype(int).tolist()
        else:
            out[field.name] = value
    return out


def _from_plain(cls, data, **values):
    """Inverse of `_to_plain`, given the fields it skipped; arrays left out
    by `per_example=False` come back empty."""
    for field in dataclasses.fields(cls):
        if field.name.startswith("_") or field.name in values:
            continue
        if field.type is np.ndarray:
            values[field.name] = np.asarray(data.get(field.name, []), bool)
        elif field.default is dataclasses.MISSING:
            values[field.name] = data[field.name]
        else:
            values[field.name] = data.get(field.name, field.default)
    return cls(**values)


@dataclasses.dataclass
class AttackResult:
    """One attack's outcome.

    Attributes:
        name: The attack's key in the report.
        accuracy: Fraction of examples classified correctly both clean and
            at the attack's adversarial input.
        correct: Per-example booleans behind `accuracy`.
        seconds: Wall time of the attack and of classifying its results.
        seed: Seed the attack ran with.
        config: The attack's configuration (`Attack.get_config()`) and its
            `class_name`.
        details: What the attack reported beyond its examples (the
            AutoAttack components), or None.
        flags: The warning flags the attack raised (AutoAttack's, see
            `kq.attacks.checks`), each `{"check", "message"}`, or None for
            an attack without flags.
    """

    name: str
    accuracy: float
    correct: np.ndarray
    seconds: float
    seed: int
    config: dict
    details: dict = None
    flags: list = None

    def to_dict(self, per_example=True):
        return _to_plain(self, per_example, skip=("name",))

    @classmethod
    def from_dict(cls, name, data):
        return _from_plain(cls, data, name=name)


@dataclasses.dataclass
class RobustnessReport:
    """Clean and robust accuracy of a model under a threat model.

    An example is robust to an attack if the model classifies it correctly
    both clean and at the attack's adversarial input; the worst case counts
    the examples robust to every attack (per example, not an average over
    attacks).

    Example:

    ```python
    report = kq.evaluate_robustness(model, test_ds, epsilon=0.3, attacks=["fgsm", "pgd"])
    print(report.to_markdown())
    report.to_json("report.json")
    figure = report.plot_vs_epsilon([0.1, 0.2, 0.3, 0.4])
    ```

    Attributes:
        threat_model: `{"norm", "epsilon", "clip_min", "clip_max"}`.
        num_examples: Number of examples evaluated.
        seed: Seed every attack ran with.
        from_logits: Whether the model's outputs were taken as logits.
        clean_accuracy: Accuracy on the clean examples.
        clean_correct: Per-example booleans behind `clean_accuracy`.
        clean_seconds: Wall time of one clean pass over the examples.
        attacks: `{name: AttackResult}` in the order they ran.
        worst_case_accuracy: Fraction of examples robust to every attack.
        worst_case_correct: Per-example booleans behind it.
        versions: Versions of the libraries that produced the numbers.
    """

    threat_model: dict
    num_examples: int
    seed: int
    from_logits: bool
    clean_accuracy: float
    clean_correct: np.ndarray
    clean_seconds: float
    attacks: dict
    worst_case_accuracy: float
    worst_case_correct: np.ndarray
    versions: dict
    _rerun: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def epsilon(self):
        return self.threat_model["epsilon"]

    def to_dict(self, per_example=True):
        """Plain Python values; `per_example` includes the boolean vectors."""
        attacks = {k: v.to_dict(per_example) for k, v in self.attacks.items()}
        return {**_to_plain(self, per_example, skip=("attacks",)), "attacks": attacks}

    def to_json(self, path=None, per_example=True):
        """Writes the report as JSON to `path` (if given) and returns the text."""
        text = json.dumps(self.to_dict(per_example), indent=2)
        if path is not None:
            pathlib.Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, source):
        """Reads a report written by `to_json` (a path or the JSON text).

        The result has every number but cannot re-run attacks
        (`sweep_epsilon`, `plot_vs_epsilon` with new epsilons).
        """
        path = pathlib.Path(source) if not str(source).lstrip().startswith("{") else None
        data = json.loads(path.read_text() if path is not None else source)
        threat = dict(data["threat_model"])
        if threat["norm"] == 2 or threat["norm"] == "2":
            threat["norm"] = 2
        attacks = {k: AttackResult.from_dict(k, v) for k, v in data["attacks"].items()}
        return _from_plain(cls, data, threat_model=threat, attacks=attacks)

    def to_markdown(self):
        """A markdown summary: threat model, accuracies, times and notes."""
        t = self.threat_model
        box = (
            f", inputs in [{t['clip_min']:g}, {t['clip_max']:g}]"
            if t["clip_min"] is not None
            else ""
        )
        lines = [
            "## Robustness report",
            "",
            f"Threat model: {_NORM_NAMES[t['norm']]} ball, epsilon = {t['epsilon']:g}{box}. "
            f"{self.num_examples} examples, seed {self.seed}.",
            "",
            "| attack | accuracy | time (s) |",
            "| --- | ---: | ---: |",
            f"| clean | {100 * self.clean_accuracy:.1f} % | {self.clean_seconds:.2f} |",
        ]
        for result in self.attacks.values():
            lines.append(
                f"| {self.attack_label(result.name)} | {100 * result.accuracy:.1f} % | "
                f"{result.seconds:.2f} |"
            )
        lines.append(
            f"| **worst case** | **{100 * self.worst_case_accuracy:.1f} %** | "
            f"{sum(r.seconds for r in self.attacks.values()):.2f} |"
        )
        lines += ["", self.verdict()]
        for result in self.attacks.values():
            if result.details:
                lines += [
                    "",
                    f"{result.name} components (robust accuracy after each, cumulative):",
                    "",
                ]
                for component, info in result.details.items():
                    lines.append(
                        f"- {component}: {100 * info['robust_accuracy_after']:.1f} % "
                        f"({info['examples_broken']} of {info['examples_attacked']} broken, "
                        f"{info['seconds']:.1f} s): {info['ran']}"
                    )
            if result.flags is not None:
                lines += ["", f"{result.name} flags (the checks of the authors' code):", ""]
                lines += [f"- {f['check']}: {f['message']}" for f in result.flags] or ["- none"]
        return "\n".join(lines)

    def attack_label(self, name):
        """The attack `name` with its key settings, e.g.
        `"pgd (40 steps, step 0.01875, 1 restart, random start)"`.

        Args:
            name: The attack's key in `attacks`.

        Returns:
            A string: the name, then the settings of its configuration in
            parentheses (absent when it has none).
        """
        if name not in self.attacks:
            raise ValueError(
                f"Expected the name of an attack of the report, one of {list(self.attacks)}. "
                f"Received: name={name!r}"
            )
        settings = _settings(self.attacks[name].config, self.epsilon)
        return f"{name} ({settings})" if settings else name

    def verdict(self):
        """One sentence on what the numbers mean, and what would confirm them.

        The model is called robust when the worst case keeps at least a
        tenth of the clean accuracy (and is above 0).
        """
        clean, worst = 100 * self.clean_accuracy, 100 * self.worst_case_accuracy
        attacks = ", ".join(self.attacks) or "no attack"
        if worst == 0 or worst < 0.1 * clean:
            sentence = (
                f"**Not robust**: accuracy falls from {clean:.1f} % clean to {worst:.1f} % "
                f"under the worst case of {attacks}."
            )
        else:
            sentence = (
                f"**Robust to these attacks**: {worst:.1f} % of the examples keep their class "
                f"under every one of {attacks} ({clean:.1f} % clean)."
            )
        if any(r.config.get("class_name") == "AutoAttack" for r in self.attacks.values()):
            return sentence + (
                " AutoAttack's standard set is included; `kq.check_gradient_masking` "
                "(`quadreg evaluate --masking`) checks that the gradients behind it are "
                "informative."
            )
        return sentence + (
            " A robust figure from these attacks alone is an upper bound: confirm it with "
            "AutoAttack (`--attacks autoattack`) and the gradient-masking checks (`--masking`)."
        )

    def __str__(self):
        return self.to_markdown()

    def sweep_epsilon(self, epsilons, verbose=0):
        """Re-runs this evaluation (same model, examples, attacks and seed) at
        each epsilon; this report stands for its own epsilon.

        Returns:
            A list of `RobustnessReport`, one per epsilon.
        """
        if self._rerun is None:
            raise ValueError(
                "This report cannot re-run its evaluation (it was read from JSON). "
                "Plot saved reports with kq.evaluation.plot_vs_epsilon(reports). "
                "Received: a report without its model"
            )
        epsilons = _epsilons(epsilons)
        return [self if e == self.epsilon else self._rerun(e, verbose) for e in epsilons]

    def plot_vs_epsilon(self, epsilons, path=None, ax=None, verbose=0):
        """Robust accuracy of every attack and the worst case against epsilon.

        Runs `sweep_epsilon(epsilons)` and plots it with
        `kq.evaluation.plot_vs_epsilon`.

        Args:
            epsilons: The epsilons to evaluate.
            path: File to save the figure to, or None.
            ax: Matplotlib axes to draw on, or None for a new figure.
            verbose: 1 shows progress of the evaluations.

        Returns:
            The matplotlib `Figure`.
        """
        return plot_vs_epsilon(self.sweep_epsilon(epsilons, verbose), path=path, ax=ax)


def _settings(config, epsilon):
    """An attack's configuration in words: `"40 steps, step 0.01875, random start"`.

    Counts read "<value> <key>", other numbers "<key> <value>", booleans
    "<key>" or "no <key>", lists their items joined by "+"; a step given as
    a fraction of epsilon is shown as a length.
    """
    parts = []
    for key, value in config.items():
        if key in ("class_name", "name"):
            continue
        words = key.replace("_", " ")
        if key == "relative_step_size":
            parts.append(f"step {value * epsilon:.4g}")
        elif isinstance(value, bool):
            parts.append(words if value else f"no {words}")
        elif isinstance(value, int):
            parts.append(f"{value} {words[:-1] if value == 1 and words.endswith('s') else words}")
        elif isinstance(value, float):
            parts.append(f"{words} {value:g}")
        elif isinstance(value, (list, tuple)):
            parts.append("+".join(map(str, value)))
        elif value is not None:
            parts.append(f"{words} {value}")
    return ", ".join(parts)


def _epsilons(epsilons):
    if not isinstance(epsilons, (list, tuple, np.ndarray)) or len(epsilons) == 0:
        raise ValueError(
            "Expected `epsilons` to be a non-empty list of numbers. Received: "
            f"epsilons={epsilons!r}"
        )
    return [_validation.positive_number("epsilon", float(e)) for e in epsilons]


def plot_vs_epsilon(reports, path=None, ax=None, *, training_epsilon=None, title=None):
    """Plots robust accuracy against epsilon from reports at several epsilons.

    Each attack is a dashed line with its own marker, drawn over the worst
    case (a thick solid line), so an attack that is the worst case
    everywhere stays visible.

    Example:

    ```python
    reports = [kq.evaluation.RobustnessReport.from_json(p) for p in paths]
    kq.evaluation.plot_vs_epsilon(reports, path="robustness.png", training_epsilon=0.3)
    ```

    Args:
        reports: `RobustnessReport`s of one model and threat-model norm.
        path: File to save the figure to, or None.
        ax: Matplotlib axes to draw on, or None for a new figure.
        training_epsilon: The radius the model was trained at, marked by a
            vertical line; None for no mark.
        title: The axes' title; None for "Robust accuracy against epsilon
            (N examples)".

    Returns:
        The matplotlib `Figure`.
    """
    from matplotlib.figure import Figure

    if not reports or not all(isinstance(r, RobustnessReport) for r in reports):
        raise ValueError(
            f"Expected a non-empty list of RobustnessReport. Received: reports={reports!r}"
        )
    norms = {r.threat_model["norm"] for r in reports}
    if len(norms) != 1:
        raise ValueError(
            f"Expected reports of one threat-model norm. Received: norms={sorted(map(str, norms))}"
        )
    if training_epsilon is not None:
        training_epsilon = _validation.positive_number("training_epsilon", training_epsilon)
    if title is not None and not isinstance(title, str):
        raise ValueError(f"Expected `title` to be a string or None. Received: title={title!r}")
    reports = sorted(reports, key=lambda r: r.epsilon)
    epsilons = [r.epsilon for r in reports]
    figure = ax.figure if ax is not None else Figure(figsize=(5, 3.5))
    ax = ax if ax is not None else figure.add_subplot()
    names = list(dict.fromkeys(n for r in reports for n in r.attacks))
    for name, marker in zip(names, itertools.cycle("o^vD<>px*")):
        points = [(r.epsilon, r.attacks[name].accuracy) for r in reports if name in r.attacks]
        ax.plot(*zip(*points), ls="--", marker=marker, markersize=5, zorder=3, label=name)
    ax.plot(
        epsilons,
        [r.worst_case_accuracy for r in reports],
        color="k",
        ls="-",
        lw=4,
        alpha=0.35,
        marker="s",
        markersize=9,
        zorder=2,
        label="worst case",
    )
    ax.axhline(reports[0].clean_accuracy, color="gray", ls=":", label="clean")
    if training_epsilon is not None:
        ax.axvline(
            training_epsilon,
            color="tab:red",
            ls="-.",
            lw=1,
            label=f"training epsilon ({training_epsilon:g})",
        )
    ax.set_title(
        f"Robust accuracy against epsilon ({reports[0].num_examples} examples)"
        if title is None
        else title,
        fontsize="medium",
    )
    ax.set_xlabel(f"epsilon ({_NORM_NAMES[norms.pop()]})")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if path is not None:
        figure.savefig(path, bbox_inches="tight")
    return figure
