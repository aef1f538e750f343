"""W&B tracking and the project's one rank-zero rule.

Only rank 0 talks to W&B. Mode ``auto`` is online when ``WANDB_API_KEY`` is set and offline otherwise; offline runs
land under ``<output_dir>/wandb`` and are uploaded later with ``wandb sync <dir>``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def is_rank_zero() -> bool:
    """True on the process that logs, evaluates and writes shared files (the driver, or world rank 0)."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank() == 0
    except ImportError:
        pass
    return int(os.environ.get("RANK", "0")) == 0


def resolve_mode(mode: str) -> str:
    if mode == "auto":
        return "online" if os.environ.get("WANDB_API_KEY") else "offline"
    return mode


def start_run(tracking: dict, *, stage: str, name: str, group: str, config: dict, wandb_dir: str) -> Any | None:
    """Open the W&B run of one stage (``job_type`` = stage) on rank 0; None elsewhere or when tracking is off."""
    if tracking["backend"] != "wandb" or not is_rank_zero():
        return None
    import wandb

    from toolcall_dist.redact import redact

    os.makedirs(wandb_dir, exist_ok=True)
    os.environ["WANDB_DIR"] = wandb_dir  # Ray Train workers run in another working directory
    return wandb.init(
        project=tracking["project"], entity=tracking["entity"], mode=resolve_mode(tracking["mode"]),
        name=f"{name}-{stage}", group=group, job_type=stage, config=redact(config), dir=wandb_dir,
        reinit="finish_previous",
    )


def finish_run(run: Any | None) -> None:
    """Flush and close ``run``: without it an offline run file written from a Ray worker stays empty. A W&B service
    that is gone (see ``training_callback``) costs a warning, not the stage."""
    if run is not None:
        try:
            run.finish()
        except Exception as e:  # noqa: BLE001 (whatever the dead service raises; the stage's own files are intact)
            log.warning("W&B could not finish its run (%s: %s)", type(e).__name__, e)


def training_callback():
    """Transformers' ``WandbCallback``, except that a W&B failure mid-training ends W&B logging with one warning
    instead of ending the training. The case that needs it: Slurm preempts a job by sending SIGTERM to every process
    of its steps, and W&B's service process (``wandb-core``) exits on it even when the signal is blocked (Go's
    runtime unblocks signals it handles), so the worker's next ``wandb.log`` raises while the training still has a
    checkpoint to save. The stage's ``trainer/steps.jsonl`` (``train/progress.py``) keeps every step regardless."""
    from transformers.integrations import WandbCallback

    class GuardedWandb(WandbCallback):
        failed = False

        def _guarded(self, hook: str, *args, **kwargs):
            if self.failed:
                return None
            try:
                return getattr(super(), hook)(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 (any failure of the W&B client or service)
                self.failed = True
                log.warning("W&B stopped accepting logs (%s: %s): training goes on without W&B", type(e).__name__, e)
                return None

        def on_train_begin(self, *args, **kwargs):
            return self._guarded("on_train_begin", *args, **kwargs)

        def on_log(self, *args, **kwargs):
            return self._guarded("on_log", *args, **kwargs)

        def on_save(self, *args, **kwargs):
            return self._guarded("on_save", *args, **kwargs)

        def on_train_end(self, *args, **kwargs):
            return self._guarded("on_train_end", *args, **kwargs)

    return GuardedWandb()


def read_offline_run(run_dir: str) -> dict:
    """Read back an offline run's ``run-*.wandb`` file: ``{"job_type", "group", "name", "config", "history",
    "summary", "artifacts"}`` (artifacts as ``{"name", "type"}``).

    The file is a LevelDB-style log (7-byte W&B header, 32 KiB blocks of checksum/length/type-framed chunks) of
    protobuf ``Record``s; wandb no longer ships a Python reader for it, and tests need to see what was logged.
    """
    import glob
    import json
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = glob.glob(os.path.join(run_dir, "run-*.wandb"))
    raw = open(path, "rb").read()
    block, pos, pending = 32768, 7, b""
    out: dict = {"job_type": None, "group": None, "name": None, "config": {}, "history": [], "summary": {},
                 "artifacts": []}
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # block trailer too short for a header: skip to the next block
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", raw[pos + 4: pos + 7])
        pending += raw[pos + 7: pos + 7 + length]
        pos += 7 + length
        if kind not in (1, 4):  # FIRST/MIDDLE chunks continue in the next block
            continue
        rec, pending = pb.Record.FromString(pending), b""
        which = rec.WhichOneof("record_type")
        if which == "run":
            out["job_type"], out["group"], out["name"] = rec.run.job_type, rec.run.run_group, rec.run.display_name
            out["config"].update({u.key: json.loads(u.value_json) for u in rec.run.config.update})
        elif which == "config":
            out["config"].update({u.key: json.loads(u.value_json) for u in rec.config.update})
        elif which == "history":
            out["history"].append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                   for i in rec.history.item})
        elif which == "summary":
            out["summary"].update({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                   for i in rec.summary.update})
        elif which == "artifact":
            out["artifacts"].append({"name": rec.artifact.name, "type": rec.artifact.type})
    return out
