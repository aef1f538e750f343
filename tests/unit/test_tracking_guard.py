"""W&B during training survives the loss of its service: Slurm's preemption SIGTERMs every process of a job step, and
W&B's service process exits on it; the training must go on to its checkpoint. Real W&B (offline), real signal."""

from __future__ import annotations

import logging
import signal
import time

import pytest

pytestmark = pytest.mark.unit


def _service_processes():
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if "wandb-core" in p.name()]


def test_a_killed_wandb_service_ends_wandb_logging_with_a_warning_not_the_training(tmp_path, monkeypatch, caplog):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from toolcall_dist import tracking

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tracking.start_run({"backend": "wandb", "project": "p", "entity": None, "mode": "offline"}, stage="sft",
                             name="guard", group="g", config={}, wandb_dir=str(tmp_path / "wandb"))
    cb = tracking.training_callback()
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[])
    state, control = TrainerState(), TrainerControl()
    state.is_world_process_zero = True
    for step in (1, 2):
        state.global_step = step
        cb.on_log(args, state, control, logs={"loss": 1.0 / step})
    assert not cb.failed
    services = _service_processes()
    assert services, "wandb started no service process"
    for p in services:
        p.send_signal(signal.SIGTERM)
    for p in services:
        p.wait(timeout=30)
    caplog.set_level(logging.WARNING, logger="toolcall_dist.tracking")
    deadline = time.time() + 30
    step = 2
    while not cb.failed and time.time() < deadline:  # the client notices on a later write
        step += 1
        state.global_step = step
        cb.on_log(args, state, control, logs={"loss": 0.1})  # never raises
        time.sleep(0.05)
    assert cb.failed
    assert sum("W&B stopped accepting logs" in r.getMessage() for r in caplog.records) == 1
    cb.on_log(args, state, control, logs={"loss": 0.1})  # silent from now on
    tracking.finish_run(run)  # a warning at most
    import wandb

    try:  # the client's own teardown would otherwise talk to the dead service at interpreter exit
        wandb.teardown()
    except Exception:  # noqa: BLE001 (whatever the dead service makes it raise)
        pass
