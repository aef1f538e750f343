"""W&B tracking and the project's one rank-zero rule.

Only rank 0 talks to W&B. Mode ``auto`` is online when ``WANDB_API_KEY`` is set and offline otherwise; offline runs
land under ``<output_dir>/wandb`` and are uploaded later with ``wandb sync <dir>``.
"""

from __future__ import annotations

import os
from typing import Any


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

    os.makedirs(wandb_dir, exist_ok=True)
    os.environ["WANDB_DIR"] = wandb_dir  # Ray Train workers run in another working directory
    return wandb.init(
        project=tracking["project"], entity=tracking["entity"], mode=resolve_mode(tracking["mode"]),
        name=f"{name}-{stage}", group=group, job_type=stage, config=config, dir=wandb_dir, reinit="finish_previous",
    )


def finish_run(run: Any | None) -> None:
    """Flush and close ``run``: without it an offline run file written from a Ray worker stays empty."""
    if run is not None:
        run.finish()
