"""`Checkpoints`: last and best weights, every epoch's on request, and the
best carried across calls to `fit` (resumed runs)."""

import json
import os

import keras
import numpy as np
import pytest

import keras_quadreg as kq

X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
Y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


class _Score(keras.callbacks.Callback):
    """Logs `score` from a list, one per epoch, and records each epoch's
    weights; listed before `Checkpoints`, which reads both."""

    def __init__(self, scores):
        super().__init__()
        self.scores, self.weights = scores, {}

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]
        self.weights[epoch + 1] = [w.numpy() for w in self.model.weights]


def _fit(model, directory, scores, *, initial_epoch=0, **kwargs):
    score = _Score(scores)
    model.fit(
        X,
        Y,
        epochs=len(scores),
        initial_epoch=initial_epoch,
        verbose=0,
        callbacks=[score, kq.callbacks.Checkpoints(directory, monitor="score", **kwargs)],
    )
    return score.weights


def _loaded(path):
    model = _model()
    model.load_weights(path)
    return [w.numpy() for w in model.weights]


def _assert_weights(actual, expected):
    for a, b in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_keeps_the_last_and_the_best_weights(tmp_path):
    weights = _fit(_model(), tmp_path, [3.0, 1.0, 2.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.json",
        "best.weights.h5",
        "last.weights.h5",
    ]
    assert json.loads((tmp_path / "best.json").read_text()) == {
        "epoch": 2,
        "monitor": "score",
        "value": 1.0,
    }
    _assert_weights(_loaded(tmp_path / "best.weights.h5"), weights[2])
    _assert_weights(_loaded(tmp_path / "last.weights.h5"), weights[3])


def test_keep_all_adds_every_epoch_as_links_to_the_same_files(tmp_path):
    weights = _fit(_model(), tmp_path, [3.0, 1.0, 2.0], keep="all")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "best.json",
        "best.weights.h5",
        "epoch-001.weights.h5",
        "epoch-002.weights.h5",
        "epoch-003.weights.h5",
        "last.weights.h5",
    ]
    for epoch in (1, 2, 3):
        _assert_weights(_loaded(tmp_path / f"epoch-{epoch:03d}.weights.h5"), weights[epoch])
    # One epoch's weights are stored once.
    assert os.path.samefile(tmp_path / "epoch-002.weights.h5", tmp_path / "best.weights.h5")
    assert os.path.samefile(tmp_path / "epoch-003.weights.h5", tmp_path / "last.weights.h5")


def test_without_hard_links_the_files_are_copies(tmp_path, monkeypatch):
    def no_links(source, target):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    weights = _fit(_model(), tmp_path, [1.0, 2.0])
    _assert_weights(_loaded(tmp_path / "best.weights.h5"), weights[1])
    _assert_weights(_loaded(tmp_path / "last.weights.h5"), weights[2])


def test_the_best_carries_over_to_a_resumed_fit(tmp_path):
    model = _model()
    first = _fit(model, tmp_path, [3.0, 1.0])
    # A new callback, as in a restarted process: 2.0 (epoch 3) is no better than epoch 2's 1.0.
    _fit(model, tmp_path, [None, None, 2.0], initial_epoch=2)
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 2
    _assert_weights(_loaded(tmp_path / "best.weights.h5"), first[2])


def test_mode_max_and_non_finite_values(tmp_path):
    _fit(_model(), tmp_path, [float("nan"), 1.0, 3.0, 2.0], mode="max")
    assert json.loads((tmp_path / "best.json").read_text()) == {
        "epoch": 3,
        "monitor": "score",
        "value": 3.0,
    }


def test_a_monitor_that_is_not_logged_is_an_error(tmp_path):
    model = _model()
    with pytest.raises(ValueError) as error:
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[kq.callbacks.Checkpoints(tmp_path)])
    assert str(error.value) == (
        "Expected `monitor` to be one of the logged values ['loss']. Received: monitor='val_loss'"
    )


def test_resuming_with_another_monitor_is_an_error(tmp_path):
    model = _model()
    _fit(model, tmp_path, [1.0])
    with pytest.raises(ValueError) as error:
        model.fit(
            X,
            Y,
            epochs=2,
            initial_epoch=1,
            verbose=0,
            callbacks=[kq.callbacks.Checkpoints(tmp_path, monitor="loss")],
        )
    assert str(error.value) == (
        f"Expected `monitor` to be 'score', which ranks the checkpoints already in {tmp_path}. "
        "Received: monitor='loss'"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(directory=3), "Expected `directory` to be a folder path. Received: directory=3"),
        (dict(directory=""), "Expected `directory` to be a folder path. Received: directory=''"),
        (
            dict(keep="every"),
            "Expected `keep` to be one of ['best-last', 'all']. Received: keep='every'",
        ),
        (
            dict(monitor=""),
            "Expected `monitor` to be the name of a logged value, e.g. 'val_loss'. "
            "Received: monitor=''",
        ),
        (
            dict(mode="lowest"),
            "Expected `mode` to be one of ['min', 'max']. Received: mode='lowest'",
        ),
    ],
)
def test_arguments_are_validated(kwargs, message, tmp_path):
    with pytest.raises(ValueError) as error:
        kq.callbacks.Checkpoints(**{"directory": tmp_path, **kwargs})
    assert str(error.value) == message
