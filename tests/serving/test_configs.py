"""The server configuration in serving/: each file parses as what TF Serving
reads, and docker-compose.yml wires them together."""

import re

import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.conftest import REPO

SERVING = REPO / "serving"
# The fields of TF Serving's BatchingParameters proto that batching.config may set.
BATCHING_FIELDS = {
    "max_batch_size",
    "batch_timeout_micros",
    "max_enqueued_batches",
    "num_batch_threads",
}


def models_config():
    return text_format.Parse(
        (SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )


def compose_service():
    compose = yaml.safe_load((SERVING / "docker-compose.yml").read_text())
    (service,) = compose["services"].values()
    return service


def test_models_config_serves_quadreg_mnist_with_a_version_policy():
    (model,) = models_config().model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (
        "quadreg_mnist",
        "/models/quadreg_mnist",
        "tensorflow",
    )
    policy = model.model_version_policy
    assert policy.WhichOneof("policy_choice") == "latest"
    assert policy.latest.num_versions == 2


def test_batching_config_sets_batching_parameters():
    settings = {}
    for line in (SERVING / "batching.config").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = re.fullmatch(r"(\w+) \{ value: (\d+) \}", line)
            assert match, f"not a BatchingParameters field: {line!r}"
            settings[match.group(1)] = int(match.group(2))
    assert set(settings) <= BATCHING_FIELDS
    assert settings["max_batch_size"] >= 1 and settings["num_batch_threads"] >= 1


def test_docker_compose_runs_tensorflow_serving_on_the_configs():
    service = compose_service()
    assert service["image"].startswith("tensorflow/serving:")
    assert set(service["ports"]) == {"8500:8500", "8501:8501"}
    mounts = _mounts(service)
    flags = dict(flag[2:].split("=", 1) for flag in service["command"])
    assert flags["enable_model_warmup"] == "true"
    # The config file the server reads is serving/models.config...
    assert (SERVING / mounts[flags["model_config_file"]]).resolve() == SERVING / "models.config"
    # ...and its base path lies in the mounted ../models, where
    # kq.export_for_serving(model, "models/quadreg_mnist") writes.
    (model,) = models_config().model_config_list.config
    assert mounts["/models"] == "../models"
    assert model.base_path == "/models/" + model.name


def _mounts(service):
    mounts = {}
    for volume in service["volumes"]:
        host, container, mode = volume.split(":")
        assert mode == "ro"
        mounts[container] = host
    return mounts


def test_docker_compose_batching_flags_point_at_batching_config():
    # Batching is off by default (see serving/README.md): its flags are comments.
    text = (SERVING / "docker-compose.yml").read_text()
    flags = dict(re.findall(r"^\s*# - --(\w+)=(\S+)$", text, re.MULTILINE))
    assert flags["enable_batching"] == "true"
    mounts = _mounts(compose_service())
    assert (SERVING / mounts[flags["batching_parameters_file"]]).resolve() == (
        SERVING / "batching.config"
    )
