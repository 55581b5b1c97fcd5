import re

import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.attacks import square

# An affine 10-class model on 8x8 one-channel images.
_RNG = np.random.default_rng(0)
WEIGHTS = _RNG.normal(size=(64, 10)).astype(np.float32)
IMAGES = _RNG.uniform(0.0, 1.0, size=(48, 8, 8, 1)).astype(np.float32)
LABELS = np.argmax(IMAGES.reshape(48, -1) @ WEIGHTS, axis=-1)
THREAT = kq.ops.threat_model(0.05, "inf", 0.0, 1.0)
L2_THREAT = kq.ops.threat_model(0.3, 2, 0.0, 1.0)


def affine(x):
    return tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), WEIGHTS)


def predict(x):
    return np.argmax(x.reshape(len(x), -1) @ WEIGHTS, axis=-1)


def test_square_sizes_follow_the_codes_schedule_without_rescaling():
    # AutoAttack's Square: p halves after iterations 10, 50, 200, ... whatever the budget.
    sizes = square.square_sizes(5000, 0.8, 28, 28)
    assert len(sizes) == 5000
    # round(sqrt(p * 784)) for p = 0.8, 0.4, 0.2, 0.1, ..., 0.8 / 64, then 0.8 / 128 after 4000.
    assert sizes[:11] == [25] * 11 and sizes[11] == 18
    assert sizes[50] == 18 and sizes[51] == 13 and sizes[200] == 13 and sizes[201] == 9
    assert sizes[4000] == 3 and sizes[4001] == 2 and sizes[-1] == 2
    assert square.square_sizes(20, 0.8, 28, 28) == [25] * 11 + [18] * 9
    # Never larger than the image.
    assert square.square_sizes(10000, 1.0, 4, 9)[0] == 4


def test_l2_square_sizes_are_odd_and_at_least_three():
    sizes = square.square_sizes(5000, 0.8, 28, 28, norm=2)
    # round(sqrt(p * 784)) made odd: 25 (p = 0.8), 18 -> 19, 13, 9, then at least 3.
    assert sizes[0] == 25 and sizes[11] == 19 and sizes[51] == 13 and sizes[201] == 9
    assert sizes[-1] == 3 and all(s % 2 == 1 for s in sizes)
    assert square.square_sizes(100, 0.8, 2, 9, norm=2) == [2] * 100


@pytest.mark.parametrize("length, side, starts", [(8, 3, range(5)), (8, 7, [0]), (8, 8, [0])])
def test_windows_start_where_the_codes_draw_puts_them(length, side, starts):
    # `random_int(0, h - s)` in the code: 0, ..., h - s - 1, or 0 when s = h.
    draws = square._window_starts(4000, length, side, tf.constant([0, 1])).numpy().ravel()
    assert sorted(set(draws.tolist())) == list(starts)


def test_l2_pattern_has_unit_norm_and_two_opposite_halves():
    pattern = square.l2_pattern(5)
    assert pattern.shape == (5, 5)
    np.testing.assert_allclose(np.sum(pattern**2), 1.0, rtol=1e-6)
    # Two rows above, three below, each of norm 1 / sqrt(2) before the last normalization.
    assert np.all(pattern[:2] > 0) and np.all(pattern[2:] < 0)
    np.testing.assert_allclose(np.sum(pattern[:2] ** 2), 0.5, rtol=1e-6)
    # Concentric rectangles weighted 1 / (k + 1)^2: the centre 1 + 1/4 + 1/9,
    # the ring 1/4 + 1/9, the border 1/9.
    np.testing.assert_allclose(pattern[1, [2, 1, 0]] / pattern[1, 0], [49 / 4, 13 / 4, 1])
    np.testing.assert_allclose(square.l2_pattern(1), [[-1.0]])


@pytest.mark.parametrize("threat, order", [(THREAT, np.inf), (L2_THREAT, 2)])
def test_square_breaks_examples_inside_ball_and_box_and_repeats_with_a_seed(threat, order):
    attack = kq.attacks.Square(queries=300)
    x_adv = attack.generate(affine, IMAGES, LABELS, threat, seed=0)
    broken = predict(x_adv) != LABELS
    assert 0 < broken.sum() < len(x_adv)
    delta = np.linalg.norm((x_adv - IMAGES).reshape(len(x_adv), -1), ord=order, axis=1)
    assert np.all(delta <= threat.epsilon * (1 + 1e-5))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    np.testing.assert_array_equal(x_adv[~broken], IMAGES[~broken])
    used = attack.queries_used
    assert np.all(used[~broken] == 301) and np.all((used[broken] >= 1) & (used[broken] <= 301))
    np.testing.assert_array_equal(x_adv, attack.generate(affine, IMAGES, LABELS, threat, seed=0))
    np.testing.assert_array_equal(used, attack.queries_used)
    assert not np.array_equal(x_adv, attack.generate(affine, IMAGES, LABELS, threat, seed=1))


def test_l2_square_queries_stay_in_the_ball_and_the_box():
    # Every point the search queries, not only those returned.
    queried = []

    def recording(x):
        queried.append(x)
        return affine(x)

    tf.config.run_functions_eagerly(True)
    try:
        kq.attacks.Square(queries=40).generate(recording, IMAGES[:8], LABELS[:8], L2_THREAT, seed=0)
    finally:
        tf.config.run_functions_eagerly(False)
    # The class count and the clean prediction, then the 8 examples (all classified correctly).
    assert len(queried) > 3
    for points in queried[2:]:
        points = points.numpy()
        norms = np.linalg.norm((points - IMAGES[:8]).reshape(8, -1), axis=1)
        assert np.all(norms <= L2_THREAT.epsilon * (1 + 1e-5))
        assert points.min() >= 0.0 and points.max() <= 1.0


@pytest.mark.parametrize("threat", [THREAT, L2_THREAT])
def test_square_queries_the_start_and_then_its_budget(threat):
    calls = []

    def counting(x):
        calls.append(int(x.shape[0]))
        return affine(x)

    # A single example the attack cannot break: every query is spent on it.
    margins = IMAGES.reshape(48, -1) @ WEIGHTS
    top2 = np.sort(margins, axis=-1)[:, -2:]
    robust = int(np.argmax(top2[:, 1] - top2[:, 0]))
    tf.config.run_functions_eagerly(True)
    try:
        attack = kq.attacks.Square(queries=25)
        x_adv = attack.generate(
            counting, IMAGES[robust : robust + 1], LABELS[robust : robust + 1], threat, seed=0
        )
    finally:
        tf.config.run_functions_eagerly(False)
    assert predict(x_adv)[0] == LABELS[robust]
    # The class count and the clean prediction, then the start and the 25 iterations.
    assert len(calls) == 2 + 26 and attack.queries_used.tolist() == [26]


@pytest.mark.parametrize("threat", [THREAT, L2_THREAT])
def test_eager_graph_and_xla_agree(threat):
    graph = kq.attacks.Square(queries=50).generate(affine, IMAGES, LABELS, threat, seed=2)
    xla = kq.attacks.Square(queries=50, jit_compile=True).generate(
        affine, IMAGES, LABELS, threat, seed=2
    )
    tf.config.run_functions_eagerly(True)
    try:
        eager = kq.attacks.Square(queries=50).generate(affine, IMAGES, LABELS, threat, seed=2)
    finally:
        tf.config.run_functions_eagerly(False)
    np.testing.assert_array_equal(predict(xla) != LABELS, predict(graph) != LABELS)
    np.testing.assert_array_equal(predict(eager) != LABELS, predict(graph) != LABELS)
    np.testing.assert_allclose(xla, graph, atol=1e-6)
    np.testing.assert_allclose(eager, graph, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kq.attacks.Square(queries=0),
            "Expected `queries` to be an integer >= 1. Received: queries=0",
        ),
        (
            lambda: kq.attacks.Square(p_init=1.5),
            "Expected `p_init` (the fraction of the image the first squares cover) to be in "
            "(0, 1]. Received: p_init=1.5",
        ),
        (
            lambda: kq.attacks.Square(p_init=0),
            "Expected `p_init` to be a finite positive number. Received: p_init=0",
        ),
        (
            lambda: kq.attacks.Square(jit_compile="yes"),
            "Expected `jit_compile` to be a bool. Received: jit_compile='yes'",
        ),
        (
            lambda: kq.attacks.Square().generate(affine, IMAGES.reshape(48, -1), LABELS, THREAT),
            "The Square attack needs image batches (batch, height, width, channels). "
            "Received: x.shape=(48, 64)",
        ),
        (
            lambda: square.square_sizes(10, 0.8, 8, 8, norm=1),
            'Expected `norm` to be "inf" (or np.inf) or 2. Received: norm=1',
        ),
        (lambda: square.l2_pattern(0), "Expected `side` to be an integer >= 1. Received: side=0"),
    ],
)
def test_bad_arguments_are_rejected(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
