import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.models import _checks
from tests.conftest import assert_two_replicas_match_one_device, literal_quadreg

SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _data(n=32, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6, 6, 1)).astype("float32"), rng.integers(0, classes, n)


def _layers():
    return [
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(3),
    ]


def _stack(x, layers, training=None):
    for layer in layers:
        x = layer(x, training=training) if training is not None else layer(x)
    return x


class Subclassed(kq.QuadRegModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stack = _layers()

    def call(self, x, training=False):
        return _stack(x, self.stack, training)


class PlainSubclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stack = _layers()

    def call(self, x, training=False):
        return _stack(x, self.stack, training)


def _build(kind, regularizer):
    if kind == "functional":
        inputs = keras.Input((6, 6, 1))
        return kq.QuadRegModel(inputs, _stack(inputs, _layers()), regularizer=regularizer)
    if kind == "subclassed":
        return Subclassed(regularizer=regularizer)
    if kind == "wrapped_sequential":
        return kq.QuadRegModel.wrap(
            keras.Sequential([keras.Input((6, 6, 1)), *_layers()]), regularizer
        )
    if kind == "wrapped_functional":
        inputs = keras.Input((6, 6, 1))
        return kq.QuadRegModel.wrap(keras.Model(inputs, _stack(inputs, _layers())), regularizer)
    return kq.QuadRegModel.wrap(PlainSubclassed(), regularizer, input_shape=(6, 6, 1))


KINDS = [
    "functional",
    "subclassed",
    "wrapped_sequential",
    "wrapped_functional",
    "wrapped_subclassed",
]
MODES = {
    "eager": dict(run_eagerly=True),
    "graph": dict(jit_compile=False),
    "xla": dict(jit_compile=True),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_fit_steps_for_every_kind_of_model_and_execution_mode(kind, mode):
    regularizer = literal_quadreg(epsilon=0.1, iterations=2, clip_min=0.0, clip_max=1.0)
    model = _build(kind, regularizer)
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"], **MODES[mode])
    x, y = _data()
    model(x[:1])
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=8, epochs=2, validation_data=(x, y), verbose=0).history
    assert list(history) == [
        "accuracy",
        "clean_loss",
        "loss",
        "quadratic_adversarial",
        "val_accuracy",
        "val_clean_loss",
        "val_loss",
    ]
    assert all(np.all(np.isfinite(v)) for v in history.values())
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    # loss = clean_loss + weight * penalty (no other losses here).
    np.testing.assert_allclose(
        history["loss"], np.add(history["clean_loss"], history["quadratic_adversarial"]), rtol=1e-5
    )


def test_progress_bar_order_puts_loss_terms_first():
    model = _build("functional", "gradient_norm")
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"])
    model.fit(*_data(8), verbose=0)
    assert [m.name for m in model.metrics][:3] == ["loss", "clean_loss", "gradient_norm"]


def test_save_and_load_round_trip(tmp_path):
    regularizer = literal_quadreg(
        epsilon=0.2,
        norm=2,
        iterations=3,
        step_rule="line_search",
        hvp="forward_over_reverse",
        weight=0.5,
        second_order_weight=2.0,
        clip_min=0.0,
        clip_max=1.0,
    )
    model = _build("functional", regularizer)
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"])
    x, y = _data()
    model.fit(x, y, batch_size=8, verbose=0)
    model.save(tmp_path / "robust.keras")
    loaded = keras.models.load_model(tmp_path / "robust.keras")
    assert isinstance(loaded, kq.QuadRegModel)
    assert loaded.regularizer == regularizer
    as_json = lambda config: json.loads(json.dumps(config))  # tuples come back as lists
    assert as_json(loaded.get_config()) == as_json(model.get_config())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    # The compile config comes back too, so training simply continues.
    assert set(loaded.fit(x, y, batch_size=8, verbose=0).history) == {
        "accuracy",
        "clean_loss",
        "loss",
        "quadratic_adversarial",
    }


def test_subclassed_model_saves_and_loads(tmp_path):
    keras.saving.register_keras_serializable("tests")(Subclassed)
    model = _build("subclassed", "cure")
    model.compile("adam", SPARSE_LOGITS)
    x, y = _data()
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "sub.keras")
    loaded = keras.models.load_model(tmp_path / "sub.keras")
    assert type(loaded) is Subclassed and loaded.regularizer == kq.regularizers.CURE()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_functional_construction_leaves_the_class_hierarchy_alone():
    bases = kq.QuadRegModel.__bases__
    _build("functional", None)
    assert kq.QuadRegModel.__bases__ == bases
    assert isinstance(_build("subclassed", None), kq.QuadRegModel)


def test_batch_norm_statistics_match_a_plain_training_step():
    inputs = keras.Input((6, 6, 1))
    outputs = _stack(
        inputs,
        [
            keras.layers.Conv2D(4, 3),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
    )
    x, y = _data(16)
    plain = keras.Model(inputs, outputs)
    initial = plain.get_weights()
    plain.compile("sgd", SPARSE_LOGITS)
    plain.fit(x, y, batch_size=16, verbose=0)
    for regularizer in (
        "gradient_norm",
        "cure",
        literal_quadreg(0.1, iterations=3, hvp="finite_difference"),
    ):
        model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
        model.set_weights(initial)
        model.compile("sgd", SPARSE_LOGITS)
        model.fit(x, y, batch_size=16, verbose=0)
        for a, b in zip(model.non_trainable_weights, plain.non_trainable_weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("hvp", kq.ops.HVP_METHODS)
def test_weight_gradient_matches_finite_differences_with_delta_fixed(hvp):
    keras.backend.set_floatx("float64")
    try:
        rng = np.random.default_rng(0)
        x = rng.random((8, 5))
        y = rng.integers(0, 3, 8)
        inputs = keras.Input((5,))
        model = kq.QuadRegModel(
            inputs,
            keras.layers.Dense(3)(keras.layers.Dense(7, activation="tanh")(inputs)),
            regularizer=literal_quadreg(
                epsilon=0.3, norm=2, iterations=2, hvp=hvp, weight=0.7, finite_difference_step=1e-6
            ),
        )
        model.compile(keras.optimizers.SGD(learning_rate=1.0), SPARSE_LOGITS)
        theta = [w.numpy().copy() for w in model.trainable_weights]
        loss_at = lambda x: keras.losses.sparse_categorical_crossentropy(
            y, model(x), from_logits=True
        )
        delta, _ = kq.ops.worst_case_quadratic(
            loss_at,
            tf.constant(x),
            epsilon=0.3,
            norm=2,
            iterations=2,
            hvp=hvp,
            finite_difference_step=1e-6,
        )

        def objective(weights):
            for w, value in zip(model.trainable_weights, weights):
                w.assign(value)
            quadratic = kq.ops.LocalQuadratic(
                loss_at, tf.constant(x), hvp=hvp, finite_difference_step=1e-6
            )
            return float(tf.reduce_mean(quadratic.losses) + 0.7 * tf.reduce_mean(quadratic(delta)))

        model.train_on_batch(x, y)  # SGD with learning rate 1: the update is -gradient
        gradient = [t - w.numpy() for t, w in zip(theta, model.trainable_weights)]
        for _ in range(3):
            direction = [rng.normal(size=t.shape) for t in theta]
            h = 1e-5
            plus = objective([t + h * d for t, d in zip(theta, direction)])
            minus = objective([t - h * d for t, d in zip(theta, direction)])
            expected = (plus - minus) / (2 * h)
            got = sum(np.sum(g * d) for g, d in zip(gradient, direction))
            tol = 1e-4 if hvp == "finite_difference" else 1e-7
            np.testing.assert_allclose(got, expected, rtol=tol)
    finally:
        keras.backend.set_floatx("float32")


@pytest.mark.parametrize(
    "labels, loss, activation",
    [
        ("sparse", SPARSE_LOGITS, None),
        ("sparse_column", "sparse_categorical_crossentropy", "softmax"),
        ("one_hot", keras.losses.CategoricalCrossentropy(from_logits=True), None),
        ("one_hot", "categorical_crossentropy", "softmax"),
    ],
)
def test_integer_and_one_hot_labels_with_logits_or_probabilities(labels, loss, activation):
    x, y = _data()
    y = {"sparse": y, "sparse_column": y[:, None], "one_hot": np.eye(3)[y]}[labels]
    inputs = keras.Input((6, 6, 1))
    outputs = keras.layers.Dense(3, activation=activation)(keras.layers.Flatten()(inputs))
    for regularizer in (
        literal_quadreg(0.1, iterations=2),
        kq.regularizers.TRADES(0.1, steps=2),
    ):
        model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
        model.compile("adam", loss, metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history
        assert np.all(np.isfinite(history["loss"]))
        assert history["loss"][-1] < history["loss"][0]


def test_sample_weights_scale_both_terms_like_keras_does():
    x, y = _data(16)
    inputs = keras.Input((6, 6, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    regularizer = literal_quadreg(0.1)
    logs = {}
    for scale in (1.0, 3.0):  # the models share their layers: learning rate 0
        model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
        model.compile(keras.optimizers.SGD(0.0), SPARSE_LOGITS)
        logs[scale] = model.train_on_batch(x, y, sample_weight=np.full(16, scale), return_dict=True)
    for key in ("loss", "clean_loss", "quadratic_adversarial"):
        np.testing.assert_allclose(logs[3.0][key], 3 * logs[1.0][key], rtol=1e-5)
    # A zero weight removes an example from every term.
    half = np.r_[np.ones(8), np.zeros(8)]
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    model.compile(keras.optimizers.SGD(0.0), SPARSE_LOGITS)
    weighted = model.train_on_batch(x, y, sample_weight=half, return_dict=True)
    first = model.train_on_batch(x[:8], y[:8], return_dict=True)
    for key in ("clean_loss", "quadratic_adversarial"):
        np.testing.assert_allclose(weighted[key], first[key] / 2, rtol=1e-5)


def test_logged_terms_are_correct_under_mirrored_strategy():
    def build():
        inputs = keras.Input((6, 6, 1))
        model = kq.QuadRegModel(
            inputs,
            keras.layers.Dense(3)(keras.layers.Flatten()(inputs)),
            regularizer=literal_quadreg(0.1),
        )
        model.compile(keras.optimizers.SGD(0.1), SPARSE_LOGITS, metrics=["accuracy"])
        return model

    assert_two_replicas_match_one_device(build, *_data(16))


def test_evaluate_logs_no_regularizer_term():
    model = _build("functional", "quadreg" if False else literal_quadreg(0.1))
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"])
    x, y = _data()
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "clean_loss", "accuracy"}
    assert logs["loss"] == pytest.approx(logs["clean_loss"])


def _model(regularizer=None, outputs=3):
    inputs = keras.Input((6, 6, 1))
    model = kq.QuadRegModel(
        inputs, keras.layers.Dense(outputs)(keras.layers.Flatten()(inputs)), regularizer=regularizer
    )
    model.compile("sgd", SPARSE_LOGITS)
    return model


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_bad_data_gets_a_clear_error(run_eagerly):
    x, y = _data(8)
    model = _model(literal_quadreg(0.1, clip_min=0.0, clip_max=1.0))
    model.run_eagerly = run_eagerly
    nan_x = x.copy()
    nan_x[0, 0, 0, 0] = np.nan
    cases = [
        (nan_x, y, None, _checks.NON_FINITE_INPUTS),
        (x, np.r_[y[:-1], 3], None, r"class labels must be < the number of classes \(3\)"),
        (x, np.r_[y[:-1], -1], None, "class labels must be >= 0"),
        (x, y + 0.5, None, "class labels must be whole numbers"),
        (x * 255, y, None, r"the inputs must lie in \[clip_min, clip_max\] = \[0.0, 1.0\]"),
        (x, y, np.r_[np.ones(7), -1.0], "sample weights must be finite and >= 0"),
    ]
    for data_x, data_y, weights, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            model.fit(data_x, data_y, sample_weight=weights, batch_size=8, verbose=0)
    # Sparse losses have their own message (tests/reliability/test_clear_errors.py).
    categorical = _model()
    categorical.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True))
    with pytest.raises(
        ValueError,
        match=r"Expected targets to be class indices of shape \(batch,\) or \(batch, 1\), or to "
        r"have the outputs' shape \(None, 3\). Received: y.shape=\((None|8), 2\)",
    ):
        categorical.fit(x, np.zeros((8, 2)), verbose=0)
    with pytest.raises(ValueError, match="QuadRegModel needs targets to train and evaluate"):
        model.fit(x, verbose=0)


def test_integer_images_are_cast_to_float():
    x, y = _data(8)
    model = _model(literal_quadreg(25.0, clip_min=0.0, clip_max=255.0))
    history = model.fit((x * 255).astype("uint8"), y, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_model_errors():
    inputs = keras.Input((4,))
    with pytest.raises(
        ValueError,
        match="QuadRegModel supports models with a single output tensor: the regularizers perturb "
        "one input and penalize one output. Received: 2 outputs",
    ):
        kq.QuadRegModel(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)])
    second = keras.Input((4,))
    with pytest.raises(ValueError, match="Received: 2 inputs"):
        kq.QuadRegModel(
            [inputs, second], keras.layers.Dense(2)(keras.layers.Concatenate()([inputs, second]))
        )
    model = kq.QuadRegModel(inputs, keras.layers.Dense(2)(inputs))
    model.compile("sgd")
    with pytest.raises(
        ValueError,
        match=r"QuadRegModel needs a loss to train: call `compile\(optimizer, loss=...\)` first. "
        r"Received: loss=None",
    ):
        model.fit(np.zeros((2, 4)), np.zeros(2), verbose=0)
    with pytest.raises(
        ValueError,
        match=r"Cannot infer the input shape of 'plain_subclassed'; pass `input_shape`. Received: "
        r"input_shape=None",
    ):
        kq.QuadRegModel.wrap(PlainSubclassed(name="plain_subclassed"))
    with pytest.raises(
        ValueError, match=r'must differ from "loss" and "clean_loss". Received: name=\'loss\''
    ):
        kq.QuadRegModel(
            inputs, keras.layers.Dense(2)(inputs), regularizer=kq.regularizers.CURE(name="loss")
        )

    class BuildsItsOwnGraph(kq.QuadRegModel):
        def __init__(self):
            inputs = keras.Input((4,))
            super().__init__(inputs, keras.layers.Dense(2)(inputs))

    with pytest.raises(
        ValueError,
        match=r"Build a functional QuadRegModel with `QuadRegModel\(inputs, outputs, "
        r"regularizer=...\)` or `QuadRegModel.wrap\(model\)`",
    ):
        BuildsItsOwnGraph()


def test_logged_terms_can_be_monitored_by_callbacks(tmp_path):
    model = _build("functional", literal_quadreg(0.1))
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"])
    x, y = _data()
    stopper = keras.callbacks.EarlyStopping(monitor="quadratic_adversarial", patience=0, mode="min")
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "best.keras"), monitor="val_clean_loss", mode="min", save_best_only=True
    )
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        validation_data=(x, y),
        callbacks=[stopper, checkpoint],
        verbose=0,
    ).history
    assert stopper.best == min(history["quadratic_adversarial"])
    assert checkpoint.best == min(history["val_clean_loss"])
    assert isinstance(keras.models.load_model(tmp_path / "best.keras"), kq.QuadRegModel)
