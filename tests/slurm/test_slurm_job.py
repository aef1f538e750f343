"""The Slurm path for real: `python -m launch.slurm` submits the tiny experiment to a two-node Slurm cluster on this
machine; the sbatch script starts a Ray head and a Ray worker with srun, the driver trains across both, evaluates,
and Ray is stopped. Then a job is interrupted mid-training twice (the time-limit signal, then real preemption by a
higher-priority job), requeued each time, and resumes from its checkpoints.

Each job pays Ray's start-up and Ray Train's ~30 s fixed cost per stage on 2 shared cores: the module runs two jobs.
"""

from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from minislurm import MiniSlurm, ensure_installed  # tests/slurm is on sys.path (pytest's rootdir-less import)
from ray_storage import registered_steps, saved_steps  # tests/ is on sys.path (its conftest.py)
from reduced import DPO_BATCHES, SFT_BATCHES, data, heldout_eval, tiny_base

pytestmark = pytest.mark.slurm

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_EVERY = "cluster.checkpoint_steps"  # the config key of the checkpoint interval (optimizer steps)
# The quickstart cut down to minutes (the same reductions as tests/integration/test_quickstart.py).
TINY = [
    *data(240, 6), *tiny_base(160), "sft.epochs=1", *SFT_BATCHES, "sft.learning_rate=1e-3",
    "dpo.epochs=1", *DPO_BATCHES, *heldout_eval(48),
]
# One CPU per Ray node and one training worker per node: Ray must place one worker on each.
ALLOCATION = ["slurm.nodes=2", "slurm.cpus_per_node=1", "slurm.time=00:40:00", "slurm.wait_nodes_s=180"]
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A started two-node Slurm cluster; jobs submitted with ``slurm_cluster.env`` run on it. Ray nodes get a short
    temp root of their own (unix socket paths must stay under ~107 characters)."""
    ensure_installed()
    cluster = MiniSlurm(tmp_path_factory.mktemp("slurm"), cpus_per_node=2)
    ray_tmp = Path(tempfile.mkdtemp(prefix="tcdray."))
    cluster.env.update({"TOOLCALL_RAY_TMPDIR": str(ray_tmp), "WANDB_MODE": "offline"})
    cluster.env.pop("WANDB_API_KEY", None)
    cluster.env.pop("RAY_ADDRESS", None)
    cluster.ray_tmp = ray_tmp
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def launch(cluster, *args: str) -> tuple[str, str]:
    """Submit through the project's launcher as a user would; returns (job id, the launcher's output)."""
    proc = subprocess.run([sys.executable, "-m", "launch.slurm", *args], env=cluster.env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"^job (\d+):", proc.stdout, re.M)
    assert m, proc.stdout
    return m.group(1), proc.stdout


def wait_job(cluster, job_id: str, timeout: float, until=lambda j: j["JobState"] in TERMINAL) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = cluster.job(job_id)
        if until(job):
            return job
        time.sleep(1)
    cluster.run(["scancel", job_id], check=False)
    raise AssertionError(f"job {job_id} did not get there within {timeout}s: {cluster.job(job_id)}")


def batch_log(out_dir: Path, job_id: str) -> str:
    return "\n".join(Path(p).read_text(errors="replace") for p in glob.glob(f"{out_dir}/slurm/*-{job_id}.out"))


def ray_processes(ray_tmp: Path) -> list[str]:
    """Command lines of live Ray processes started under this session's Ray temp root."""
    out = subprocess.run(["pgrep", "-af", str(ray_tmp)], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


@pytest.fixture(scope="module")
def two_node_run(slurm_cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("job")
    # An override value that would run a command if it ever reached a shell unquoted (in the submit directory or the
    # job's, both the project root). No slash: the name also names the run's directories.
    pwned = PROJECT_ROOT / f"pwned-{tmp.name}"
    name = f"x; touch {pwned.name} $(touch {pwned.name})"
    job_id, printed = launch(slurm_cluster, "+exp=quickstart", *ALLOCATION, f"name='{name}'",
                             f"output_dir={tmp}/out", f"stages_dir={tmp}/stages", *TINY)
    job = wait_job(slurm_cluster, job_id, timeout=1500)
    return {"job_id": job_id, "job": job, "printed": printed, "out": tmp / "out", "stages": tmp / "stages",
            "pwned": pwned, "name": name, "ray_left": ray_processes(slurm_cluster.ray_tmp),
            "log": batch_log(tmp / "out", job_id)}


def _stage_info(run, stage: str, model: str | None = None) -> dict:
    results = json.loads((run["out"] / "results.json").read_text())
    assert set(results) == {"base", "sft", "dpo"}
    dirs = [Path(p) for p in glob.glob(f"{run['stages']}/{stage}-*/done.json")]
    assert len(dirs) == 1 if stage != "eval" else len(dirs) == 3, dirs
    infos = [json.loads(p.read_text()) for p in dirs]
    return infos[0] if stage != "eval" else infos


def test_launcher_prints_job_id_and_log_paths(two_node_run):
    run = two_node_run
    # The printed id is the job Slurm ran for this run: its record carries the run's name as the launcher cleans it.
    assert run["job"]["JobId"] == run["job_id"]
    assert run["job"]["JobName"] == re.sub(r"[^A-Za-z0-9_.-]", "_", run["name"])[:64]
    log_line = re.search(r"log: (\S+)", run["printed"]).group(1)
    assert Path(log_line).exists() and f"-{run['job_id']}.out" in log_line
    assert "Ray node logs:" in run["printed"]


def test_job_completed(two_node_run):
    job = two_node_run["job"]
    assert job["JobState"] == "COMPLETED", (job, two_node_run["log"][-3000:])
    assert job["ExitCode"] == "0:0"


def test_ray_saw_both_nodes(two_node_run):
    rec = glob.glob(f"{two_node_run['out']}/slurm/*-{two_node_run['job_id']}-ray-nodes.json")
    assert len(rec) == 1
    nodes = json.loads(Path(rec[0]).read_text())
    assert len({n["node_id"] for n in nodes}) == 2
    assert all(n["resources"]["CPU"] == 1 for n in nodes)  # each Ray node offers what Slurm allocated on it


def test_training_workers_ran_on_both_nodes(two_node_run):
    nodes = json.loads(Path(glob.glob(f"{two_node_run['out']}/slurm/*-ray-nodes.json")[0]).read_text())
    ray_nodes = {n["node_id"] for n in nodes}
    for stage in ("sft", "dpo"):
        info = _stage_info(two_node_run, stage)
        workers = info["workers"]
        assert sorted(w["rank"] for w in workers) == [0, 1]
        assert {w["node_id"] for w in workers} == ray_nodes, (stage, workers)
        assert info["resumed_from_step"] is None and info["global_step"] > 0


def test_eval_results_were_written(two_node_run):
    results = json.loads((two_node_run["out"] / "results.json").read_text())
    for model in ("base", "sft", "dpo"):
        assert set(results[model]) == {"heldout"}, results[model]  # the held-out set only (eval.categories=[])
        cats = results[model]["heldout"]["categories"]
        assert set(cats) == {"simple_python", "irrelevance"}, results[model]
        assert all(c["total"] == 6 and 0 <= c["accuracy"] <= 1 for c in cats.values())  # holdout_per_category=6
    evals = _stage_info(two_node_run, "eval")
    assert sorted(e["scores"]["heldout"]["overall"] for e in evals) == \
        sorted(r["heldout"]["overall"] for r in results.values())
    assert "| dpo" in (two_node_run["out"] / "results.md").read_text()


def test_override_value_reached_hydra_as_one_literal_argument(two_node_run):
    assert not two_node_run["pwned"].exists()
    config = json.loads((two_node_run["out"] / "config.json").read_text())
    assert config["name"] == two_node_run["name"]
    assert config["cluster"]["address"] == "auto" and config["cluster"]["num_workers"] == 2


def test_ray_was_shut_down(two_node_run):
    assert "[toolcall] Ray stopped" in two_node_run["log"]
    assert two_node_run["ray_left"] == []


def _rank0(stages: Path) -> dict:
    """What the SFT stage's rank-0 worker says of itself (node, pid, and the step it resumed from)."""
    files = glob.glob(f"{stages}/sft-*/trainer/workers/rank0.json")
    try:
        return json.loads(Path(files[0]).read_text()) if files else {}
    except ValueError:  # being written right now
        return {}


def _until_run(cluster, job_id: str, out: Path, n: int, storage: Path, newest: int, blocker: str | None = None) -> int:
    """Wait until run ``n`` of the job has started; returns the newest checkpoint step seen by then."""
    deadline, pending_since = time.time() + 600, None
    while f"restart {n} " not in batch_log(out, job_id):
        assert time.time() < deadline, batch_log(out, job_id)[-3000:]
        newest = max([newest, *saved_steps(storage)])
        job = cluster.job(job_id)
        requeued = job["JobState"] == "PENDING" and int(job["Restarts"]) >= n
        pending_since = (pending_since or time.time()) if requeued else None
        # Slurm holds a requeued job for ~2 minutes (BeginTime); an operator's nudge, to keep the test short. Not in
        # the requeue's first seconds: a batch job launched again within the second its previous run's credential
        # was revoked is killed as "non-startable" (seen once, with the nudge 0.15 s after the requeue).
        if requeued and time.time() - pending_since >= 3 \
                and (blocker is None or cluster.job(blocker)["JobState"] in TERMINAL):
            cluster.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=False)
        time.sleep(0.5)
    return newest


def test_time_limit_signal_and_preemption_requeue_and_resume(slurm_cluster, two_node_run, tmp_path):
    """One SFT job interrupted twice. First the time-limit path: USR1 to the batch shell (what --signal=B:USR1@N
    sends), a checkpoint at once, exit 75, requeue. Then real preemption: a job in the higher-priority partition needs
    the nodes and Slurm SIGTERMs the job's steps (the Ray nodes), which run on and leave a notice; the driver
    checkpoints at the next step boundary within the grace time, and the job is requeued. Neither resume repeats a
    step: each step's loss is logged exactly once across the three runs."""
    every = 8
    out, stages = tmp_path / "out", tmp_path / "stages"
    # Same data and base as the first job (reused from its stages), another seed so SFT itself runs again, three
    # epochs so there is training left to interrupt twice.
    job_id, _ = launch(slurm_cluster, "+exp=quickstart", *ALLOCATION, "name=preempt", f"output_dir={out}",
                       f"stages_dir={stages}", f"prebuilt_stages_dir={two_node_run['stages']}", "seed=1",
                       "stages=[sft]", f"{CHECKPOINT_EVERY}={every}", *TINY, "sft.epochs=3", "sft.logging_steps=1")
    storage = stages / "ray"  # Ray storage defaults to <stages_dir>/ray
    wait_job(slurm_cluster, job_id, 900, until=lambda j: j["JobState"] in TERMINAL or registered_steps(storage))
    assert registered_steps(storage), batch_log(out, job_id)[-3000:]
    signalled_at = max(registered_steps(storage))
    slurm_cluster.run(["scancel", "--signal=USR1", "--batch", job_id])
    newest = _until_run(slurm_cluster, job_id, out, 1, storage, signalled_at)

    # Run 2: once it has resumed and saved a checkpoint of its own, preempt it.
    wait_job(slurm_cluster, job_id, 900, until=lambda j: j["JobState"] in TERMINAL
             or max(saved_steps(storage)) > newest)
    first_resume = _rank0(stages).get("resumed_from_step")
    # The newest checkpoint Ray has registered: one still being uploaded when the nodes die is not resumed from.
    preempted_at = max(registered_steps(storage))
    step_before = _progress_step(stages)  # the step training had reached when the preempting job was submitted
    # Every CPU of both nodes: it can only start by preempting the training job.
    urgent = slurm_cluster.run(["sbatch", "--parsable", "--partition=urgent", "--nodes=2", "--ntasks-per-node=1",
                                f"--cpus-per-task={slurm_cluster.cpus}", f"--output={tmp_path}/urgent-%j.out",
                                "--wrap", "hostname"]).stdout.strip()
    newest2 = _until_run(slurm_cluster, job_id, out, 2, storage, preempted_at, blocker=urgent)
    assert slurm_cluster.job(urgent)["JobState"] == "COMPLETED"  # it ran in between, on the preempted nodes

    job = wait_job(slurm_cluster, job_id, 1200)
    log = batch_log(out, job_id)
    assert job["JobState"] == "COMPLETED", (job, log[-3000:])
    assert int(job["Restarts"]) >= 2
    assert "received SIGUSR1" in log and log.count("driver exited with 75") == 2
    assert "[toolcall] Slurm is preempting the job: its Ray nodes got SIGTERM" in log
    assert "did not finish" not in log and "preempted by Slurm at" not in log  # the save made the deadline
    assert log.count("requeueing job") == 2
    assert first_resume is not None and signalled_at <= first_resume and newest - first_resume <= every
    info = json.loads(Path(glob.glob(f"{stages}/sft-*/done.json")[0]).read_text())
    resumed = info["resumed_from_step"]
    # The checkpoint was written when the signal came, not at the periodic checkpoint before it, and the resumed
    # run starts at exactly that step (newest2: the newest checkpoint saved before the third run started).
    assert resumed is not None and max(preempted_at, step_before) <= resumed == newest2, \
        (preempted_at, step_before, resumed, newest2)
    # Three epochs of the first job's one-epoch run, none lost or doubled by the interruptions.
    first = json.loads(Path(glob.glob(f"{two_node_run['stages']}/sft-*/done.json")[0]).read_text())
    assert info["global_step"] == 3 * first["global_step"]
    assert resumed < info["global_step"]  # the interruption really was mid-training
    assert _logged_steps(stages) == list(range(1, info["global_step"] + 1))  # every step logged once


def _progress_step(stages: Path) -> int:
    files = glob.glob(f"{stages}/sft-*/trainer/progress.json")
    return json.loads(Path(files[0]).read_text())["step"] if files else 0


def _logged_steps(stages: Path) -> list[int]:
    """The optimizer steps whose training loss was logged, over every run of the job: the SFT stage's
    ``trainer/steps.jsonl``, which each run appends to."""
    (path,) = glob.glob(f"{stages}/sft-*/trainer/steps.jsonl")
    records = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert len({r["pid"] for r in records}) == 3  # three runs' rank-0 workers wrote it
    return sorted(r["step"] for r in records)
