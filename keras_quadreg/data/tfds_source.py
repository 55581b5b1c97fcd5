"""The TensorFlow Datasets source, with a network attempt that cannot hang.

TFDS reads a prepared copy from its data directory (`~/tensorflow_datasets`,
or `TFDS_DATA_DIR`). Without one it downloads and prepares the dataset; on a
machine without network that download can stall for minutes, so it is only
attempted after the download host has answered a HEAD request within
`PROBE_TIMEOUT_SECONDS` (the probe runs in a daemon thread, which also bounds
name resolution, which socket timeouts do not cover).
"""

import threading
import urllib.error
import urllib.request

import tensorflow as tf

PROBE_TIMEOUT_SECONDS = 10.0


class Unavailable(Exception):
    """TFDS cannot provide the dataset here; the message says why."""


def reachable(url, timeout):
    """Whether `url` answers a HEAD request (any HTTP status) within `timeout` seconds."""
    answered = []

    def probe():
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, method="HEAD"), timeout=timeout
            ):
                pass
        except urllib.error.HTTPError:  # an HTTP status: the host answered
            pass
        except (OSError, ValueError):
            return
        answered.append(True)

    thread = threading.Thread(target=probe, daemon=True, name="keras_quadreg-probe")
    thread.start()
    thread.join(timeout)
    return bool(answered)


def _prepare(builder, info, download):
    import tensorflow_datasets as tfds

    if builder.is_prepared():
        return
    where = f"no prepared copy in {str(builder.data_path)!r}"
    if not download:
        raise Unavailable(f"{where} and download=False")
    if not reachable(info.download_url, PROBE_TIMEOUT_SECONDS):
        raise Unavailable(
            f"{where} and cannot download it: {info.download_url} could not be reached "
            f"within {PROBE_TIMEOUT_SECONDS:g} s (no network?)"
        )
    try:
        # The original files only: the GCS mirror check is another network
        # round trip that the probe above does not cover.
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
    except Exception as e:  # TFDS raises many types; all mean "not available".
        raise Unavailable(f"{where} and its download failed: {type(e).__name__}: {e}") from e


def examples(info, split, download):
    """One split as a `tf.data.Dataset` of `(uint8 image, int64 label)`.

    Raises:
        Unavailable: TFDS has no prepared copy and cannot download one.
        ValueError: TFDS returned images or labels of another shape or type.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise Unavailable(f"cannot import tensorflow_datasets: {e}") from e
    try:
        builder = tfds.builder(info.name)
    except Exception as e:  # A broken TFDS install fails in many ways.
        raise Unavailable(f"cannot build {info.name}: {type(e).__name__}: {e}") from e
    _prepare(builder, info, download)
    dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    image_spec, label_spec = dataset.element_spec
    expected = (
        tf.TensorSpec(info.image_shape, tf.uint8),
        tf.TensorSpec((), tf.int64),
    )
    if not (
        image_spec.is_compatible_with(expected[0]) and label_spec.is_compatible_with(expected[1])
    ):
        raise ValueError(
            f"Expected TFDS {info.name} examples of {expected}. "
            f"Received: element_spec={dataset.element_spec}"
        )
    return dataset
