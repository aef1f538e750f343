"""The bounded wait for a Ray cluster's nodes, against a real one-node Ray cluster started here (its own port and
temp dir, stopped by its process group): enough nodes returns at once, a node that never joins is a clear error
after the timeout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolcall_dist.preflight import PreflightError, wait_for_nodes

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    ray_bin = str(Path(sys.executable).parent / "ray")
    proc = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             f"--temp-dir={temp}", "--num-cpus=1", "--include-dashboard=false"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # only the processes this fixture started
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_wait_returns_once_the_nodes_are_there(head):
    assert wait_for_nodes(head, 1, timeout_s=60, poll_s=0.5) == 1


def test_node_that_never_joins_is_a_clear_error_after_the_timeout(head):
    t0 = time.monotonic()
    with pytest.raises(PreflightError, match=rf"^--nodes: only 1 of 2 Ray nodes joined {head} within 5 s"):
        wait_for_nodes(head, 2, timeout_s=5, poll_s=0.5)
    assert time.monotonic() - t0 < 60  # bounded: the timeout plus connecting and disconnecting
