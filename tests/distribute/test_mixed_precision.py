import keras
import numpy as np
import pytest

import keras_quadreg as kq
from tests.conftest import small_cnn


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_dtype_policy(request.param)
    yield request.param
    keras.mixed_precision.set_dtype_policy("float32")


OBJECTIVES = {
    "quadreg_ror": lambda: kq.regularizers.QuadraticAdversarial(
        0.3, iterations=2, clip_min=0.0, clip_max=1.0
    ),
    "quadreg_for": lambda: kq.regularizers.QuadraticAdversarial(
        0.3, hvp="forward_over_reverse", clip_min=0.0, clip_max=1.0
    ),
    "pgd": lambda: kq.regularizers.PGDAdversarialTraining(
        0.3, steps=3, clip_min=0.0, clip_max=1.0, seed=0
    ),
    "trades": lambda: kq.regularizers.TRADES(0.3, steps=2, clip_min=0.0, clip_max=1.0, seed=0),
    "gradient_norm": lambda: kq.regularizers.GradientNorm(),
    "cure": lambda: kq.regularizers.CURE(),
}


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("name", OBJECTIVES)
def test_mixed_precision_trains_with_finite_terms(policy, name, mnist_subset):
    (x, y), _ = mnist_subset
    model = kq.QuadRegModel(*small_cnn(), regularizer=OBJECTIVES[name]())
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(x[:512], y[:512], batch_size=64, epochs=2, verbose=0).history
    for key, values in history.items():
        assert np.all(np.isfinite(values)), key
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
def test_finite_differences_are_refused_in_16_bit(policy, mnist_subset):
    (x, y), _ = mnist_subset
    model = kq.QuadRegModel(
        *small_cnn(), regularizer=kq.regularizers.QuadraticAdversarial(0.3, hvp="finite_difference")
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(
        ValueError,
        match=r"Finite-difference Hessian-vector products need 32-bit compute.*Received: "
        r"hvp='finite_difference', compute dtype bfloat16",
    ):
        model.fit(x[:8], y[:8], verbose=0)
