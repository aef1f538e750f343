"""The ``tracking`` group: W&B."""

from __future__ import annotations

from dataclasses import dataclass

from toolcall_dist.schema.checks import check


@dataclass
class TrackingConfig:
    backend: str = "wandb"  # wandb | none
    project: str = "toolcall_dist"
    entity: str | None = None
    mode: str = "auto"  # auto: online if WANDB_API_KEY is set, else offline
    log_model: bool = False  # upload the last evaluated model (eval.models[-1]) as a W&B artifact

    def __post_init__(self) -> None:
        check(self.backend in ("wandb", "none"), "tracking.backend", f"must be wandb or none, got {self.backend!r}")
        check(self.mode in ("auto", "online", "offline", "disabled"), "tracking.mode", f"bad mode {self.mode!r}")
