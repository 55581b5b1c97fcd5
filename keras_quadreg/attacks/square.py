"""Square attack (Andriushchenko et al. 2020), l_inf, native to TensorFlow.

A score-based random search on the margin loss `z_y - max_{j != y} z_j`
(Algorithm 1 and the l_inf sampling of the paper):

- start from vertical stripes: each column of each channel moved by
  `+-epsilon` at random, clipped to the box;
- at query `i`, draw a square window of side `s_i = round(sqrt(p_i h w))`
  at a uniformly random position of each image, set the perturbation of
  each channel in it to `+-epsilon` (one random sign per channel), and keep
  the candidate if it lowers the margin loss;
- `p_i` starts at `p_init = 0.8` and halves when `i`, rescaled to a budget
  of 10000 queries, passes 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000.

An example stops as soon as it is misclassified. The start is the first
query, so no example uses more than `queries` model outputs; the examples
already broken stay in the batch, and their outputs are neither used nor
counted. The search is one `tf.while_loop` inside one `tf.function`, with
stateless Philox randomness.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.attacks.base import Attack
from keras_quadreg.attacks.base import expected_retracing
from keras_quadreg.ops import _batch

# Query counts (on a budget of 10000) after which p halves, from the paper.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square_sizes(queries, p_init, height, width):
    """Side of the square at each query `1, ..., queries - 1` (query 0 is the start).

    Example:

    ```python
    kq.attacks.square.square_sizes(5000, 0.8, 28, 28)[:3]  # [25, 25, 25]
    ```

    Args:
        queries: The query budget, >= 1.
        p_init: Initial fraction of the image the square covers, in (0, 1].
        height: Image height.
        width: Image width.

    Returns:
        A list of `queries - 1` ints in `[1, min(height, width)]`.
    """
    sizes = []
    for i in range(1, queries):
        rescaled = int(i / queries * 10000)
        p = p_init / 2 ** sum(rescaled > h for h in _HALVINGS)
        side = max(int(round(np.sqrt(p * height * width))), 1)
        sizes.append(min(side, height, width))
    return sizes


def _margin(logits, y):
    true = tf.gather(logits, y, batch_dims=1)
    others = tf.where(tf.one_hot(y, tf.shape(logits)[-1]) > 0, -np.inf, logits)
    return true - tf.reduce_max(others, axis=-1)


def square_linf(model_fn, x, y, threat_model, seed, queries, p_init):
    """The l_inf Square attack on a batch of images, as TensorFlow ops.

    Args:
        model_fn: Callable from a batch of images `(batch, h, w, c)` to logits.
        x: Clean images, float32 `(batch, h, w, c)`.
        y: True classes, int64 `(batch,)`.
        threat_model: An l_inf `kq.ops.ThreatModel`.
        seed: Stateless seed, int32 `(2,)`.
        queries: Query budget per example, a Python int >= 1.
        p_init: Initial fraction of the image a square covers.

    Returns:
        `(x_adv, fooled, queries_used)`, per example.
    """
    _, height, width, channels = x.shape
    sizes = tf.constant(square_sizes(queries, p_init, height, width), tf.int32)
    epsilon = threat_model.epsilon
    batch = tf.shape(x)[0]

    def margin(point):
        return _margin(tf.cast(model_fn(point), tf.float32), y)

    def signs(shape, key):
        draw = tf.random.stateless_uniform(shape, key, 0, 2, tf.int32, alg="philox")
        return tf.cast(2 * draw - 1, tf.float32)

    def where(condition, a, b):
        return tf.where(_batch.broadcast(condition, a), a, b)

    start_key, loop_key = tf.unstack(
        tf.random.experimental.stateless_split(seed, 2, alg="philox")
    )
    stripes = signs([batch, 1, width, channels], start_key)
    start = threat_model.project(x, x + epsilon * stripes)
    start_margin = margin(start)
    rows = tf.range(height)[None, :, None, None]
    columns = tf.range(width)[None, None, :, None]

    def body(i, best, best_margin, used):
        active = best_margin > 0
        side = sizes[i - 1]
        keys = tf.unstack(tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(loop_key, i, alg="philox"), 3, alg="philox"
        ))
        top = tf.random.stateless_uniform([batch], keys[0], 0, height - side + 1, tf.int32,
                                          alg="philox")
        left = tf.random.stateless_uniform([batch], keys[1], 0, width - side + 1, tf.int32,
                                           alg="philox")
        top, left = top[:, None, None, None], left[:, None, None, None]
        window = (rows >= top) & (rows < top + side) & (columns >= left) & (columns < left + side)
        vertex = x + epsilon * signs([batch, 1, 1, channels], keys[2])
        candidate = threat_model.clip(tf.where(window, vertex, best))
        candidate_margin = margin(candidate)
        better = active & (candidate_margin < best_margin)
        return (
            i + 1,
            where(better, candidate, best),
            tf.where(better, candidate_margin, best_margin),
            used + tf.cast(active, tf.int32),
        )

    def more(i, best, best_margin, used):
        return (i < queries) & tf.reduce_any(best_margin > 0)

    _, best, best_margin, used = tf.while_loop(
        more, body, (tf.constant(1), start, start_margin, tf.ones([batch], tf.int32))
    )
    return best, best_margin <= 0, used


class Square(Attack):
    """Square attack: score-based random search in the l_inf ball.

    The last attack of the standard AutoAttack (Andriushchenko et al. 2020):
    it only reads the model's scores, so gradient masking does not stop it.
    See the module `kq.attacks.square` for the exact algorithm. Needs image
    batches `(batch, height, width, channels)`. Only the examples the model
    classifies correctly are attacked; those the attack does not break are
    returned unchanged. After `generate`, `queries_used` holds the model
    outputs each example used (0 for examples misclassified already).

    Example:

    ```python
    threat = kq.ops.threat_model("inf", 0.3, clip_min=0.0, clip_max=1.0)
    x_adv = kq.attacks.Square(queries=5000).generate(model_fn, x, y, threat, seed=0)
    ```

    Args:
        queries: Query budget per example, >= 1 (the start is one query).
        p_init: Initial fraction of the image a square covers, in (0, 1].
        jit_compile: Whether to compile the search with XLA (one
            compilation per distinct number of examples attacked).
        name: Key in reports.
    """

    norms = ("inf",)
    gradient_free = True

    def __init__(self, queries=5000, p_init=0.8, jit_compile=False, name=None):
        super().__init__(name=name)
        self.queries = _validation.integer("queries", queries, minimum=1)
        p_init = _validation.positive_number("p_init", p_init)
        if p_init > 1.0:
            raise ValueError(
                "Expected `p_init` (the fraction of the image the first squares cover) to be "
                f"in (0, 1]. Received: p_init={p_init!r}"
            )
        self.p_init = p_init
        if not isinstance(jit_compile, bool):
            raise ValueError(
                f"Expected `jit_compile` to be a bool. Received: jit_compile={jit_compile!r}"
            )
        self.jit_compile = jit_compile
        #: Per example, the model outputs the last `generate` used.
        self.queries_used = None

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        if x.ndim != 4:
            raise ValueError(
                "The Square attack needs image batches (batch, height, width, channels). "
                f"Received: x.shape={x.shape}"
            )
        signature = [
            tf.TensorSpec((None, *x.shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((2,), tf.int32),
        ]

        @tf.function(input_signature=signature, jit_compile=self.jit_compile)
        def run(x, y, run_seed):
            return square_linf(model_fn, x, y, threat_model, run_seed, self.queries, self.p_init)

        predict = tf.function(model_fn, input_signature=signature[:1])
        out = x.copy()
        used = np.zeros(len(x), np.int64)
        progress = keras.utils.Progbar(len(x), verbose=verbose, unit_name="example")
        with expected_retracing():
            for number, start in enumerate(range(0, len(x), batch_size)):
                end = min(start + batch_size, len(x))
                xb, yb = x[start:end], y[start:end]
                correct = np.argmax(predict(tf.constant(xb)).numpy(), axis=-1) == yb
                index = np.flatnonzero(correct)
                if len(index):
                    x_adv, fooled, queries = run(
                        tf.constant(xb[index]), tf.constant(yb[index]),
                        tf.constant([seed, number], tf.int32),
                    )
                    fooled = fooled.numpy()
                    out[start + index[fooled]] = x_adv.numpy()[fooled]
                    used[start + index] = queries.numpy()
                progress.update(end)
        self.queries_used = used
        return out

    def get_config(self):
        return {**super().get_config(), "queries": self.queries, "p_init": self.p_init,
                "jit_compile": self.jit_compile}
