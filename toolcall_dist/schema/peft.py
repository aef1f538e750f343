"""The ``peft`` group: LoRA or full fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass

from toolcall_dist.schema.checks import check


@dataclass
class PeftConfig:
    method: str = "none"  # none (full fine-tuning) | lora
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | None = None  # null: the family's projections (train/common.LORA_TARGETS)

    def __post_init__(self) -> None:
        check(self.method in ("none", "lora"), "peft.method", f"must be none or lora, got {self.method!r}")
        check(self.r > 0, "peft.r", "must be > 0")
        check(self.alpha > 0, "peft.alpha", f"must be > 0, got {self.alpha}")
        check(0 <= self.dropout < 1, "peft.dropout", f"must be in [0, 1), got {self.dropout}")
