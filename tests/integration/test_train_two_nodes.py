"""One training job across a real 2-node Ray cluster on this machine: a head and a worker node started with
`ray start`, one CPU each, so the two training workers must land on different nodes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from reduced import NO_TRACKING, QUICKSTART, SFT_BATCHES, data, tiny_base  # tests/ is on sys.path

pytestmark = pytest.mark.integration

SMALL = [*QUICKSTART, *NO_TRACKING, *data(120, 4), *tiny_base(100), "sft.epochs=1", *SFT_BATCHES, "stages=[sft]"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str, env: dict) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    done = subprocess.run([str(ray_cli), "start", *args], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"ray start {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def _stop_processes_under(path: Path) -> None:
    """Stop only this test's Ray processes (their command lines name its temp dir); `ray stop` would stop every
    Ray cluster on the machine."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            if str(path) in " ".join(proc.info["cmdline"] or []):
                proc.kill()
        except psutil.Error:
            pass


@pytest.fixture
def two_nodes(tmp_path):
    import ray

    ray.shutdown()
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    # One session dir for both nodes of this cluster, no other cluster uses it; short, since Ray's socket paths
    # under it must fit in 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="r2n-", dir="/tmp"))
    try:
        _ray("--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0",
             "--include-dashboard=false", f"--temp-dir={temp}", "--resources={\"head\": 1}", env=env)
        _ray(f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0",
             "--resources={\"second\": 1}", env=env)
        yield f"127.0.0.1:{port}"
    finally:
        ray.shutdown()
        _stop_processes_under(temp)
        shutil.rmtree(temp, ignore_errors=True)


def test_one_training_worker_on_each_node(two_nodes, tmp_path, compose):
    import ray

    from toolcall_dist import pipeline

    cfg = compose([*SMALL, f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages",
                   f"cluster.address={two_nodes}", "cluster.num_workers=2", "cluster.cpus_per_worker=1",
                   "cluster.placement_strategy=SPREAD", "cluster.poll_interval_s=0.5"])
    deadline = time.time() + 60
    while True:  # the worker node registers with the head asynchronously
        ray.init(address=two_nodes)
        nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        if len(nodes) == 2 or time.time() > deadline:
            break
        ray.shutdown()
        time.sleep(1)
    assert len(nodes) == 2, "the second node never joined"
    result = pipeline.run(cfg)  # joins the running cluster (ray is already initialised on it)
    info = json.loads((result.stage_dirs["sft"] / "done.json").read_text())
    placed = {w["node_id"] for w in info["workers"]}
    assert placed == nodes  # one worker per node, asserted from Ray's node ids
    # The driver's polling interval reached the workers of a cluster it joined (not one it started with its env).
    assert [w["poll_interval_s"] for w in info["workers"]] == [0.5, 0.5]
    assert info["global_step"] > 0 and (result.stage_dirs["sft"] / "model" / "model.safetensors").exists()
