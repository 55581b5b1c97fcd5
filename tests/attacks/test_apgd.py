import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.attacks import apgd

# An affine 10-class model on 20 features, where the smallest perturbation
# that changes the class is known in closed form.
_RNG = np.random.default_rng(0)
WEIGHTS = _RNG.normal(size=(20, 10)).astype(np.float32)
BIAS = (0.5 * _RNG.normal(size=10)).astype(np.float32)
# Inputs away from the box [0, 1] by more than any epsilon below, so that the
# box never binds and the closed form holds.
POINTS = _RNG.uniform(0.35, 0.65, size=(200, 20)).astype(np.float32)
EPSILON = {"inf": 0.05, 2: 0.2}


def affine(x):
    return tf.matmul(x, WEIGHTS) + BIAS


def predict(x):
    return np.argmax(x @ WEIGHTS + BIAS, axis=-1)


def minimal_distance(x, norm):
    """Per example, the smallest ||delta|| (l_inf or l_2) that changes the
    affine model's class: min over j of the margin to class j over the dual
    norm (l_1 or l_2) of `w_y - w_j`."""
    logits = x @ WEIGHTS + BIAS
    y = np.argmax(logits, axis=-1)
    margins = logits[np.arange(len(x)), y][:, None] - logits
    differences = WEIGHTS.T[y][:, None, :] - WEIGHTS.T[None]
    dual = np.abs(differences).sum(-1) if norm == "inf" else np.linalg.norm(differences, axis=-1)
    ratios = np.divide(margins, dual, out=np.full_like(margins, np.inf), where=dual > 0)
    return ratios.min(axis=-1)


def clear_cases(norm, count=None):
    """Points whose minimal distance is below 0.8 epsilon or above 1.25 epsilon."""
    distance = minimal_distance(POINTS, norm)
    epsilon = EPSILON[norm]
    keep = (distance < 0.8 * epsilon) | (distance > 1.25 * epsilon)
    x = POINTS[keep][:count]
    return x, predict(x), distance[keep][:count] < epsilon


def assert_in_threat_model(x, x_adv, threat):
    delta = (x_adv - x).reshape(len(x), -1)
    size = np.abs(delta).max(1) if threat.norm == "inf" else np.linalg.norm(delta, axis=1)
    assert np.all(size <= threat.epsilon * (1 + 1e-5))
    assert x_adv.min() >= threat.clip_min and x_adv.max() <= threat.clip_max


def test_checkpoints_follow_the_authors_code():
    # Intervals 22, 19, 16, 13, 10, 7, then at least 6: the paper's points for 100.
    assert apgd.checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    # int(0.22 * 50) = 11, 3 % of 50 rounds down to 1: 11, 10, 9, 8, 7
    # (the paper's ceil(p_j * 50) gives 11, 21, 29, 35, 40, ...).
    assert apgd.checkpoints(50) == [11, 21, 30, 38, 45]
    assert apgd.checkpoints(20) == [4, 7, 9, *range(10, 21)]
    assert apgd.checkpoints(5) == [1, 2, 3, 4, 5]
    assert apgd.checkpoints(1) == [1]


def test_reduce_step_is_the_authors_rule():
    def reduce(increases, best, best_at_check, reduced):
        return (
            apgd.reduce_step(
                tf.constant(increases),
                16.0,
                tf.constant(best),
                tf.constant(best_at_check),
                tf.constant(reduced),
            )
            .numpy()
            .tolist()
        )

    # Condition 1 holds with exactly rho * 16 = 12 increases (the paper: fewer than 12).
    assert reduce([12.0, 13.0], [1.0, 1.0], [0.0, 0.0], [True, True]) == [True, False]
    # Condition 2: no improvement since the previous checkpoint, where the step
    # was not halved; never at the first checkpoint, which passes reduced=True.
    assert reduce([16.0, 16.0, 16.0], [1.0, 1.0, 1.0], [1.0, 1.0, 0.5], [True, False, False]) == [
        False,
        True,
        False,
    ]


def test_targeted_dlr_is_the_papers_formula():
    logits = tf.constant([[4.0, 3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 5.0, 3.0, 2.0]])
    losses = apgd.targeted_dlr(logits, tf.constant([0, 2], tf.int64), tf.constant([1, 4], tf.int64))
    # -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
    np.testing.assert_allclose(losses.numpy(), [-1.0 / 2.5, -3.0 / 3.5], rtol=1e-6)


def test_dlr_is_the_papers_formula():
    logits = tf.constant([[4.0, 3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 5.0, 3.0, 2.0]])
    losses = apgd.dlr(logits, tf.constant([0, 1], tf.int64), None)
    # -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)
    np.testing.assert_allclose(losses.numpy(), [-1.0 / 2.0, 4.0 / 3.0], rtol=1e-6)


class CyclingScale:
    """A randomized model stand-in: each call scales the input by the next
    of `SCALES`, so the mean gradient over calls is known."""

    SCALES = (1.0, -0.5, 2.0)

    def __init__(self):
        self.calls = tf.Variable(0, dtype=tf.int64)

    def __call__(self, x):
        scale = tf.gather(tf.constant(self.SCALES), self.calls % len(self.SCALES))
        self.calls.assign_add(1)
        return affine(scale * x)


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_eot_averages_the_gradient_over_calls_and_keeps_the_last_calls_loss(mode):
    x, y = POINTS[:8], predict(POINTS[:8])
    model_fn = CyclingScale()

    def expected(scale):
        point = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(point)
            losses = apgd.cross_entropy(affine(scale * point), y, y)
        return losses.numpy(), tape.gradient(losses, point).numpy()

    per_call = [expected(scale) for scale in CyclingScale.SCALES * 2]
    run = lambda x: apgd.loss_and_gradient(model_fn, apgd.cross_entropy, x, y, y, samples=5)
    if mode != "eager":
        run = tf.function(run, jit_compile=mode == "xla")
    losses, gradient, fooled = run(tf.constant(x))
    np.testing.assert_allclose(
        gradient.numpy(), np.mean([g for _, g in per_call[:5]], axis=0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(losses.numpy(), per_call[4][0], rtol=1e-5)
    np.testing.assert_array_equal(fooled.numpy(), predict(-0.5 * x) != y)
    assert int(model_fn.calls.numpy()) == 5


@pytest.mark.parametrize("norm", ["inf", 2])
@pytest.mark.parametrize(
    "attack", [kq.attacks.APGDCE(), kq.attacks.APGDT(), kq.attacks.APGDCE(eot_samples=3)]
)
def test_apgd_breaks_exactly_the_examples_closer_than_epsilon(attack, norm):
    x, y, below = clear_cases(norm)
    assert 0 < below.sum() < len(x)
    threat = kq.ops.threat_model(EPSILON[norm], norm, 0.0, 1.0)
    x_adv = attack.generate(affine, x, y, threat, seed=0)
    np.testing.assert_array_equal(predict(x_adv) != y, below)
    assert_in_threat_model(x, x_adv, threat)
    # Examples the attack does not break come back unchanged.
    np.testing.assert_array_equal(x_adv[~below], x[~below])


@pytest.mark.parametrize("norm", ["inf", 2])
def test_apgd_dlr_with_restarts_breaks_exactly_the_examples_closer_than_epsilon(norm):
    # The DLR loss is not concave even on an affine model (a ratio, and a max
    # over classes): from one random start a run can stall, as it does here on
    # one example per norm; five restarts reach every close example.
    x, y, below = clear_cases(norm)
    threat = kq.ops.threat_model(EPSILON[norm], norm, 0.0, 1.0)
    x_adv = kq.attacks.APGDDLR(restarts=5).generate(affine, x, y, threat, seed=0)
    np.testing.assert_array_equal(predict(x_adv) != y, below)
    assert_in_threat_model(x, x_adv, threat)


def test_apgd_dlr_does_not_depend_on_the_scale_of_the_logits():
    x, y, _ = clear_cases("inf", count=32)
    threat = kq.ops.threat_model(EPSILON["inf"], "inf", 0.0, 1.0)
    attack = kq.attacks.APGDDLR(steps=20)
    scaled = attack.generate(lambda x: 10.0 * affine(x), x, y, threat, seed=0)
    np.testing.assert_allclose(scaled, attack.generate(affine, x, y, threat, seed=0), atol=1e-6)


def test_seeded_runs_are_identical_and_restarts_never_hurt():
    x, y, _ = clear_cases("inf", count=64)
    threat = kq.ops.threat_model(EPSILON["inf"], "inf", 0.0, 1.0)
    attack = kq.attacks.APGDCE(steps=10)
    first = attack.generate(affine, x, y, threat, seed=3)
    np.testing.assert_array_equal(first, attack.generate(affine, x, y, threat, seed=3))
    assert not np.array_equal(first, attack.generate(affine, x, y, threat, seed=4))
    restarted = kq.attacks.APGDCE(steps=10, restarts=3).generate(affine, x, y, threat, seed=3)
    broken_once, broken_restarted = predict(first) != y, predict(restarted) != y
    assert np.all(broken_restarted[broken_once])
    np.testing.assert_array_equal(restarted[broken_once], first[broken_once])


@pytest.mark.parametrize("norm", ["inf", 2])
def test_eager_graph_and_xla_agree(norm):
    x, y, _ = clear_cases(norm, count=16)
    threat = kq.ops.threat_model(EPSILON[norm], norm, 0.0, 1.0)
    attack = kq.attacks.APGDT(steps=8, target_classes=2)
    graph = attack.generate(affine, x, y, threat, seed=1)
    tf.config.run_functions_eagerly(True)
    try:
        eager = attack.generate(affine, x, y, threat, seed=1)
    finally:
        tf.config.run_functions_eagerly(False)
    xla = kq.attacks.APGDT(steps=8, target_classes=2, jit_compile=True).generate(
        affine, x, y, threat, seed=1
    )
    np.testing.assert_allclose(eager, graph, rtol=0, atol=1e-6)
    # XLA rounds differently; what it breaks must not change.
    np.testing.assert_array_equal(predict(xla) != y, predict(graph) != y)
    assert_in_threat_model(x, xla, threat)


# A tiny non-convex classifier whose logits and input gradient NumPy computes
# exactly: a tanh MLP on 4x4x1 images, 5 classes (targeted DLR needs 4).
_MLP_RNG = np.random.default_rng(0)
MLP_WEIGHTS = [
    _MLP_RNG.normal(size=(16, 16)).astype(np.float32),
    (0.3 * _MLP_RNG.normal(size=16)).astype(np.float32),
    _MLP_RNG.normal(size=(16, 5)).astype(np.float32),
    (0.3 * _MLP_RNG.normal(size=5)).astype(np.float32),
]
# Images on the 1/256 grid with dark and bright pixels at the box, and an
# epsilon of 1/8: x +- epsilon and every step 2^-j epsilon are exact in float32.
MLP_IMAGES = (np.round(256 * _MLP_RNG.uniform(-0.2, 1.2, size=(32, 4, 4, 1))) / 256).clip(0, 1)
MLP_IMAGES = MLP_IMAGES.astype(np.float32)
MLP_EPSILON = 0.125


def mlp_keras():
    model = keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(5),
        ]
    )
    model.set_weights(MLP_WEIGHTS)
    return model


def mlp_numpy(x):
    """Logits of the MLP in float64 at flat inputs `x`, and the map from a
    gradient with respect to the logits to the gradient with respect to `x`."""
    w1, b1, w2, b2 = (w.astype(np.float64) for w in MLP_WEIGHTS)
    hidden = np.tanh(x @ w1 + b1)

    def input_gradient(logit_gradient):
        return (logit_gradient @ w2.T * (1.0 - hidden**2)) @ w1.T

    return hidden @ w2 + b2, input_gradient


def numpy_cross_entropy(logits, y, target):
    """The cross-entropy with the true class and its gradient in the logits."""
    del target
    rows = np.arange(len(y))
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    gradient = probabilities.copy()
    gradient[rows, y] -= 1.0
    return -np.log(probabilities[rows, y]), gradient


def numpy_targeted_dlr(logits, y, target):
    """`-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)` and its gradient in the
    logits (the sorted order is locally constant: no ties here)."""
    rows = np.arange(len(y))
    order = np.argsort(-logits, axis=1)
    difference = logits[rows, y] - logits[rows, target]
    scale = logits[rows, order[:, 0]] - 0.5 * (
        logits[rows, order[:, 2]] + logits[rows, order[:, 3]]
    )
    gradient = np.zeros_like(logits)
    gradient[rows, y] -= 1.0 / scale
    gradient[rows, target] += 1.0 / scale
    for column, weight in ((0, 1.0), (2, -0.5), (3, -0.5)):
        gradient[rows, order[:, column]] += weight * difference / scale**2
    return -difference / scale, gradient


def authors_apgd(loss, x, y, target, x_start, epsilon, n_iter, restart_loss="previous"):
    """The l_inf loop of the authors' `APGDAttack.attack_single_run`
    (fra31/auto-attack, `autoattack/autopgd_base.py`, with its
    `check_oscillation`) on the MLP in float64, from `x_start`, under the
    code's names where it has them.

    With `restart_loss="best"`, the paper's bookkeeping instead of the code's:
    after a restart from the best point, the next loss is compared with the
    best loss, not with the loss of the iterate before the restart.

    Returns a dict of per-example `best`, `best_loss`, `step`, `fooled` (at
    some iterate), `halvings`, and `moving_restarts`, the restarts from a best
    point other than the current iterate.
    """
    x = x.reshape(len(x), -1).astype(np.float64)

    def criterion_indiv(point):
        logits, input_gradient = mlp_numpy(point)
        losses, logit_gradient = loss(logits, y, target)
        return losses, input_gradient(logit_gradient), logits.argmax(axis=1) != y

    def project(point):
        return np.clip(np.clip(point, x - epsilon, x + epsilon), 0.0, 1.0)

    n_iter_2, n_iter_min = max(int(0.22 * n_iter), 1), max(int(0.06 * n_iter), 1)
    size_decr = max(int(0.03 * n_iter), 1)
    x_adv = np.clip(x_start.reshape(x.shape).astype(np.float64), 0.0, 1.0)
    x_best = x_adv.copy()
    loss_steps = np.zeros([n_iter, len(x)])
    loss_indiv, grad, fooled = criterion_indiv(x_adv)
    grad_best, loss_best = grad.copy(), loss_indiv.copy()
    step_size = np.full([len(x), 1], 2.0 * epsilon)
    x_adv_old = x_adv.copy()
    k, counter3 = n_iter_2, 0
    loss_best_last_check = loss_best.copy()
    reduced_last_check = np.ones(len(x), bool)
    halvings, moving_restarts = np.zeros(len(x), int), np.zeros(len(x), int)
    for i in range(n_iter):
        grad2 = x_adv - x_adv_old
        x_adv_old = x_adv.copy()
        a = 0.75 if i > 0 else 1.0
        x_adv_1 = project(x_adv + step_size * np.sign(grad))
        x_adv = project(x_adv + (x_adv_1 - x_adv) * a + grad2 * (1 - a))
        loss_indiv, grad, misclassified = criterion_indiv(x_adv)
        fooled |= misclassified
        loss_steps[i] = loss_indiv
        ind = loss_indiv > loss_best
        x_best[ind], grad_best[ind], loss_best[ind] = x_adv[ind], grad[ind], loss_indiv[ind]
        counter3 += 1
        if counter3 == k:
            # check_oscillation; at the first checkpoint (i = k - 1) it compares
            # the first loss with loss_steps[-1], the last row, still 0.
            increases = sum(loss_steps[i - j] > loss_steps[i - j - 1] for j in range(k))
            fl_oscillation = increases <= k * 0.75
            fl_reduce_no_impr = ~reduced_last_check & (loss_best_last_check >= loss_best)
            fl_oscillation |= fl_reduce_no_impr
            reduced_last_check = fl_oscillation
            loss_best_last_check = loss_best.copy()
            step_size[fl_oscillation] /= 2.0
            halvings += fl_oscillation
            moving_restarts += fl_oscillation & np.any(x_adv != x_best, axis=1)
            x_adv[fl_oscillation] = x_best[fl_oscillation]
            grad[fl_oscillation] = grad_best[fl_oscillation]
            if restart_loss == "best":
                loss_steps[i, fl_oscillation] = loss_best[fl_oscillation]
            k = max(k - size_decr, n_iter_min)
            counter3 = 0
    return dict(
        best=x_best.reshape(x_start.shape),
        best_loss=loss_best,
        step=step_size[:, 0],
        fooled=fooled,
        halvings=halvings,
        moving_restarts=moving_restarts,
    )


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
@pytest.mark.parametrize(
    "numpy_loss, loss",
    [(numpy_cross_entropy, apgd.cross_entropy), (numpy_targeted_dlr, apgd.targeted_dlr)],
    ids=["ce", "targeted_dlr"],
)
def test_apgd_runs_the_authors_loop(numpy_loss, loss, mode):
    # The native loop against `authors_apgd` from the same start. 50 iterations
    # have 5 checkpoints, so the step stays >= epsilon / 16; with 30 (15
    # checkpoints) the loss changes between iterates shrank to float32 rounding
    # and the halvings no longer matched float64.
    x, steps = MLP_IMAGES, 50
    logits, _ = mlp_numpy(x.reshape(len(x), -1).astype(np.float64))
    y = logits.argmax(axis=1)
    # APGD-T's first target: the highest-scoring other class.
    target = np.where(np.eye(5, dtype=bool)[y], -np.inf, logits).argmax(axis=1)
    threat = kq.ops.threat_model(MLP_EPSILON, "inf", 0.0, 1.0)
    start = apgd._random_start(tf.constant(x), threat, tf.constant([0, 0])).numpy()
    expected = authors_apgd(numpy_loss, x, y, target, start, MLP_EPSILON, steps)
    # Every example halves its step, restarts move iterates, and some example
    # is never fooled, so the native loop runs all its iterations.
    assert np.all(expected["halvings"] > 0) and expected["moving_restarts"].sum() > 0
    assert 0 < expected["fooled"].sum() < len(x)
    # The paper's bookkeeping halves more often here, so the step sizes below
    # would catch a return to it.
    paper = authors_apgd(numpy_loss, x, y, target, start, MLP_EPSILON, steps, restart_loss="best")
    assert paper["halvings"].sum() > expected["halvings"].sum()

    model = mlp_keras()
    run = lambda: apgd._iterate(
        model,
        loss,
        tf.constant(x),
        tf.constant(y),
        tf.constant(target),
        threat,
        tf.constant(start),
        steps,
        1,
    )
    if mode != "eager":
        run = tf.function(run, jit_compile=mode == "xla")
    final = {key: value.numpy() for key, value in run().items()}
    assert final["k"] == steps
    # Steps are 2^-j epsilon, exact in both precisions: the same halvings.
    np.testing.assert_array_equal(final["step"], expected["step"])
    np.testing.assert_array_equal(final["fooled"], expected["fooled"])
    # Measured: losses within 2e-5. A float32 sign of a near-zero gradient
    # component can move a pixel that barely changes the loss, by part of a
    # step (measured up to 3.7e-3; the smallest step is epsilon / 16).
    np.testing.assert_allclose(final["best_loss"], expected["best_loss"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(final["best"], expected["best"], rtol=0, atol=MLP_EPSILON / 16)


@pytest.mark.heavy
def test_apgd_on_a_cnn_is_at_least_as_strong_as_pgd(standard):
    _, model_fn, x, y = standard
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    pgd = kq.attacks.PGD(steps=20).generate(model_fn, x, y, threat, seed=0)
    apgd_ce = kq.attacks.APGDCE().generate(model_fn, x, y, threat, seed=0)
    apgd_t = kq.attacks.APGDT().generate(model_fn, x, y, threat, seed=0)

    def robust(x_adv):
        return np.argmax(model_fn(tf.constant(x_adv)).numpy(), -1) == y

    assert robust(apgd_ce).sum() <= robust(pgd).sum()
    assert robust(apgd_t).sum() <= robust(pgd).sum()
    assert_in_threat_model(x, apgd_ce, threat)
    assert_in_threat_model(x, apgd_t, threat)


@pytest.mark.parametrize(
    "attack, classes, message",
    [
        (
            kq.attacks.APGDDLR(),
            2,
            "APGDDLR's DLR loss needs a model with at least 3 classes. "
            "Received: a model with 2 classes",
        ),
        (
            kq.attacks.APGDT(),
            3,
            "APGDT's targeted DLR loss needs a model with at least 4 classes. "
            "Received: a model with 3 classes",
        ),
    ],
)
def test_dlr_losses_need_enough_classes(attack, classes, message):
    model_fn = lambda x: tf.matmul(x, WEIGHTS[:, :classes])
    threat = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        attack.generate(model_fn, POINTS[:2], [0, 1], threat)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kq.attacks.APGDCE(steps=0),
            "Expected `steps` to be an integer >= 1. Received: steps=0",
        ),
        (
            lambda: kq.attacks.APGDCE(restarts=0),
            "Expected `restarts` to be an integer >= 1. Received: restarts=0",
        ),
        (
            lambda: kq.attacks.APGDDLR(eot_samples=0),
            "Expected `eot_samples` to be an integer >= 1. Received: eot_samples=0",
        ),
        (
            lambda: kq.attacks.APGDT(target_classes=0),
            "Expected `target_classes` to be an integer >= 1. Received: target_classes=0",
        ),
        (
            lambda: kq.attacks.APGDT(jit_compile=1),
            "Expected `jit_compile` to be a bool. Received: jit_compile=1",
        ),
        (lambda: apgd.checkpoints(0), "Expected `steps` to be an integer >= 1. Received: steps=0"),
    ],
)
def test_bad_arguments_are_rejected_up_front(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
