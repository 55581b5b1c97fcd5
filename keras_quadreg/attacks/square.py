"""Square attack (Andriushchenko et al. 2020), l_inf and l_2, native to
TensorFlow.

A score-based random search on the margin loss `z_y - max_{j != y} z_j`
(Algorithm 1 of the paper), with its two samplings:

- l_inf: start from vertical stripes, each column of each channel moved
  by `+-epsilon` at random; at query `i`, draw a square window of side
  `s_i = round(sqrt(p_i h w))` at a uniformly random position of each
  image and set the perturbation of each channel in it to `+-epsilon`
  (one random sign per channel).
- l_2: start from a grid of squares of side `min(h, w) // 5`, each holding
  the paper's pattern (below) with a random sign per channel, rescaled to
  norm epsilon. At query `i`, draw two windows of side `s_i` (at least 3,
  odd); per channel, the perturbation in the first becomes the pattern
  plus the current perturbation there (both at unit norm), scaled so that
  it holds the mass of both windows plus an equal share of the budget
  not yet used, and the second window is emptied; the whole perturbation
  is then rescaled to norm epsilon. The pattern of side `s` is two
  stacked halves of opposite sign, each a sum of concentric rectangles
  weighted `1 / (k + 1)^2` at Chebyshev distance `<= k` from its centre,
  normalized, and transposed at random.

Every candidate is clipped to the box; it is kept if it lowers the margin
loss. `p_i` starts at `p_init = 0.8` and halves after query 10, 50, 200,
500, 1000, 2000, 4000, 6000 and 8000.

Where the paper and the authors' code (fra31/auto-attack, `square.py`, as
AutoAttack configures it) differ, this module follows the code:

- The schedule of `p` is not rescaled to the query budget: AutoAttack
  runs Square with `resc_schedule=False`, so with 5000 queries `p` halves
  after query 10, 50, ..., 4000, as for 10000 (the paper's Algorithm
  rescales it, which shrinks the squares twice as fast).
- `queries` counts the iterations after the start, so an example uses up
  to `queries + 1` model outputs.
- A window of side `s` starts at a row (and column) drawn from
  `0, ..., h - s - 1` (0 when `s = h`), as the code's `random_int(0, h - s)`
  draws: a window never touches the last row or column unless it spans
  the image.

The code draws one window, one set of signs (and for l_2 one transposition
of the pattern) per query for the whole batch; here each example draws its
own, so that an example's result does not depend on the other examples of
its batch. The draws of each example have the same distribution as the
code's.

An example stops as soon as it is misclassified; the examples already
broken stay in the batch, and their outputs are neither used nor counted.
The search is one `tf.while_loop` inside one `tf.function`, with stateless
Philox randomness.
"""

import numpy as np
import tensorflow as tf

from keras_quadreg import _batch, _validation
from keras_quadreg.attacks import _runner
from keras_quadreg.attacks.registry import register

# Query counts (on a budget of 10000) after which p halves, from the paper.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
# Smallest side of an l_2 window: its pattern needs two halves and a centre.
_L2_MIN_SIDE = 3
# Guards the normalizations of the l_2 update.
_TINY = 1e-12


def square_sizes(queries, p_init, height, width, norm="inf"):
    """Side of the square at each iteration `0, ..., queries - 1` after the start.

    `round(sqrt(p_i * height * width))`, at least 1; for l_2 at least 3
    and odd, as its pattern needs. Never more than `min(height, width)`.
    `p_i = p_init / 2^j`, `j` the number of the halving points 10, 50,
    200, 500, 1000, 2000, 4000, 6000, 8000 below `i`, whatever the budget
    (as AutoAttack runs the authors' code).

    Example:

    ```python
    kq.attacks.square.square_sizes(5000, 0.8, 28, 28)[:3]  # [25, 25, 25]
    ```

    Args:
        queries: Iterations after the start, >= 1.
        p_init: Initial fraction of the image the square covers, in (0, 1].
        height: Image height.
        width: Image width.
        norm: `"inf"` or `2` (or what `kq.ops.threat_model` accepts).

    Returns:
        A list of `queries` ints in `[1, min(height, width)]`.
    """
    norm = _validation.norm(norm)
    sizes = []
    for i in range(queries):
        p = p_init / 2 ** sum(i > h for h in _HALVINGS)
        side = max(int(round(np.sqrt(p * height * width))), 1)
        if norm == 2:
            side = max(side, _L2_MIN_SIDE)
            side += 1 - side % 2
        sizes.append(min(side, height, width))
    return sizes


def _rectangles(rows, columns):
    """Concentric rectangles around the centre of a `rows x columns` block,
    the one at Chebyshev distance `k` weighted `1 / (k + 1)^2`, normalized."""
    distance = np.maximum(
        np.abs(np.arange(rows)[:, None] - rows // 2),
        np.abs(np.arange(columns)[None, :] - columns // 2),
    )
    weights = 1.0 / np.arange(1, max(rows // 2, columns // 2) + 2) ** 2
    # Each cell sums the weights of the rectangles that contain it.
    block = np.cumsum(weights[::-1])[::-1][distance]
    return block / np.sqrt(np.sum(block**2))


def l2_pattern(side):
    """The l_2 Square attack's unit-norm pattern of a `side x side` window:
    `_rectangles` on the top `side // 2` rows, their negation below.

    Example:

    ```python
    pattern = kq.attacks.square.l2_pattern(5)  # shape (5, 5), norm 1
    ```

    Args:
        side: Side of the window, >= 1.

    Returns:
        A float32 array `(side, side)`.
    """
    side = _validation.integer("side", side, minimum=1)
    halves = [np.zeros((0, side))] if side // 2 == 0 else [_rectangles(side // 2, side)]
    pattern = np.concatenate([halves[0], -_rectangles(side - side // 2, side)])
    return (pattern / np.sqrt(np.sum(pattern**2))).astype(np.float32)


def _margin(logits, y):
    true = tf.gather(logits, y, batch_dims=1)
    others = tf.where(tf.one_hot(y, tf.shape(logits)[-1]) > 0, -np.inf, logits)
    return true - tf.reduce_max(others, axis=-1)


def _signs(shape, key):
    draw = tf.random.stateless_uniform(shape, key, 0, 2, tf.int32, alg="philox")
    return tf.cast(2 * draw - 1, tf.float32)


def _positions(batch, limit, key):
    """Per example, a uniform draw from `0, ..., limit - 1`, shaped `(batch, 1, 1, 1)`."""
    draw = tf.random.stateless_uniform([batch], key, 0, limit, tf.int32, alg="philox")
    return draw[:, None, None, None]


def _window_starts(batch, length, side, key):
    """Per example, the first row (or column) of a window of `side` pixels in
    `length`: uniform in `0, ..., length - side - 1`, or 0 when the window
    spans `length`, as the authors' code draws it."""
    return _positions(batch, tf.maximum(length - side, 1), key)


def _search(model_fn, x, y, start, propose, seed, queries):
    """Algorithm 1 of the paper: from `start`, `queries` candidates
    `propose(i, best, key)`, `i = 0, ..., queries - 1`, each kept where it
    lowers the margin loss."""
    batch = tf.shape(x)[0]

    def margin(point):
        return _margin(tf.cast(model_fn(point), tf.float32), y)

    def body(i, best, best_margin, used):
        active = best_margin > 0
        candidate = propose(
            i, best, tf.random.experimental.stateless_fold_in(seed, i, alg="philox")
        )
        candidate_margin = margin(candidate)
        better = active & (candidate_margin < best_margin)
        return (
            i + 1,
            tf.where(_batch.broadcast(better, candidate), candidate, best),
            tf.where(better, candidate_margin, best_margin),
            used + tf.cast(active, tf.int32),
        )

    def more(i, best, best_margin, used):
        return (i < queries) & tf.reduce_any(best_margin > 0)

    _, best, best_margin, used = tf.while_loop(
        more, body, (tf.constant(0), start, margin(start), tf.ones([batch], tf.int32))
    )
    return best, best_margin <= 0, used


def square_search(model_fn, x, y, threat_model, seed, queries, p_init):
    """The Square attack on a batch of images, as TensorFlow ops.

    Args:
        model_fn: Callable from a batch of images `(batch, h, w, c)` to logits.
        x: Clean images, float32 `(batch, h, w, c)`.
        y: True classes, int64 `(batch,)`.
        threat_model: An l_inf or l_2 `kq.ops.ThreatModel`.
        seed: Stateless seed, int32 `(2,)`.
        queries: Iterations after the start, a Python int >= 1.
        p_init: Initial fraction of the image a square covers.

    Returns:
        `(x_adv, fooled, queries_used)`, per example.
    """
    start_key, loop_key = tf.unstack(tf.random.experimental.stateless_split(seed, 2, alg="philox"))
    proposals = _linf_proposals if threat_model.norm == "inf" else _l2_proposals
    start, propose = proposals(x, threat_model, start_key, queries, p_init)
    return _search(model_fn, x, y, start, propose, loop_key, queries)


def _pixel_grid(x):
    """Row and column indices broadcastable against `x`'s images."""
    _, height, width, _ = x.shape
    return tf.range(height)[None, :, None, None], tf.range(width)[None, None, :, None]


def _linf_proposals(x, threat_model, key, queries, p_init):
    """The l_inf start (vertical stripes of +-epsilon) and proposal (a square
    window moved to a random vertex of the ball, one sign per channel)."""
    _, height, width, channels = x.shape
    sizes = tf.constant(square_sizes(queries, p_init, height, width), tf.int32)
    epsilon = threat_model.epsilon
    batch = tf.shape(x)[0]
    stripes = _signs([batch, 1, width, channels], key)
    start = threat_model.project(x, x + epsilon * stripes)
    rows, columns = _pixel_grid(x)

    def propose(i, best, key):
        side = sizes[i]
        keys = tf.unstack(tf.random.experimental.stateless_split(key, 3, alg="philox"))
        top = _window_starts(batch, height, side, keys[0])
        left = _window_starts(batch, width, side, keys[1])
        window = (rows >= top) & (rows < top + side) & (columns >= left) & (columns < left + side)
        vertex = x + epsilon * _signs([batch, 1, 1, channels], keys[2])
        return threat_model.clip(tf.where(window, vertex, best))

    return start, propose


def _l2_proposals(x, threat_model, key, queries, p_init):
    """The l_2 start (a grid of patterns) and proposal (the perturbation's
    mass of two windows moved into a fresh pattern in the first)."""
    _, height, width, channels = x.shape
    epsilon = threat_model.epsilon
    batch = tf.shape(x)[0]
    rows, columns = _pixel_grid(x)

    def unit_ball_point(delta):
        return threat_model.project(x, x + epsilon * _batch.safe_unit(delta))

    # The start: a grid of `side x side` cells, centred, each with its own
    # signs per channel and its own transposition of the pattern.
    side = max(min(height, width) // 5, 1)
    grid_rows, grid_columns = height // side, width // side
    pattern = l2_pattern(side)
    cell = np.full((height, width), -1)
    local = np.zeros((2, height, width), np.int64)
    top, left = (height - grid_rows * side) // 2, (width - grid_columns * side) // 2
    for r in range(grid_rows * side):
        for c in range(grid_columns * side):
            cell[top + r, left + c] = (r // side) * grid_columns + c // side
            local[:, top + r, left + c] = (r % side, c % side)
    inside = tf.constant((cell >= 0)[None, :, :, None], tf.float32)
    cell = tf.constant(np.maximum(cell, 0))
    keys = tf.unstack(tf.random.experimental.stateless_split(key, 2, alg="philox"))
    cells = grid_rows * grid_columns
    cell_signs = tf.gather(_signs([batch, cells, channels], keys[0]), cell, axis=1)
    flipped = tf.gather(_signs([batch, cells], keys[1]) > 0, cell, axis=1)[..., None]
    values = tf.where(
        flipped,
        pattern.T[local[0], local[1]][None, :, :, None],
        pattern[local[0], local[1]][None, :, :, None],
    )
    start = unit_ball_point(values * cell_signs * inside)

    sizes = square_sizes(queries, p_init, height, width, norm=2)
    distinct = sorted(set(sizes))
    largest = distinct[-1]
    # The patterns of every side used, padded to the largest.
    patterns = tf.constant(
        np.stack([np.pad(l2_pattern(s), [(0, largest - s), (0, largest - s)]) for s in distinct])
    )
    index = tf.constant([distinct.index(s) for s in sizes], tf.int32)
    sizes = tf.constant(sizes, tf.int32)

    def channel_norm(v):
        return tf.sqrt(tf.reduce_sum(tf.square(v), axis=[1, 2], keepdims=True))

    def propose(i, best, key):
        side = sizes[i]
        keys = tf.unstack(tf.random.experimental.stateless_split(key, 6, alg="philox"))
        top, left = (
            _window_starts(batch, length, side, k)
            for length, k in ((height, keys[0]), (width, keys[1]))
        )
        top_2, left_2 = (
            _window_starts(batch, length, side, k)
            for length, k in ((height, keys[2]), (width, keys[3]))
        )
        window = (rows >= top) & (rows < top + side) & (columns >= left) & (columns < left + side)
        window_2 = (
            (rows >= top_2)
            & (rows < top_2 + side)
            & (columns >= left_2)
            & (columns < left_2 + side)
        )
        # The pattern at each pixel of the first window, transposed per example.
        transpose = _positions(batch, 2, keys[4])[..., None] > 0
        local_row = tf.clip_by_value(rows - top + 0 * columns, 0, largest - 1)
        local_column = tf.clip_by_value(columns - left + 0 * rows, 0, largest - 1)
        at = tf.where(
            transpose,
            tf.stack([local_column, local_row], -1),
            tf.stack([local_row, local_column], -1),
        )
        fresh = tf.gather_nd(patterns[index[i]], at[..., 0, :])[..., None]
        fresh = fresh * _signs([batch, 1, 1, channels], keys[5])

        delta = best - x
        inside, either = tf.cast(window, tf.float32), tf.cast(window | window_2, tf.float32)
        unused = tf.maximum(epsilon**2 - _batch.broadcast(_batch.dot(delta, delta), delta), 0.0)
        mass = tf.sqrt(unused / channels + tf.square(channel_norm(delta * either)))
        moved = (fresh + delta * inside / (channel_norm(delta * inside) + _TINY)) * inside
        moved = moved / (channel_norm(moved) + _TINY) * mass
        return unit_ball_point(tf.where(window, moved, tf.where(window_2, 0.0, delta)))

    return start, propose


@register("square")
class Square(_runner.RobustExamplesAttack):
    """Square attack: score-based random search in the l_inf or l_2 ball.

    The last attack of the standard AutoAttack (Andriushchenko et al. 2020):
    it only reads the model's scores, so gradient masking does not stop it.
    See the module `kq.attacks.square` for the exact algorithm. Needs image
    batches `(batch, height, width, channels)`. Only the examples the model
    classifies correctly are attacked; those the attack does not break are
    returned unchanged. After `generate`, `queries_used` holds the model
    outputs each example used, the start included (at most `queries + 1`;
    0 for examples misclassified already).

    Example:

    ```python
    threat = kq.ops.threat_model(0.3, norm="inf", clip_min=0.0, clip_max=1.0)
    x_adv = kq.attacks.Square(queries=5000).generate(model_fn, x, y, threat, seed=0)
    l2_threat = kq.ops.threat_model(2.0, norm=2, clip_min=0.0, clip_max=1.0)
    x_adv = kq.attacks.Square(queries=5000).generate(model_fn, x, y, l2_threat, seed=0)
    ```

    Args:
        queries: Iterations after the start per example, >= 1 (AutoAttack's
            `n_queries`).
        p_init: Initial fraction of the image a square covers, in (0, 1].
        jit_compile: Whether to compile the search with XLA (one
            compilation per distinct number of examples attacked).
        name: Key in reports.
    """

    gradient_free = True
    restartable = False

    def __init__(self, queries=5000, p_init=0.8, jit_compile=False, name=None):
        super().__init__(jit_compile=jit_compile, name=name)
        self.queries = _validation.integer("queries", queries, minimum=1)
        p_init = _validation.positive_number("p_init", p_init)
        if p_init > 1.0:
            raise ValueError(
                "Expected `p_init` (the fraction of the image the first squares cover) to be "
                f"in (0, 1]. Received: p_init={p_init!r}"
            )
        self.p_init = p_init
        #: Per example, the model outputs the last `generate` used.
        self.queries_used = None

    def check_inputs(self, shape):
        if len(shape) != 4:
            raise ValueError(
                "The Square attack needs image batches (batch, height, width, channels). "
                f"Received: x.shape={tuple(shape)}"
            )

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        self.queries_used = np.zeros(len(x), np.int64)
        return super()._generate(model_fn, x, y, threat_model, seed, batch_size, verbose)

    def run_batch(self, model_fn, x, y, target, threat_model, seed):
        del target  # untargeted
        return square_search(model_fn, x, y, threat_model, seed, self.queries, self.p_init)

    def _record(self, index, queries_used):
        self.queries_used[index] = queries_used

    def get_config(self):
        return {**super().get_config(), "queries": self.queries, "p_init": self.p_init}
