"""The ``sft`` group: SFT's trainer settings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from toolcall_dist.hardware import SETTINGS as BF16_SETTINGS
from toolcall_dist.schema.checks import check, fraction, positive

SAMPLING = ("random", "sequential", "group_by_length")  # transformers' train_sampling_strategy values used here


@dataclass
class SFTConfig:
    epochs: float = 3.0
    learning_rate: float = 2e-3
    micro_batch_size: int = 8
    global_batch_size: int = 16
    max_length: int = 512
    warmup_ratio: float = 0.05
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    assistant_only_loss: bool = True
    # Share of the call conversations that end at the assistant's call turn (no tool results, no final answer):
    # the loss of those falls on the calls and on the choice after each one, call again or end the turn
    call_turn_only: float = 0.0
    # group_by_length batches examples of similar length: far less padding on short, uneven tool-call data;
    # sequential takes them in the dataset's order (the same batches a reference loop can replay)
    sampling: str = "group_by_length"
    gradient_checkpointing: bool = False
    # Padding-free packing of whole conversations into max_length bins (block-diagonal attention, see train/sft.py)
    packing: bool = False
    # auto: bf16 mixed precision (fp32 master weights) where the training hardware runs bf16 natively, fp32
    # elsewhere; true where it does not is an error before launch (toolcall_dist/hardware.py)
    bf16: Any = "auto"
    # Liger's Triton kernels (RMSNorm, RoPE, SwiGLU; TRL keeps its own fused LM-head loss) through TRL's
    # use_liger_kernel, deprecated in TRL for Hub kernels: GPU only, needs the liger-kernel package
    liger_kernel: bool = False
    logging_steps: int = 5

    def __post_init__(self) -> None:
        positive(self.epochs, "sft.epochs")
        positive(self.learning_rate, "sft.learning_rate")
        check(self.micro_batch_size > 0, "sft.micro_batch_size", "must be > 0")
        check(self.max_length > 0, "sft.max_length", f"must be > 0, got {self.max_length}")
        fraction(self.warmup_ratio, "sft.warmup_ratio")
        fraction(self.call_turn_only, "sft.call_turn_only")
        check(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "sft.weight_decay",
              f"must be a finite number >= 0, got {self.weight_decay}")
        check(self.logging_steps > 0, "sft.logging_steps", f"must be > 0, got {self.logging_steps}")
        check(self.sampling in SAMPLING, "sft.sampling", f"unknown sampling {self.sampling!r}")
        check(self.bf16 in BF16_SETTINGS, "sft.bf16", f"must be auto, true or false, got {self.bf16!r}")
