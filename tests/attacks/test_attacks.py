import pathlib
import re
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq

REPO = pathlib.Path(__file__).resolve().parents[2]
LINF = kq.ops.threat_model(0.3, "inf", 0.0, 1.0)


def accuracy(model_fn, x, y):
    return float(np.mean(np.argmax(model_fn(tf.constant(x)).numpy(), -1) == y))


def perturbation_sizes(x, x_adv):
    delta = (x_adv - x).reshape(len(x), -1)
    return np.abs(delta).max(1), np.linalg.norm(delta, axis=1)


@pytest.mark.parametrize(
    "attack, norm, epsilon, bound",
    [
        ("fgsm", "inf", 0.3, 0.2),
        ("bim", "inf", 0.3, 0.05),
        ("pgd", "inf", 0.3, 0.05),
        ("mim", "inf", 0.3, 0.05),
        ("pgd", 2, 4.0, 0.1),
    ],
)
def test_first_order_attacks_fool_an_undefended_model_inside_the_ball(
    standard, attack, norm, epsilon, bound
):
    model, model_fn, x, y = standard
    threat = kq.ops.threat_model(epsilon, norm, 0.0, 1.0)
    assert accuracy(model_fn, x, y) > 0.9
    x_adv = kq.attacks.get(attack).generate(model_fn, x, y, threat, seed=0)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert accuracy(model_fn, x_adv, y) <= bound
    linf, l2 = perturbation_sizes(x, x_adv)
    assert np.all((linf if norm == "inf" else l2) <= epsilon * (1 + 1e-5))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_seeds_make_attacks_reproducible_and_restarts_never_hurt(standard):
    _, model_fn, x, y = standard
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    pgd = kq.attacks.PGD(steps=5)
    a = pgd.generate(model_fn, x, y, threat, seed=3, batch_size=32)
    np.testing.assert_array_equal(a, pgd.generate(model_fn, x, y, threat, seed=3, batch_size=32))
    assert not np.array_equal(a, pgd.generate(model_fn, x, y, threat, seed=4, batch_size=32))
    # The two batches draw different random starts.
    assert not np.allclose((a - x)[:32], (a - x)[32:])
    fooled_once = np.argmax(model_fn(a).numpy(), -1) != y
    restarted = kq.attacks.PGD(steps=5, restarts=4).generate(
        model_fn, x, y, threat, seed=3, batch_size=32
    )
    fooled_restarted = np.argmax(model_fn(restarted).numpy(), -1) != y
    assert np.all(fooled_restarted[fooled_once])


def test_cleverhans_spsa_and_cw_fail_on_keras3_without_the_adapters(standard):
    # The breakages the adapters exist for; if CleverHans fixes them, the
    # shims in keras_quadreg/attacks/{spsa,carlini_wagner}.py can go.
    from cleverhans.tf2.attacks.carlini_wagner_l2 import carlini_wagner_l2
    from cleverhans.tf2.attacks.spsa import spsa

    _, model_fn, x, y = standard
    with pytest.raises(ValueError, match=re.escape("Argument(s) not recognized: {'lr': 0.01}")):
        spsa(model_fn, tf.constant(x[:1]), tf.constant(y[:1]), 0.3, 1, clip_min=0.0, clip_max=1.0)
    with pytest.raises(TypeError, match="'list' object is not callable"):
        carlini_wagner_l2(model_fn, x[:2], max_iterations=1, binary_search_steps=1)


def test_spsa_runs_on_keras3_and_succeeds_on_an_undefended_model(standard):
    _, model_fn, x, y = standard
    x, y = x[:16], y[:16]
    spsa = kq.attacks.SPSA(steps=100, samples=128)
    assert spsa.gradient_free
    x_adv = spsa.generate(model_fn, x, y, LINF, seed=0)
    assert accuracy(model_fn, x_adv, y) <= 0.1
    assert perturbation_sizes(x, x_adv)[0].max() <= 0.3 + 1e-6
    np.testing.assert_array_equal(x_adv, spsa.generate(model_fn, x, y, LINF, seed=0))


@pytest.mark.parametrize("layout", ["image", "flat"])
def test_cw_runs_on_keras3_and_succeeds_on_an_undefended_model(standard, layout):
    _, model_fn, x, y = standard
    x, y = x[:32], y[:32]
    if layout == "flat":  # CleverHans's CW handles images only; the adapter any rank
        image_fn = model_fn
        model_fn = lambda flat: image_fn(tf.reshape(flat, (-1, 28, 28, 1)))
        x = x.reshape(len(x), -1)
    threat = kq.ops.threat_model(5.0, 2, 0.0, 1.0)
    cw = kq.attacks.CarliniWagnerL2(max_iterations=50, binary_search_steps=3, learning_rate=0.1)
    x_adv = cw.generate(model_fn, x, y, threat)
    assert x_adv.shape == x.shape
    assert accuracy(model_fn, x_adv, y) <= 0.2
    assert perturbation_sizes(x, x_adv)[1].max() <= 5.0 * (1 + 1e-5)


def test_art_autoattack_runs_the_standard_components_in_order(standard):
    _, model_fn, x, y = standard
    x, y = x[:24], y[:24]
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    autoattack = kq.attacks.AutoAttack(steps=10, square_queries=50, backend="art")
    x_adv = autoattack.generate(model_fn, x, y, threat, seed=0)
    details = autoattack.details
    assert list(details) == ["apgd_ce", "apgd_t", "deepfool", "square"]
    assert "DeepFool" in details["deepfool"]["ran"] and "FAB" in details["deepfool"]["ran"]
    after = [d["robust_accuracy_after"] for d in details.values()]
    assert after == sorted(after, reverse=True)
    # Each component attacks what the previous ones left robust.
    for previous, current in zip(details.values(), list(details.values())[1:]):
        assert (
            current["examples_attacked"]
            == previous["examples_attacked"] - previous["examples_broken"]
        )
    # The per-example worst case is what the returned examples show.
    assert accuracy(model_fn, x_adv, y) == pytest.approx(after[-1])
    assert after[0] < accuracy(model_fn, x, y)
    assert perturbation_sizes(x, x_adv)[0].max() <= 0.1 + 1e-6


def test_art_autoattack_seed_restores_global_random_state(standard):
    _, model_fn, x, y = standard
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    kq.attacks.AutoAttack(components=["apgd_ce"], steps=3, backend="art").generate(
        model_fn, x[:8], y[:8], threat
    )
    assert np.random.rand() == expected


def test_logits_function_handles_probabilities_and_non_differentiable_models():
    inputs = keras.Input((4,))
    probabilities = keras.layers.Dense(3, activation="softmax")(inputs)
    model = keras.Model(inputs, probabilities)
    x = np.random.default_rng(0).uniform(size=(5, 4)).astype(np.float32)
    model_fn, from_logits = kq.attacks.logits_function(model, sample=x)
    assert from_logits is False
    np.testing.assert_allclose(
        tf.nn.softmax(model_fn(x)).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6
    )
    rounded = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Lambda(tf.round)(inputs)))
    model_fn, from_logits = kq.attacks.logits_function(rounded, from_logits=True)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model_fn(x)
    gradient = tape.gradient(logits, x)
    assert gradient is not None and np.all(gradient.numpy() == 0)


def test_logits_function_needs_from_logits_or_a_sample():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: 2.0 * x)(inputs))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Cannot tell whether the model outputs logits or probabilities from its compiled "
            "loss or its last layer; pass `from_logits=True` (logits) or `from_logits=False` "
            "(probabilities). Received: from_logits=None"
        ),
    ):
        kq.attacks.logits_function(model)


@pytest.mark.parametrize(
    "x, y, threat, attack, message",
    [
        (
            np.full((2, 4), np.nan),
            [0, 1],
            LINF,
            kq.attacks.FGSM(),
            "Expected `x` to contain only finite values. Received: 8 NaN or Inf values",
        ),
        (
            np.zeros((2, 4)),
            [0, 3],
            LINF,
            kq.attacks.FGSM(),
            "Expected class indices < the number of classes the model outputs, 3. Received: "
            "max(y)=3",
        ),
        (
            np.zeros((2, 4)),
            [0, -1],
            LINF,
            kq.attacks.FGSM(),
            "Expected class indices >= 0. Received: min(y)=-1",
        ),
        (
            np.zeros((2, 4)),
            [0.5, 1],
            LINF,
            kq.attacks.FGSM(),
            "Expected `y` to be whole-number class indices. Received: y[:5]=[0.5, 1.0]",
        ),
        (
            np.zeros((2, 4)),
            [0],
            LINF,
            kq.attacks.FGSM(),
            "Expected `y` to be class indices of shape (2,), one per example. Received: "
            "y.shape=(1,)",
        ),
        (
            np.full((2, 4), 2.0),
            [0, 1],
            LINF,
            kq.attacks.FGSM(),
            "Expected inputs in the threat model's box [clip_min, clip_max] = [0.0, 1.0]. "
            "Received: inputs in [2.0, 2.0]",
        ),
        (
            np.zeros((2, 4)),
            [0, 1],
            kq.ops.threat_model(0.3, "inf"),
            kq.attacks.SPSA(),
            "SPSA needs an input box: set `clip_min` and `clip_max` of the threat model. "
            "Received: clip_min=None, clip_max=None",
        ),
        (
            np.zeros((2, 4)),
            [0, 1],
            "inf",
            kq.attacks.FGSM(),
            "Expected `threat_model` to be a kq.ops.ThreatModel, e.g. "
            "kq.ops.threat_model(0.3, \"inf\", 0.0, 1.0). Received: threat_model='inf'",
        ),
    ],
)
def test_generate_rejects_bad_inputs(x, y, threat, attack, message):
    model_fn, _ = kq.attacks.logits_function(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), from_logits=True
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        attack.generate(model_fn, np.asarray(x, np.float32), np.asarray(y), threat)


def test_autoattack_square_needs_images():
    model_fn, _ = kq.attacks.logits_function(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), from_logits=True
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The Square attack needs image batches (batch, height, width, channels); for other "
            "inputs leave it out with AutoAttack(components=...). Received: x.shape=(2, 4)"
        ),
    ):
        kq.attacks.AutoAttack(components=["apgd_ce", "square"]).generate(
            model_fn, np.zeros((2, 4)), [0, 1], LINF
        )


@pytest.mark.heavy
def test_native_autoattack_runs_the_four_papers_components_in_order(standard):
    _, model_fn, x, y = standard
    x, y = x[:24], y[:24]
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    autoattack = kq.attacks.get("autoattack", backend="native", steps=10, square_queries=50)
    x_adv = autoattack.generate(model_fn, x, y, threat, seed=0)
    details = autoattack.details
    assert list(details) == ["apgd_ce", "apgd_t", "fab_t", "square"]
    assert "kq.attacks.FABT" in details["fab_t"]["ran"]
    after = [d["robust_accuracy_after"] for d in details.values()]
    for previous, current in zip(details.values(), list(details.values())[1:]):
        assert (
            current["examples_attacked"]
            == previous["examples_attacked"] - previous["examples_broken"]
        )
    assert accuracy(model_fn, x_adv, y) == pytest.approx(after[-1])
    assert after[0] < accuracy(model_fn, x, y)
    assert perturbation_sizes(x, x_adv)[0].max() <= 0.1 + 1e-6
    np.testing.assert_array_equal(x_adv, autoattack.generate(model_fn, x, y, threat, seed=0))


def test_native_autoattack_runs_all_four_components_in_l2():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    model_fn, _ = kq.attacks.logits_function(model, from_logits=True)
    x = np.random.default_rng(0).uniform(0.0, 1.0, (16, 6, 6, 1)).astype(np.float32)
    y = np.argmax(model.predict(x, verbose=0), axis=-1)
    threat = kq.ops.threat_model(0.05, 2, 0.0, 1.0)
    autoattack = kq.attacks.AutoAttack(
        backend="native", target_classes=4, steps=5, square_queries=20
    )
    x_adv = autoattack.generate(model_fn, x, y, threat, seed=0)
    details = autoattack.details
    assert list(details) == ["apgd_ce", "apgd_t", "fab_t", "square"]
    # A small ball: some examples reach the Square attack.
    assert details["square"]["examples_attacked"] > 0
    assert "kq.attacks.Square" in details["square"]["ran"]
    assert perturbation_sizes(x, x_adv)[1].max() <= 0.05 * (1 + 1e-5)
    assert accuracy(model_fn, x_adv, y) == pytest.approx(details["square"]["robust_accuracy_after"])


def _affine_case():
    """An affine 10-class model on 20 features, inputs and their classes."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(20, 10)).astype(np.float32)
    x = rng.uniform(0.35, 0.65, size=(64, 20)).astype(np.float32)
    return (lambda x: tf.matmul(x, weights)), x, np.argmax(x @ weights, axis=-1)


def test_rand_autoattack_runs_apgd_ce_and_apgd_dlr_with_eot():
    model_fn, x, y = _affine_case()
    threat = kq.ops.threat_model(0.05, "inf", 0.0, 1.0)
    autoattack = kq.attacks.AutoAttack(version="rand", steps=20)
    x_adv = autoattack.generate(model_fn, x, y, threat, seed=0)
    details = autoattack.details
    assert list(details) == ["apgd_ce", "apgd_dlr"]
    assert details["apgd_ce"]["ran"] == (
        "kq.attacks.APGDCE, cross-entropy, untargeted, gradients averaged over 20 calls"
    )
    assert details["apgd_dlr"]["ran"] == (
        "kq.attacks.APGDDLR, DLR, untargeted, gradients averaged over 20 calls"
    )
    assert details["apgd_dlr"]["examples_attacked"] == (
        details["apgd_ce"]["examples_attacked"] - details["apgd_ce"]["examples_broken"]
    )
    assert 0 < accuracy(model_fn, x_adv, y) == details["apgd_dlr"]["robust_accuracy_after"] < 1
    assert perturbation_sizes(x, x_adv)[0].max() <= 0.05 + 1e-6
    # A deterministic model: averaging 20 equal gradients changes nothing.
    single = kq.attacks.APGDCE(steps=20).generate(model_fn, x, y, threat, seed=0)
    assert details["apgd_ce"]["examples_broken"] == int(
        np.sum(np.argmax(model_fn(single), -1) != y)
    )


def test_standard_autoattack_warns_on_a_randomized_model_only():
    model_fn, x, y = _affine_case()
    noisy = lambda x: model_fn(x + tf.random.uniform(tf.shape(x), -0.01, 0.01))
    autoattack = kq.attacks.AutoAttack(components=["apgd_ce"], steps=2)
    with pytest.warns(
        UserWarning,
        match=re.escape(
            "it looks randomized, and the standard AutoAttack can overestimate the robustness of "
            "a randomized model. Use AutoAttack(version='rand'), which averages every gradient "
            "over 20 calls."
        ),
    ):
        autoattack.generate(noisy, x, y, LINF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        autoattack.generate(model_fn, x, y, LINF)
        kq.attacks.AutoAttack(version="rand", steps=2).generate(noisy, x, y, LINF)


def test_default_autoattack_runs_natively_without_importing_art():
    # ART is an optional extra: the default AutoAttack, by name as the CLI's
    # specs give it and through evaluate_robustness, must not need it.
    script = textwrap.dedent("""
        import sys
        import keras
        import numpy as np
        import keras_quadreg as kq
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(5)])
        x = np.random.default_rng(0).uniform(0.0, 1.0, (8, 6, 6, 1)).astype(np.float32)
        y = np.argmax(model.predict(x, verbose=0), axis=-1)
        autoattack = kq.attacks.get("autoattack", target_classes=4, steps=2, square_queries=5)
        kq.evaluate_robustness(model, (x, y), 0.05, attacks=[autoattack], from_logits=True,
                               verbose=0)
        print(autoattack.backend, list(autoattack.details))
        print(sorted(m for m in sys.modules if m == "art" or m.startswith("art.")))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip().splitlines()[-2:] == [
        "native ['apgd_ce', 'apgd_t', 'fab_t', 'square']",
        "[]",
    ]
