"""A run folder's faults are named: a model.keras that is corrupt or
truncated (not missing), with where the last good weights are, and a resume
with other flags, with each differing flag."""

import json
import pathlib
import zipfile

import keras
import pytest

import keras_quadreg as kq
from keras_quadreg import cli
from keras_quadreg.cli import train as train_lib
from tests.conftest import SHARED_DATA, small_cnn
from tests.reliability.test_cli_flags import TRAIN


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_weight_byte(path):
    """Flips one byte inside the weights member: the archive reads, its
    checksum fails."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    data = bytearray(path.read_bytes())
    header = info.header_offset
    name_length = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_length = int.from_bytes(data[header + 28 : header + 30], "little")
    data[header + 30 + name_length + extra_length + 100] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated": (_truncate, "not a readable zip archive"),
    "flipped byte": (_flip_a_weight_byte, "its member model.weights.h5 fails its checksum"),
}


@pytest.fixture(params=[True, False], ids=["with checkpoints", "without checkpoints"])
def run(request, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    inputs, outputs = small_cnn()
    model = kq.QuadRegModel(inputs, outputs, name="damaged")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(folder / "model.keras")
    if request.param:
        (folder / "checkpoints").mkdir()
        model.save_weights(folder / "checkpoints" / "last.weights.h5")
    (folder / "config.json").write_text(
        json.dumps({"dataset": "mnist", "epsilon": 0.3, "norm": "inf", "method": "standard"})
    )
    return folder


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--num-examples", "4", "--attacks", "fgsm", "--sweep"],
        ["explain", "--images", "2", "--score-examples", "4", "--saliency", "vanilla"],
        ["export"],
    ],
    ids=["evaluate", "explain", "export"],
)
def test_a_damaged_model_file_is_named_corrupt_not_missing(argv, damage, run):
    damage_file, what = DAMAGE[damage]
    model = run / "model.keras"
    damage_file(model)
    before = sorted(p.name for p in run.iterdir())
    last = run / "checkpoints" / "last.weights.h5"
    recovery = (
        f"The last epoch's weights are in {last}: load them into the run's architecture with "
        "`model.load_weights`, or train again with --overwrite."
        if last.exists()
        else "No checkpoints/last.weights.h5 remains to recover from: train again with --overwrite."
    )
    data = [] if argv[0] == "export" else ["--data-dir", str(SHARED_DATA)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([argv[0], str(run), *argv[1:], *data])
    assert exit_info.value.code == (
        f"quadreg {argv[0]}: Expected {model} to be a Keras model file; it is corrupt or "
        f"truncated ({what}), e.g. a copy or a save cut short. {recovery} "
        f"Received: a file of {model.stat().st_size} bytes"
    )
    assert sorted(p.name for p in run.iterdir()) == before


def _interrupted(out):
    """A run folder as a run stopped before its first epoch leaves it."""
    args = cli.parse(["train", "--out", str(out), "--method", "standard", *TRAIN])
    config = train_lib.config_from_args(args)
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(config))


def _with(flags, **changes):
    flags = list(flags)
    for flag, value in changes.items():
        flags[flags.index(f"--{flag.replace('_', '-')}") + 1] = value
    return flags


@pytest.mark.parametrize(
    "changes, differences",
    [
        ({"epochs": "2"}, "--epochs 1 there, 2 here"),
        (
            {"epochs": "2", "batch_size": "16"},
            "--epochs 1 there, 2 here; --batch-size 32 there, 16 here",
        ),
    ],
    ids=["one flag", "two flags"],
)
@pytest.mark.parametrize("command", ["train", "compare"])
def test_resuming_with_other_flags_names_each_flag(command, changes, differences, tmp_path):
    if command == "train":
        out, run = tmp_path / "run", tmp_path / "run"
        argv = ["train", "--out", str(out), "--method", "standard", *_with(TRAIN, **changes)]
    else:
        out, run = tmp_path / "cmp", tmp_path / "cmp" / "standard"
        argv = ["compare", "--out", str(out), "--methods", "standard", "--no-interpretability"]
        argv += [*_with(TRAIN, **changes), "--attacks", "fgsm", "--num-examples", "4"]
    _interrupted(run)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == (
        f"quadreg: {run} holds an interrupted run with another configuration ({differences}); "
        "resume it with its flags, or pass --overwrite or another --out."
    )
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


def test_an_option_added_since_the_run_started_counts_as_its_default_there(tmp_path):
    """A run folder written before an option existed lacks it in config.json:
    resuming with the option at its default is the same configuration."""
    run = tmp_path / "run"
    _interrupted(run)
    saved = json.loads((run / "config.json").read_text())
    del saved["adapt_threshold"], saved["adapt_probe"]
    (run / "config.json").write_text(json.dumps(saved))
    argv = ["train", "--out", str(run), "--method", "standard", *TRAIN]
    assert train_lib.check_out(run, train_lib.config_from_args(cli.parse(argv))).root == run
    with pytest.raises(SystemExit) as exit_info:
        train_lib.check_out(
            run, train_lib.config_from_args(cli.parse([*argv, "--adapt-probe", "10"]))
        )
    assert exit_info.value.code == (
        f"quadreg: {run} holds an interrupted run with another configuration "
        "(--adapt-probe not recorded there); "
        "resume it with its flags, or pass --overwrite or another --out."
    )


def test_a_save_cut_short_leaves_no_model_file(tmp_path, monkeypatch):
    def cut_short(self, filepath, *args, **kwargs):
        pathlib.Path(filepath).write_bytes(b"PK\x03\x04")  # the start of a zip archive
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", cut_short)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--out", str(out), *TRAIN])
    assert not (out / "model.keras").exists()
