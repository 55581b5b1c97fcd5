"""The machinery the native attacks share: predictor, ranked targets, the robust-subset loop."""

import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.attacks import _runner

_RNG = np.random.default_rng(0)
WEIGHTS = _RNG.normal(size=(16, 5)).astype(np.float32)
X = _RNG.uniform(0.0, 1.0, size=(10, 16)).astype(np.float32)
Y = np.argmax(X @ WEIGHTS, axis=-1).astype(np.int64)
THREAT = kq.ops.threat_model(0.5, "inf", 0.0, 1.0)


def linear(x):
    return tf.matmul(x, WEIGHTS)


def test_predictor_batches_the_models_logits_and_classes():
    predict = _runner.Predictor(linear, batch_size=3)
    np.testing.assert_allclose(predict.logits(X), X @ WEIGHTS, rtol=1e-5)
    assert predict(X).tolist() == Y.tolist()


def test_ranked_targets_are_the_other_classes_by_decreasing_logit():
    logits = np.array([[0.0, 3.0, 1.0, 2.0], [5.0, 4.0, 6.0, 0.0]])
    y = np.array([3, 2])
    assert _runner.ranked_targets(logits, y, 2).tolist() == [[1, 0], [2, 1]]
    assert _runner.ranked_targets(logits, y, 9).shape == (3, 2)


def test_attack_robust_attacks_only_the_robust_and_keeps_only_what_fools():
    robust = np.array([True, False, True, True])
    out = np.zeros((4, 1))
    attacked = []

    def attack(index):
        attacked.append(index.tolist())
        return np.full((len(index), 1), 7.0), np.array([True, False, True])

    index = _runner.attack_robust(robust, out, attack)
    assert attacked == [[0, 2, 3]] and index.tolist() == [0, 2, 3]
    assert robust.tolist() == [False, False, True, False]
    assert out[:, 0].tolist() == [7.0, 0.0, 0.0, 7.0]
    assert _runner.attack_robust(np.zeros(2, bool), out, attack).tolist() == []
    assert len(attacked) == 1


class _Shift(_runner.RobustExamplesAttack):
    """Leaves the inputs as they are and counts an example fooled when its
    target differs from its class; records the examples and seed of each run."""

    def __init__(self, targets, **kwargs):
        super().__init__(**kwargs)
        self.targets = targets
        self.seen = []

    def run_batch(self, model_fn, x, y, target, threat_model, seed):
        return x + 0.0, tf.not_equal(target, y), tf.fill(tf.shape(y), seed[1])

    def _targets(self, logits, y):
        return np.stack([(y + k) % 5 for k in self.targets])

    def _record(self, index, seed):
        self.seen.append((index.tolist(), seed.tolist()))


def test_the_runner_runs_each_target_and_restart_on_the_examples_still_robust():
    # The first target is y itself (fools none), the second y + 1 (fools all).
    attack = _Shift(targets=[0, 1], restarts=2)
    x_adv = attack.generate(linear, X, Y, THREAT, batch_size=4)
    np.testing.assert_array_equal(x_adv, X)
    # Per batch of 4, 4, 2: two restarts of the first target on all, then the
    # second target once (nothing is left robust for its second restart).
    batches = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    expected = [
        (b, [run] * len(b)) for i, b in enumerate(batches) for run in (3 * i, 3 * i + 1, 3 * i + 2)
    ]
    assert attack.seen == expected
    assert attack.get_config()["restarts"] == 2


def test_the_old_homes_of_the_runner_warn():
    with pytest.warns(DeprecationWarning, match="keras_quadreg.attacks.apgd.RobustExamplesAttack"):
        assert kq.attacks.apgd.RobustExamplesAttack is _runner.RobustExamplesAttack
    with pytest.warns(DeprecationWarning) as record:
        assert kq.attacks.apgd.ranked_targets is _runner.ranked_targets
    assert str(record[0].message) == (
        "`keras_quadreg.attacks.apgd.ranked_targets` is deprecated and will be removed in the "
        "next release; use `keras_quadreg.attacks._runner.ranked_targets`."
    )
    with pytest.warns(DeprecationWarning):
        assert kq.evaluation.robustness.LabelPredictor is _runner.Predictor
