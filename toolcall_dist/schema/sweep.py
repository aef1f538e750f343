"""Where a run sits in a Hydra multirun (``sweep.*``), and what the sweep report compares."""

from __future__ import annotations

from dataclasses import dataclass

from toolcall_dist.schema.checks import check


@dataclass
class SweepConfig:
    """Where a run sits in a Hydra multirun, and what the sweep report compares.

    ``id`` and ``trial`` are filled by resolvers (``toolcall_dist.resolvers``) inside a multirun and are null
    otherwise; they name the W&B group of the trial's stages.
    """

    id: str | None = None
    trial: str | None = None
    model: str = "dpo"  # the model stage whose scores the report compares across trials
    # Best configuration by this score of ``model``: "overall", a BFCL group (non_live, live, irrelevance,
    # relevance, simple) or a category (simple_python, ...).
    metric: str = "overall"

    def __post_init__(self) -> None:
        check(self.model in ("base", "sft", "dpo"), "sweep.model", f"unknown model stage {self.model!r}")
