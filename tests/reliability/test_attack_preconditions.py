"""Every attack's preconditions (classes, input shape) are checked before
any attack of a list runs: Square's need for image batches no longer waits
for the attacks listed before it."""

import re

import keras
import numpy as np
import pytest

import keras_quadreg as kq

X = np.full((6, 4), 0.5, np.float32)  # flat inputs: not images
Y = np.arange(6) % 3
SQUARE = (
    "The Square attack needs image batches (batch, height, width, channels). "
    "Received: x.shape=(6, 4)"
)
AUTOATTACK_SQUARE = (
    "The Square attack needs image batches (batch, height, width, channels); for other inputs "
    "leave it out with AutoAttack(components=...). Received: x.shape=(6, 4)"
)


def _flat_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture
def no_attack(monkeypatch):
    def run(*args, **kwargs):
        raise AssertionError("an attack ran before every attack's preconditions were checked")

    for attack in (kq.attacks.FGSM, kq.attacks.PGD, kq.attacks.APGDCE):
        monkeypatch.setattr(attack, "_generate", run)


@pytest.mark.parametrize(
    "attacks, message",
    [
        (["fgsm", "square"], SQUARE),
        (["pgd", kq.attacks.AutoAttack(components=["apgd_ce", "square"])], AUTOATTACK_SQUARE),
    ],
    ids=["square", "autoattack"],
)
def test_evaluate_robustness_checks_square_before_any_attack(attacks, message, no_attack):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.evaluate_robustness(
            _flat_model(), (X, Y), 0.1, "inf", attacks=attacks, from_logits=True, verbose=0
        )


def test_generate_still_checks_on_its_own():
    model_fn, _ = kq.attacks.logits_function(_flat_model(), from_logits=True)
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    with pytest.raises(ValueError, match=f"^{re.escape(SQUARE)}$"):
        kq.attacks.Square(queries=5).generate(model_fn, X, Y, threat)


def test_robust_accuracy_checks_its_attack_before_the_first_epoch():
    batches = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch)
    )
    selector = kq.callbacks.RobustAccuracy((X, Y), 0.1, attack="square", from_logits=True)
    with pytest.raises(ValueError, match=f"^{re.escape(SQUARE)}$"):
        _flat_model().fit(X, Y, epochs=1, callbacks=[selector, record], verbose=0)
    assert not batches
    selector = kq.callbacks.RobustAccuracy(
        (X, Y), 0.1, attack=kq.attacks.AutoAttack(components="apgd_t"), from_logits=True
    )
    with pytest.raises(ValueError, match=r"^AutoAttack cannot run 'apgd_t' on a model with 3 "):
        _flat_model().fit(X, Y, epochs=1, callbacks=[selector, record], verbose=0)
    assert not batches
