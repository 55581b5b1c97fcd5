import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests.distribute.test_fault_tolerance import WORKER, _weights


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_worker_processes_match_one_worker(tmp_path):
    # No dropout: each replica draws masks for its own share of the batch.
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(WORKER),
                    str(tmp_path / f"worker{index}.npz"),
                    "--multiworker",
                    "--objective",
                    "quadreg",
                    "--dropout",
                    "0",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    single = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            str(tmp_path / "single.npz"),
            "--objective",
            "quadreg",
            "--dropout",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    reference = _weights(tmp_path / "single.npz")
    for index in range(2):
        for a, b in zip(_weights(tmp_path / f"worker{index}.npz"), reference):
            np.testing.assert_allclose(a, b, atol=1e-5)
