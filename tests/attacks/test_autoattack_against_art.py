"""The native AutoAttack against ART's, on the same trained MNIST models and
the same 500 test images: a normally trained CNN at epsilon 0.1 and an
adversarially trained one at 0.3.

The tolerance: after APGD-CE and after APGD-T, the native set leaves
at most 0.5 points more robust examples than ART's, and after all four
components no more than ART's set.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.data import idx
from tests.conftest import SHARED_DATA, small_cnn

pytestmark = pytest.mark.heavy

NUM_EXAMPLES = 500


@pytest.fixture(scope="module")
def mnist_adversarial_model(tmp_path_factory):
    """The small CNN trained with the default `QuadraticAdversarial` at
    epsilon 0.3 (ramped over 3 epochs) on 10,000 MNIST images: about 95 %
    clean and 49 % under PGD-20 on the first 500 test images."""
    root = SHARED_DATA / "mnist"
    x = idx.read_images(root / "train-images-idx3-ubyte.gz", limit=10000)
    y = idx.read_labels(root / "train-labels-idx1-ubyte.gz", limit=10000)
    keras.utils.set_random_seed(0)
    inputs, outputs = small_cnn()
    regularizer = kq.regularizers.QuadraticAdversarial(
        epsilon=0.3, clip_min=0.0, clip_max=1.0, seed=0
    )
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(
        (x.astype(np.float32) / 255.0)[..., None],
        y.astype(np.int64),
        batch_size=128,
        epochs=6,
        verbose=0,
        callbacks=[kq.callbacks.RegularizerSchedule(ramp_epochs=3, epsilon=0.3)],
    )
    path = tmp_path_factory.mktemp("models") / "mnist_adversarial.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    "model_fixture, epsilon", [("mnist_standard_model", 0.1), ("mnist_adversarial_model", 0.3)]
)
def test_native_autoattack_is_at_least_as_strong_as_arts(
    request, mnist_subset, model_fixture, epsilon
):
    model = keras.models.load_model(request.getfixturevalue(model_fixture))
    model_fn, _ = kq.attacks.logits_function(model)
    _, (x, y) = mnist_subset
    x, y = x[:NUM_EXAMPLES], y[:NUM_EXAMPLES]
    threat = kq.ops.threat_model(epsilon, "inf", 0.0, 1.0)
    after = {}
    for backend in ("art", "native"):
        autoattack = kq.attacks.AutoAttack(backend=backend)
        x_adv = autoattack.generate(model_fn, x, y, threat, seed=0)
        after[backend] = {
            name: d["robust_accuracy_after"] for name, d in autoattack.details.items()
        }
        robust = np.argmax(model_fn(tf.constant(x_adv)).numpy(), -1) == y
        assert robust.mean() == pytest.approx(after[backend]["square"])
    # The standard model is not robust at 0.1, nor the adversarial one wholly
    # at 0.3: the comparison has examples to count.
    assert 0.0 < after["art"]["apgd_ce"] < 1.0
    assert np.abs(x_adv - x).max() <= epsilon * (1 + 1e-6)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    for component in ("apgd_ce", "apgd_t"):
        assert after["native"][component] <= after["art"][component] + 0.005, (component, after)
    assert after["native"]["square"] <= after["art"]["square"], after
