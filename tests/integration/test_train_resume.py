"""The whole job, killed or stopped, resumes when the same command runs again.

One training stage, three runs of the same `python -m toolcall_dist` command:
1. killed with SIGKILL (the whole process group) after its first checkpoint;
2. resumes from the newest complete checkpoint (not from a partially written one put beside it), then gets
   SIGUSR1 (what Slurm sends before a time limit): it checkpoints at the next step and exits with code 75 without
   marking the stage done;
3. resumes from the checkpoint of the stop and finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ray_storage import registered_steps
from reduced import NO_TRACKING, QUICKSTART, SFT_BATCHES, data, tiny_base

pytestmark = pytest.mark.integration

EVERY = 3
OVERRIDES = [
    *QUICKSTART, *NO_TRACKING, *data(160, 4), *tiny_base(100), "sft.epochs=3", *SFT_BATCHES, "sft.logging_steps=1",
    "stages=[sft]", f"cluster.checkpoint_steps={EVERY}", "cluster.num_to_keep=2",
]


def _start(tmp: Path) -> subprocess.Popen:
    log = (tmp / "log.txt").open("a")
    return subprocess.Popen([sys.executable, "-m", "toolcall_dist", *OVERRIDES, f"output_dir={tmp}/out",
                             f"stages_dir={tmp}/stages"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "WANDB_MODE": "offline"})


def _wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 420):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"the run exited ({proc.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _checkpoint_steps(tmp: Path) -> list[int]:
    return registered_steps(tmp / "stages" / "ray")


def _resumed_from(tmp: Path) -> int | None:
    files = list((tmp / "stages").glob("sft-*/trainer/workers/rank0.json"))
    return json.loads(files[0].read_text()).get("resumed_from_step") if files else None


def test_killed_then_stopped_job_resumes_each_time(tmp_path):
    # 1. SIGKILL to the whole job (driver and the Ray processes it started) once a checkpoint is in storage.
    first = _start(tmp_path)
    _wait_for(lambda: _checkpoint_steps(tmp_path), first, "the first checkpoint")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    assert not list((tmp_path / "stages").glob("sft-*/done.json"))
    killed_at = _checkpoint_steps(tmp_path)[-1]
    # A checkpoint cut off mid-write (what a crash while saving leaves: a newer directory, half its files) must not
    # be what the next run resumes from: Ray registers a checkpoint only once every worker has reported it.
    run_dir = next((tmp_path / "stages" / "ray").glob("sft-*"))
    partial = run_dir / "checkpoint_2099-01-01_00-00-00.000000" / "checkpoint"
    partial.mkdir(parents=True)
    (partial / "trainer_state.json").write_text('{"global_step": 99')

    # 2. The same command resumes from the newest checkpoint, and a stop request makes it checkpoint and exit 75.
    second = _start(tmp_path)
    resumed = _wait_for(lambda: _resumed_from(tmp_path), second, "the resume")
    # A registered checkpoint at or after the one seen at the kill (the killed job's Ray processes may register one
    # more while they wind down), never the partial one; at most one checkpoint interval of steps repeated.
    assert resumed >= killed_at and resumed in _checkpoint_steps(tmp_path) and resumed % EVERY == 0
    second.send_signal(signal.SIGUSR1)
    assert second.wait(timeout=300) == 75
    assert not list((tmp_path / "stages").glob("sft-*/done.json"))
    stopped_at = _checkpoint_steps(tmp_path)[-1]
    assert stopped_at > resumed

    # 3. Run again: it resumes from the stop's checkpoint and finishes the stage.
    third = _start(tmp_path)
    assert third.wait(timeout=420) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    info = json.loads(next((tmp_path / "stages").glob("sft-*/done.json")).read_text())
    assert info["resumed_from_step"] == stopped_at
    history = json.loads(next((tmp_path / "stages").glob("sft-*/model/log_history.json")).read_text())
    logged = [h["step"] for h in history if "loss" in h]
    assert logged == list(range(1, info["global_step"] + 1))  # every step once: nothing skipped, nothing doubled
    assert len(_checkpoint_steps(tmp_path)) <= 2  # cluster.num_to_keep
