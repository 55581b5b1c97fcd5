import keras
import numpy as np
import pytest

import keras_quadreg as kq

EXAMPLES = [
    kq.regularizers.QuadraticAdversarial(
        0.3,
        norm=2,
        iterations=3,
        step_rule="line_search",
        hvp="finite_difference",
        expansion_point="input",
        objective="quadratic",
        weight=2.0,
        first_order_weight=0.5,
        second_order_weight=0.0,
        clip_min=0.0,
        clip_max=1.0,
        name="quad",
    ),
    kq.regularizers.GradientNorm(weight=0.3, norm=1, squared=False),
    kq.regularizers.CURE(weight=4.0, h=0.5),
    kq.regularizers.PGDAdversarialTraining(
        0.3, steps=7, step_size=0.1, random_start=False, clip_min=0.0, clip_max=1.0, seed=3
    ),
    kq.regularizers.FGSMRandomStart(0.1, norm=2, seed=5),
    kq.regularizers.FGSMRandomStart(0.3, clip_start=False, seed=5),
    kq.regularizers.TRADES(0.3, beta=3.0, steps=4, seed=1),
    kq.regularizers.NFGSM(0.3, noise_magnitude=1.5, step_size=0.2, seed=2),
]


@pytest.mark.parametrize("regularizer", EXAMPLES, ids=lambda r: type(r).__name__)
def test_serialize_round_trip(regularizer):
    config = kq.regularizers.serialize(regularizer)
    restored = kq.regularizers.deserialize(config)
    assert restored == regularizer and restored is not regularizer
    assert kq.regularizers.get(config) == regularizer
    assert type(regularizer).from_config(regularizer.get_config()) == regularizer


def test_get_by_name_alias_and_class_name():
    assert kq.regularizers.names() == [
        "cure",
        "fgsm_random_start",
        "gradient_norm",
        "n_fgsm",
        "pgd_adversarial_training",
        "quadratic_adversarial",
        "trades",
    ]
    assert kq.regularizers.get("quadreg", epsilon=0.3) == kq.regularizers.QuadraticAdversarial(0.3)
    assert kq.regularizers.get(
        "QuadraticAdversarial", epsilon=0.3
    ) == kq.regularizers.QuadraticAdversarial(0.3)
    assert (
        type(kq.regularizers.get("fgsm-rs", epsilon=0.1, seed=0)) is kq.regularizers.FGSMRandomStart
    )
    assert type(kq.regularizers.get("PGD", epsilon=0.1)) is kq.regularizers.PGDAdversarialTraining
    assert kq.regularizers.get("cure") == kq.regularizers.CURE()
    assert kq.regularizers.get(None) is None
    assert kq.regularizers.get(EXAMPLES[0]) is EXAMPLES[0]


def test_get_builds_a_class_and_records_its_registered_name():
    assert kq.regularizers.get(kq.regularizers.CURE, weight=2.0) == kq.regularizers.CURE(weight=2.0)
    assert kq.regularizers.CURE.registered_name == "cure"


def test_get_errors():
    with pytest.raises(
        ValueError,
        match=r"Unknown regularizer. Expected one of \['cure', .*'trades'\]. Received: "
        r"regularizer='l2'",
    ):
        kq.regularizers.get("l2")
    with pytest.raises(
        ValueError,
        match=r"Could not build QuadraticAdversarial: .*missing 1 required positional argument: "
        r"'epsilon'. Received: kwargs=\{\}",
    ):
        kq.regularizers.get("quadratic_adversarial")
    with pytest.raises(
        ValueError, match="Constructor arguments go with a regularizer name or class."
    ):
        kq.regularizers.get(EXAMPLES[1], weight=2.0)
    with pytest.raises(
        ValueError,
        match="Expected a Regularizer, a Regularizer subclass, a regularizer name or a serialized "
        "config. Received: regularizer=3",
    ):
        kq.regularizers.get(3)


def test_a_registered_custom_regularizer_saves_with_the_model(tmp_path):
    @kq.regularizers.register("logit_squares")
    class LogitSquares(kq.regularizers.Regularizer):
        def __init__(self, weight=1.0, name=None):
            super().__init__(name=name)
            self.weight = weight

        def compute(self, step):
            y_pred = step.forward(step.x)
            return kq.regularizers.Terms(
                y_pred, y_pred, keras.ops.sum(y_pred**2, axis=-1), self.weight
            )

        def get_config(self):
            return {**super().get_config(), "weight": self.weight}

    inputs = keras.Input((3,))
    model = kq.QuadRegModel(inputs, keras.layers.Dense(2)(inputs), regularizer="logit_squares")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(np.ones((4, 3)), np.zeros(4), verbose=0).history
    assert "logit_squares" in history
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").regularizer == LogitSquares()


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: kq.regularizers.QuadraticAdversarial(0),
            "Expected `epsilon` to be a finite positive number. Received: epsilon=0",
        ),
        (lambda: kq.regularizers.QuadraticAdversarial(-0.1), "Received: epsilon=-0.1"),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, norm="l1"),
            r'Expected `norm` to be "inf" \(or np.inf\) or 2. Received: norm=\'l1\'',
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, iterations=-1),
            "Expected `iterations` to be an integer >= 1. Received: iterations=-1",
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, iterations=1.5),
            "Received: iterations=1.5",
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, weight=-1),
            "Expected `weight` to be a finite non-negative number. Received: weight=-1",
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, second_order_weight=float("inf")),
            "Received: second_order_weight=inf",
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, hvp="exact"),
            r"Expected `hvp` to be one of \['reverse_over_reverse', 'forward_over_reverse', "
            r"'finite_difference', 'secant'\]. Received: hvp='exact'",
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, step_rule="armijo"),
            "Received: step_rule='armijo'",
        ),
        (
            lambda: kq.regularizers.QuadraticAdversarial(0.1, clip_min=0.0),
            "Expected `clip_min` and `clip_max` to be both set or both None",
        ),
        (
            lambda: kq.regularizers.GradientNorm(norm=3),
            r'Expected `norm` to be 1, 2 or "inf". Received: norm=3',
        ),
        (
            lambda: kq.regularizers.GradientNorm(squared="yes"),
            "Expected `squared` to be a bool. Received: squared='yes'",
        ),
        (
            lambda: kq.regularizers.CURE(h=0),
            "Expected `h` to be a finite positive number. Received: h=0",
        ),
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, steps=0),
            "Expected `steps` to be an integer >= 1. Received: steps=0",
        ),
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, step_size=-1),
            "Received: step_size=-1",
        ),
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, random_start=1),
            "Expected `random_start` to be a bool. Received: random_start=1",
        ),
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, seed=-2),
            "Expected `seed` to be an integer >= 0. Received: seed=-2",
        ),
        (lambda: kq.regularizers.FGSMRandomStart(0.1, step_size=0), "Received: step_size=0"),
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, clip_start="no"),
            "Expected `clip_start` to be True or False. Received: clip_start='no'",
        ),
        (
            lambda: kq.regularizers.NFGSM(0.1, noise_magnitude=-1),
            "Expected `noise_magnitude` to be a finite non-negative number. "
            "Received: noise_magnitude=-1",
        ),
        (
            lambda: kq.regularizers.NFGSM(0.1, step_size=0),
            "Expected `step_size` to be a finite positive number. Received: step_size=0",
        ),
        (
            lambda: kq.regularizers.TRADES(0.1, beta=-6),
            "Expected `beta` to be a finite non-negative number. Received: beta=-6",
        ),
        (
            lambda: kq.regularizers.CURE(name=""),
            "Expected `name` to be a non-empty string. Received: name=''",
        ),
    ],
)
def test_bad_arguments_name_the_argument_and_the_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "build, message",
    [
        # The shared options travel as **kwargs: a misspelt one still fails, by name.
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, clip_mn=0.0),
            "unexpected keyword argument 'clip_mn'",
        ),
        (lambda: kq.regularizers.FGSMRandomStart(0.1, sed=0), "unexpected keyword argument 'sed'"),
        (lambda: kq.regularizers.NFGSM(0.1, steps=2), "unexpected keyword argument 'steps'"),
        (lambda: kq.regularizers.TRADES(0.1, clip_start=False), "argument 'clip_start'"),
        (
            lambda: kq.regularizers.FGSMRandomStart(0.1, steps=2),
            "FGSMRandomStart takes one step from a random start and has no `steps` argument. "
            "Received: steps=2",
        ),
        (
            lambda: kq.regularizers.FGSMRandomStart(0.1, random_start=False),
            "has no `random_start` argument. Received: random_start=False",
        ),
        # Options after the method's own are keyword-only: a value cannot land on the wrong one.
        (
            lambda: kq.regularizers.PGDAdversarialTraining(0.1, "inf", 10, None, True, 0.0),
            "positional arguments but 7 were given",
        ),
    ],
)
def test_unknown_or_fixed_arguments_raise_a_type_error_naming_them(build, message):
    with pytest.raises(TypeError, match=message):
        build()


def test_shared_options_reach_the_base_and_the_config():
    pgd = kq.regularizers.PGDAdversarialTraining(
        0.2, 2, steps=4, clip_start=False, clip_min=0.0, clip_max=1.0, name="adv", seed=3
    )
    assert (pgd.norm, pgd.steps, pgd.clip_start, pgd.name, pgd.seed) == (2, 4, False, "adv", 3)
    assert pgd.step_size == pytest.approx(2.5 * 0.2 / 4)
    assert list(kq.regularizers.FGSMRandomStart(0.3, seed=1).get_config()) == [
        "norm",
        "epsilon",
        "clip_min",
        "clip_max",
        "name",
        "seed",
        "step_size",
        "clip_start",
    ]
    assert kq.regularizers.FGSMRandomStart(0.3).step_size == pytest.approx(1.25 * 0.3)
    assert kq.regularizers.NFGSM(0.3).step_size == pytest.approx(0.3)
