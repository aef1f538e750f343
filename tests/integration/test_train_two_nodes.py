"""Training across a real 2-node Ray cluster on this machine: a head and a worker node started with `ray start`, one
CPU each, so the two training workers must land on different nodes. Then the worker node is lost mid-SFT (its
raylet and every process on it killed) and a replacement node joins: the run resumes there from its newest
checkpoint. Without a replacement, the wait for one is bounded and ends in an error naming what is missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from ray_storage import registered_steps
from reduced import NO_TRACKING, QUICKSTART, SFT_BATCHES, data, tiny_base  # tests/ is on sys.path

pytestmark = pytest.mark.integration

SMALL = [*QUICKSTART, *NO_TRACKING, *data(120, 4), *tiny_base(100), "sft.epochs=1", *SFT_BATCHES, "stages=[sft]",
         "sft.logging_steps=1", "cluster.num_workers=2", "cluster.cpus_per_worker=1",
         "cluster.placement_strategy=SPREAD", "cluster.poll_interval_s=0.5"]
RAY = str(Path(sys.executable).with_name("ray"))
# The head's GCS declares a node dead after 3 missed health checks 0.5 s apart (Ray's defaults take ~15 s).
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
               "RAY_health_check_initial_delay_ms": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_processes_under(path: Path) -> None:
    """Stop only this module's Ray processes (their command lines name its temp dir); `ray stop` would stop every
    Ray cluster on the machine."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            if str(path) in " ".join(proc.info["cmdline"] or []):
                proc.kill()
        except psutil.Error:
            pass


class Cluster:
    """A head started with `ray start` and worker nodes each run by `ray start --block`, so that one node's processes
    (its raylet, agents and workers) are the descendants of one process and can be killed together."""

    def __init__(self, temp: Path, env: dict):
        self.temp, self.env, self.port = temp, env, _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.workers: list[subprocess.Popen] = []

    def start_head(self) -> None:
        done = subprocess.run([RAY, "start", "--head", f"--port={self.port}", "--node-ip-address=127.0.0.1",
                               "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={self.temp}",
                               "--resources={\"head\": 1}"], env={**self.env, **FAST_HEALTH},
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"ray start --head failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"

    def add_worker_node(self, timeout: float = 90) -> str:
        """Start a worker node with one CPU; returns its Ray node id once the head lists it alive."""
        import ray

        before = {n["NodeID"] for n in ray.nodes()}
        self.workers.append(subprocess.Popen(
            [RAY, "start", "--block", f"--address={self.address}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
             "--num-gpus=0"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
        deadline = time.time() + timeout
        while time.time() < deadline:
            new = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] not in before]
            if new:
                return new[0]
            time.sleep(0.5)
        raise AssertionError("the worker node never joined")

    def kill_worker_node(self, proc: subprocess.Popen) -> None:
        """SIGKILL the node: `ray start --block` and every process under it (raylet, agents, training workers)."""
        import psutil

        tree = psutil.Process(proc.pid)
        for p in [tree, *tree.children(recursive=True)]:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.shutdown()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    # One session dir for both nodes of this cluster, no other cluster uses it; short, since Ray's socket paths
    # under it must fit in 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="r2n-", dir="/tmp"))
    c = Cluster(temp, env)
    try:
        c.start_head()
        ray.init(address=c.address)
        c.second = c.add_worker_node()
        yield c
    finally:
        ray.shutdown()
        for w in c.workers:
            if w.poll() is None:
                c.kill_worker_node(w)
        _stop_processes_under(temp)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(cluster, tmp_path_factory, compose):
    """An uninterrupted SFT run across both nodes (its stages dir is the later runs' starting point)."""
    import ray

    from toolcall_dist import pipeline

    root = tmp_path_factory.mktemp("two_nodes")
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    cfg = compose([*SMALL, f"output_dir={root}/out", f"stages_dir={root}/stages",
                   f"cluster.address={cluster.address}"])
    return pipeline.run(cfg), nodes, root  # joins the running cluster (ray is already initialised on it)


def test_one_training_worker_on_each_node(reference):
    result, nodes, _ = reference
    info = json.loads((result.stage_dirs["sft"] / "done.json").read_text())
    assert len(nodes) == 2
    placed = {w["node_id"] for w in info["workers"]}
    assert placed == nodes  # one worker per node, asserted from Ray's node ids
    # The driver's polling interval reached the workers of a cluster it joined (not one it started with its env).
    assert [w["poll_interval_s"] for w in info["workers"]] == [0.5, 0.5]
    assert info["global_step"] > 0 and (result.stage_dirs["sft"] / "model" / "model.safetensors").exists()


def _copy_inputs(result, stages_dir: Path) -> None:
    for name in ("data", "base"):  # the same inputs, so the same stage keys
        shutil.copytree(result.stage_dirs[name], stages_dir / result.stage_dirs[name].name)


def _losses(stage_dir: Path) -> dict[int, float]:
    return {h["step"]: h["loss"] for h in json.loads((stage_dir / "model" / "log_history.json").read_text())
            if "loss" in h}


def test_lost_worker_node_is_replaced_and_the_run_resumes_from_its_newest_checkpoint(cluster, reference, compose):
    """SIGKILL the whole worker node after the first checkpoint; a new node joins once the head has declared the old
    one dead. The worker group restarts across the head and the new node and resumes from the newest registered
    checkpoint: every planned step runs, at most one checkpoint interval is repeated, and the losses after the
    resume match the uninterrupted run's."""
    import ray
    from transformers import AutoModelForCausalLM

    from toolcall_dist import pipeline

    ref, _, root = reference
    every = 2
    stages_dir = root / "node_loss"
    stages_dir.mkdir()
    _copy_inputs(ref, stages_dir)
    stage_dir = stages_dir / ref.stage_dirs["sft"].name
    seen: dict = {}

    def lose_the_node_then_replace_it():
        deadline = time.time() + 600
        while time.time() < deadline and "killed_at" not in seen:
            steps = registered_steps(stages_dir / "ray")
            workers = [json.loads(p.read_text()) for p in (stage_dir / "trainer" / "workers").glob("rank*.json")]
            if steps and any(w["node_id"] == cluster.second for w in workers):
                progress = json.loads((stage_dir / "trainer" / "progress.json").read_text())
                seen.update(checkpoint_step=steps[-1], step=progress["step"], killed_at=time.time())
                cluster.kill_worker_node(cluster.workers[-1])
            time.sleep(0.02)
        while time.time() < deadline and any(n["Alive"] for n in ray.nodes() if n["NodeID"] == cluster.second):
            time.sleep(0.2)
        seen["dead_at"] = time.time()
        time.sleep(3)  # the restarted group finds one node and waits for a second (cluster.node_wait_s)
        seen["replacement"] = cluster.add_worker_node()

    thread = threading.Thread(target=lose_the_node_then_replace_it, daemon=True)
    thread.start()
    cfg = compose([*SMALL, f"output_dir={root}/node_loss_out", f"stages_dir={stages_dir}",
                   f"cluster.address={cluster.address}", f"cluster.checkpoint_steps={every}",
                   "cluster.max_failures=1", "cluster.node_wait_s=120"])
    result = pipeline.run(cfg)
    thread.join(timeout=120)
    assert "killed_at" in seen, "no checkpoint appeared to lose the node after"
    assert "replacement" in seen, seen
    info = json.loads((result.stage_dirs["sft"] / "done.json").read_text())
    ref_info = json.loads((ref.stage_dirs["sft"] / "done.json").read_text())
    assert info["global_step"] == ref_info["global_step"]
    resumed = info["resumed_from_step"]
    assert resumed is not None and seen["checkpoint_step"] <= resumed < info["global_step"]
    assert seen["step"] - resumed <= every  # steps repeated: at most one checkpoint interval
    assert {w["node_id"] for w in info["workers"]} == {n["NodeID"] for n in ray.nodes()
                                                       if n["Alive"] and n["NodeID"] != cluster.second}
    assert seen["replacement"] in {w["node_id"] for w in info["workers"]}
    ref_losses, got = _losses(ref.stage_dirs["sft"]), _losses(result.stage_dirs["sft"])
    after = [s for s in got if s > resumed]
    assert after and set(got) == set(ref_losses)
    for s in after:  # the worker-kill test's tolerance: another process order of float reductions
        assert got[s] == pytest.approx(ref_losses[s], rel=1e-4, abs=1e-4), (s, got[s], ref_losses[s])
    AutoModelForCausalLM.from_pretrained(result.stage_dirs["sft"] / "model")


def test_without_a_replacement_node_the_wait_ends_in_an_error_naming_what_is_missing(cluster, reference, compose):
    """The worker node is gone and none comes: the stage waits cluster.node_wait_s, then fails with the resources."""
    import ray

    from toolcall_dist import pipeline
    from toolcall_dist.train.node_wait import NodesMissing

    ref, _, root = reference
    for w in cluster.workers:
        if w.poll() is None:
            cluster.kill_worker_node(w)
    deadline = time.time() + 60
    while sum(n["Alive"] for n in ray.nodes()) > 1 and time.time() < deadline:
        time.sleep(0.2)
    stages_dir = root / "no_node"
    stages_dir.mkdir()
    _copy_inputs(ref, stages_dir)
    cfg = compose([*SMALL, f"output_dir={root}/no_node_out", f"stages_dir={stages_dir}",
                   f"cluster.address={cluster.address}", "cluster.node_wait_s=5"])
    outcome: dict = {}

    def run():
        try:
            pipeline.run(cfg)
        except BaseException as e:  # noqa: BLE001 (handed to the test thread)
            outcome["error"] = e

    t0 = time.time()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=5 + 60)  # the bound, plus the stage's start-up
    assert not thread.is_alive(), "the stage still waits for a node: the wait is not bounded"
    assert isinstance(outcome.get("error"), NodesMissing), outcome
    msg = str(outcome["error"])
    assert "sft: 2 workers x {CPU 1} (SPREAD)" in msg and "1 alive node: CPU 1 hold 1 of them" in msg, msg
    assert "cluster.node_wait_s=5 s" in msg and time.time() - t0 >= 5
    assert not (stages_dir / ref.stage_dirs["sft"].name / "done.json").exists()
