"""Reference architectures used in the robustness literature.

Each function returns `(inputs, outputs)` (logits), to build a `keras.Model`
or a `kq.QuadRegModel`. The defaults are the published configurations, with
the parameter counts of the reference implementations (checked by the tests);
smaller widths give quick variants.

The residual networks follow the PyTorch reference code the robustness
literature trains (no convolution biases, BatchNormalization with momentum 0.1
in PyTorch terms and epsilon 1e-5, Kaiming-normal fan-out initialization, and
symmetric zero padding before strided convolutions), so that their weights
map one to one onto published checkpoints.
"""

import keras
import numpy as np

from keras_quadreg import _validation


def madry_cnn(
    input_shape=(28, 28, 1),
    num_classes=10,
    filters=(32, 64),
    dense_units=1024,
    batch_norm=False,
    name="madry_cnn",
):
    """The two-convolution MNIST network of Madry et al. (2018).

    Two 5x5 `same` convolutions with ReLU, each followed by 2x2 max-pooling,
    a dense ReLU layer and a linear layer producing logits. The defaults are
    the published sizes (3.3M parameters); smaller `filters` and
    `dense_units` give quick variants for tests.

    Example:

    ```python
    inputs, outputs = kq.architectures.madry_cnn()
    model = kq.QuadRegModel(inputs, outputs, regularizer=...)
    ```

    Args:
        input_shape: Shape of one image.
        num_classes: Number of logits.
        filters: Filters of the two convolutions.
        dense_units: Width of the hidden dense layer.
        batch_norm: Whether to add BatchNormalization after each convolution.
        name: Prefix of the layer names.

    Returns:
        `(inputs, outputs)`, to build a `keras.Model` or a `QuadRegModel`.
    """
    num_classes = _validation.integer("num_classes", num_classes, minimum=2)
    dense_units = _validation.integer("dense_units", dense_units, minimum=1)
    if len(filters) != 2:
        raise ValueError(f"Expected two filter counts. Received: filters={filters!r}")
    inputs = keras.Input(input_shape, name=f"{name}_input")
    h = inputs
    for i, count in enumerate(filters):
        h = keras.layers.Conv2D(
            _validation.integer("filters", count, minimum=1),
            5,
            padding="same",
            activation=None if batch_norm else "relu",
            name=f"{name}_conv{i + 1}",
        )(h)
        if batch_norm:
            h = keras.layers.BatchNormalization(name=f"{name}_bn{i + 1}")(h)
            h = keras.layers.ReLU(name=f"{name}_relu{i + 1}")(h)
        h = keras.layers.MaxPooling2D(2, name=f"{name}_pool{i + 1}")(h)
    h = keras.layers.Flatten(name=f"{name}_flatten")(h)
    h = keras.layers.Dense(dense_units, activation="relu", name=f"{name}_dense")(h)
    outputs = keras.layers.Dense(num_classes, name=f"{name}_logits")(h)
    return inputs, outputs


def wong_cnn(input_shape=(28, 28, 1), num_classes=10, name="wong_cnn"):
    """The small MNIST network of fast adversarial training (Wong et al. 2020).

    Two 4x4 convolutions of stride 2 (16 and 32 filters, padding 1 on each
    side, as `same` pads an even input) with ReLU, a dense ReLU layer of
    100 units and a linear layer producing logits: 166,406 parameters, the
    network of their published MNIST results (`mnist_net` of
    locuslab/fast_adversarial), a twentieth of `madry_cnn`. Weights and
    biases start as PyTorch starts them, uniform in `+-1 / sqrt(fan_in)`:
    the published models were trained from that, and fast adversarial
    training is sensitive to it.

    Example:

    ```python
    # Their MNIST training: FGSM from uniform noise not clipped to the box
    # (the recipe "wong2020_mnist").
    fgsm = kq.regularizers.FGSMRandomStart(0.3, clip_min=0.0, clip_max=1.0, clip_start=False)
    model = kq.QuadRegModel(*kq.architectures.wong_cnn(), regularizer=fgsm)
    ```

    Args:
        input_shape: Shape of one image.
        num_classes: Number of logits.
        name: Prefix of the layer names.

    Returns:
        `(inputs, outputs)`, to build a `keras.Model` or a `QuadRegModel`.
    """
    num_classes = _validation.integer("num_classes", num_classes, minimum=2)
    inputs = keras.Input(input_shape, name=f"{name}_input")
    h = inputs
    for i, count in enumerate((16, 32)):
        h = keras.layers.Conv2D(
            count,
            4,
            strides=2,
            padding="same",
            activation="relu",
            name=f"{name}_conv{i + 1}",
            **_torch_init(4 * 4 * h.shape[-1]),
        )(h)
    h = keras.layers.Flatten(name=f"{name}_flatten")(h)
    h = keras.layers.Dense(
        100, activation="relu", name=f"{name}_dense", **_torch_init(h.shape[-1])
    )(h)
    outputs = keras.layers.Dense(num_classes, name=f"{name}_logits", **_torch_init(100))(h)
    return inputs, outputs


def _torch_init(fan_in):
    """PyTorch's default initialization of a layer (`kaiming_uniform_` with
    `a = sqrt(5)` for the kernel), for networks ported from PyTorch code."""
    bound = 1.0 / np.sqrt(fan_in)
    return dict(
        kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
        bias_initializer=keras.initializers.RandomUniform(-bound, bound),
    )


def _image_shape(input_shape):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in shape
        )
    ):
        raise ValueError(
            "Expected `input_shape` to be (height, width, channels) of positive integers. "
            f"Received: input_shape={input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def _normalization(normalization, channels, name):
    """An optional per-channel `(x - mean) / std` layer, so inputs stay in [0, 1]."""
    if normalization is None:
        return None
    try:
        mean, std = (np.asarray(v, np.float64).reshape(-1) for v in normalization)
    except (TypeError, ValueError):
        mean = std = None
    valid = (
        mean is not None
        and len(mean) in (1, channels)
        and len(std) == len(mean)
        and np.all(np.isfinite(mean))
        and np.all(np.isfinite(std))
        and np.all(std > 0)
    )
    if not valid:
        raise ValueError(
            f"Expected `normalization` to be None or (mean, std), each a number or "
            f"{channels} numbers, with finite means and positive standard deviations. "
            f"Received: normalization={normalization!r}"
        )
    return keras.layers.Normalization(
        mean=mean.tolist(), variance=np.square(std).tolist(), name=f"{name}_normalization"
    )


def _conv(h, filters, kernel_size, stride, name):
    # Kaiming normal with fan-out, as in the PyTorch reference implementations.
    initializer = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    if kernel_size == 3:
        # PyTorch's symmetric padding=1; Keras' "same" pads strided
        # convolutions on the bottom/right only, which shifts the grid.
        h = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(h)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding="valid",
        use_bias=False,
        kernel_initializer=initializer,
        name=name,
    )(h)


def _bn_relu(h, name):
    h = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(h)
    return keras.layers.ReLU(name=f"{name}_relu")(h)


def _preact_block(h, filters, stride, dropout_rate, name):
    """BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 plus a shortcut.

    The shortcut is the identity, or a strided 1x1 convolution of the
    pre-activated input when the shape changes (He et al., 2016).
    """
    activated = _bn_relu(h, f"{name}_1")
    if stride != 1 or h.shape[-1] != filters:
        shortcut = _conv(activated, filters, 1, stride, f"{name}_shortcut")
    else:
        shortcut = h
    r = _conv(activated, filters, 3, stride, f"{name}_conv1")
    r = _bn_relu(r, f"{name}_2")
    if dropout_rate:
        r = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(r)
    r = _conv(r, filters, 3, 1, f"{name}_conv2")
    return keras.layers.Add(name=f"{name}_add")([r, shortcut])


def _preact_resnet(
    input_shape,
    num_classes,
    normalization,
    name,
    *,
    stem_filters,
    stages,
    blocks,
    dropout_rate,
    stage,
):
    """The body both residual networks share: an optional normalization, a
    3x3 stem convolution, `blocks` pre-activation blocks per `(filters,
    stride)` of `stages` (only a stage's first block strides), a final
    BatchNormalization-ReLU, global average pooling and the logits. Blocks
    are named `{name}_{stage}{i}_block{j}`, as the published networks'
    stages or groups."""
    normalize = _normalization(normalization, input_shape[-1], name)
    inputs = keras.Input(input_shape, name=f"{name}_input")
    h = normalize(inputs) if normalize else inputs
    h = _conv(h, stem_filters, 3, 1, f"{name}_stem")
    for i, (filters, stride) in enumerate(stages):
        for block in range(blocks):
            h = _preact_block(
                h,
                filters,
                stride if block == 0 else 1,
                dropout_rate,
                f"{name}_{stage}{i + 1}_block{block + 1}",
            )
    h = _bn_relu(h, f"{name}_final")
    h = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(h)
    return inputs, keras.layers.Dense(num_classes, name=f"{name}_logits")(h)


def preact_resnet18(
    input_shape=(32, 32, 3),
    num_classes=10,
    width=64,
    normalization=None,
    name="preact_resnet18",
):
    """The pre-activation ResNet-18 of He et al. (2016) for 32x32 images.

    The CIFAR-10 network of fast adversarial training (Wong et al., 2020)
    and of the robust-overfitting study (Rice et al., 2020): a 3x3 stem
    convolution, four stages of two pre-activation blocks with
    `width * (1, 2, 4, 8)` filters (strides 1, 2, 2, 2), a final
    BatchNormalization-ReLU, global average pooling and a linear layer.
    With the defaults it has 11,172,170 trainable parameters.

    Example:

    ```python
    # CIFAR-10's channel statistics: attacks still see pixels in [0, 1].
    cifar10_stats = ((0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616))
    inputs, outputs = kq.architectures.preact_resnet18(normalization=cifar10_stats)
    ```

    Args:
        input_shape: Shape of one image.
        num_classes: Number of logits.
        width: Filters of the first stage (64 in the paper).
        normalization: None, or `(mean, std)` per channel: the model then
            standardizes its inputs itself, so attacks and threat models
            stay in the [0, 1] pixel space.
        name: Prefix of the layer names.

    Returns:
        `(inputs, outputs)`, to build a `keras.Model` or a `QuadRegModel`.
    """
    input_shape = _image_shape(input_shape)
    num_classes = _validation.integer("num_classes", num_classes, minimum=2)
    width = _validation.integer("width", width, minimum=1)
    stages = [
        (width * multiplier, stride) for multiplier, stride in ((1, 1), (2, 2), (4, 2), (8, 2))
    ]
    return _preact_resnet(
        input_shape,
        num_classes,
        normalization,
        name,
        stem_filters=width,
        stages=stages,
        blocks=2,
        dropout_rate=0.0,
        stage="stage",
    )


def wide_resnet(
    depth=28,
    width_factor=10,
    input_shape=(32, 32, 3),
    num_classes=10,
    dropout_rate=0.0,
    normalization=None,
    name=None,
):
    """The Wide Residual Network WRN-`depth`-`width_factor` (Zagoruyko & Komodakis, 2016).

    A 3x3 stem convolution with 16 filters, three groups of
    `(depth - 4) / 6` pre-activation blocks with `16, 32, 64` times
    `width_factor` filters (strides 1, 2, 2), a final
    BatchNormalization-ReLU, global average pooling and a linear layer.
    WRN-28-10 (the default; 36,479,194 trainable parameters) is the
    network of CURE and of most robustness benchmarks; WRN-34-10
    (46,160,474) that of Madry et al. and TRADES on CIFAR-10.

    Example:

    ```python
    inputs, outputs = kq.architectures.wide_resnet(depth=34, width_factor=10)
    model = kq.QuadRegModel(inputs, outputs, regularizer=...)
    ```

    Args:
        depth: Number of layers with weights; `depth - 4` must be a
            positive multiple of 6.
        width_factor: Multiplier of the filters of each group.
        input_shape: Shape of one image.
        num_classes: Number of logits.
        dropout_rate: Dropout between the two convolutions of each block
            (0.3 in the paper's dropout variant, 0 in robustness work).
        normalization: None, or `(mean, std)` per channel: the model then
            standardizes its inputs itself, so attacks and threat models
            stay in the [0, 1] pixel space.
        name: Prefix of the layer names; defaults to `"wrn_{depth}_{width_factor}"`.

    Returns:
        `(inputs, outputs)`, to build a `keras.Model` or a `QuadRegModel`.
    """
    depth = _validation.integer("depth", depth, minimum=10)
    if (depth - 4) % 6:
        raise ValueError(
            f"Expected `depth` such that depth - 4 is a multiple of 6 (10, 16, 22, 28, "
            f"34, 40, ...). Received: depth={depth}"
        )
    width_factor = _validation.integer("width_factor", width_factor, minimum=1)
    input_shape = _image_shape(input_shape)
    num_classes = _validation.integer("num_classes", num_classes, minimum=2)
    dropout_rate = _validation.non_negative_number("dropout_rate", dropout_rate)
    if dropout_rate >= 1:
        raise ValueError(
            f"Expected `dropout_rate` in [0, 1). Received: dropout_rate={dropout_rate!r}"
        )
    name = name or f"wrn_{depth}_{width_factor}"
    groups = [(filters * width_factor, stride) for filters, stride in ((16, 1), (32, 2), (64, 2))]
    return _preact_resnet(
        input_shape,
        num_classes,
        normalization,
        name,
        stem_filters=16,
        stages=groups,
        blocks=(depth - 4) // 6,
        dropout_rate=dropout_rate,
        stage="group",
    )
