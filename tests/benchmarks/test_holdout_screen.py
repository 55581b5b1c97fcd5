import json
import math
import shutil

import keras
import numpy as np
import pytest

from tests.benchmarks import _script
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def holdout_screen():
    return _script.load("holdout_screen")


def _run(root, model_path, holdout):
    root.mkdir()
    shutil.copy(model_path, root / "model.keras")
    config = {"dataset": "mnist", "epsilon": 0.3, "norm": "inf", "holdout": holdout}
    (root / "config.json").write_text(json.dumps(config))
    return root


def test_attacks_the_runs_last_training_images(holdout_screen, mnist_standard_model, tmp_path):
    run = _run(tmp_path / "run", mnist_standard_model, holdout=64)
    row = holdout_screen.screen(run, ["fgsm"], data_dir=SHARED_DATA)
    from keras_quadreg.data import idx

    root = SHARED_DATA / "mnist"
    images = idx.read_images(root / "train-images-idx3-ubyte.gz")[-64:]
    labels = idx.read_labels(root / "train-labels-idx1-ubyte.gz")[-64:]
    model = keras.models.load_model(mnist_standard_model)
    logits = model.predict((images.astype(np.float32) / 255.0)[..., None], verbose=0)
    assert row["holdout"] == 64
    assert row["clean"] == pytest.approx(np.mean(logits.argmax(axis=1) == labels))
    # A standard model has next to no robustness at epsilon 0.3.
    assert row["worst_case"] == row["fgsm"] < row["clean"] - 0.5


def test_refuses_a_run_without_held_out_images(holdout_screen, mnist_standard_model, tmp_path):
    run = _run(tmp_path / "run", mnist_standard_model, holdout=0)
    with pytest.raises(ValueError) as error:
        holdout_screen.screen(run, ["fgsm"], data_dir=SHARED_DATA)
    assert str(error.value) == (
        "Expected a run trained with --holdout N, whose last N training images were kept out "
        f"of training. Received: run={run} (holdout=0)"
    )


def test_standard_error_is_the_binomial_one(holdout_screen):
    assert holdout_screen.standard_error(0.9, 1000) == pytest.approx(math.sqrt(0.09 / 1000))
    assert holdout_screen.standard_error(1.0, 10) == 0.0
