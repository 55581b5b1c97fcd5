"""Keeps benchmarks/pass_cost.py running (tiny settings; the figures come
from running it in full)."""

import keras
import numpy as np
import pytest

from tests.benchmarks._script import load


def _load():
    return load("pass_cost")


@pytest.fixture
def model_path(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    path = tmp_path / "model.keras"
    model.save(path)
    return path


def test_pass_cost_reports_native_over_art_per_batch_size(model_path):
    pytest.importorskip("art", reason="ART (the [autoattack] extra) times the other backend")
    rows = _load().main(
        [
            "--model-path",
            str(model_path),
            "--batch-sizes",
            "4",
            "8",
            "--examples",
            "16",
            "--rounds",
            "2",
        ]
    )
    assert [(r["batch_size"], r["passes"]) for r in rows] == [
        (4, "forward"),
        (4, "forward+backward"),
        (8, "forward"),
        (8, "forward+backward"),
    ]
    for r in rows:
        assert r["ratio"] == r["native_ms"] / r["art_ms"] and r["native_ms"] > 0


def test_both_backends_time_the_same_passes(model_path):
    pytest.importorskip("art", reason="ART (the [autoattack] extra) times the other backend")
    pass_cost = _load()
    model = keras.models.load_model(model_path)
    x = np.random.default_rng(0).uniform(0.0, 1.0, (8, 6, 6, 1)).astype(np.float32)
    y = np.arange(8) % 5
    native, art = pass_cost._native(model), pass_cost._art(model, (6, 6, 1), 5)
    np.testing.assert_allclose(native["forward"](x, y), art["forward"](x, y), rtol=1e-5, atol=1e-6)
    # ART's loss is the batch mean, the native one per-example: the same direction.
    native_gradient, art_gradient = native["forward+backward"](x, y), art["forward+backward"](x, y)
    np.testing.assert_allclose(native_gradient / len(x), art_gradient, rtol=1e-4, atol=1e-7)
    assert np.any(native_gradient != 0)
