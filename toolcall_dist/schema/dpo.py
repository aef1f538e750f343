"""The ``dpo`` group: DPO's trainer settings and the mix of its pair sources."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from toolcall_dist.hardware import SETTINGS as BF16_SETTINGS
from toolcall_dist.schema.checks import check, check_weights, fraction, positive


@dataclass
class PairsConfig:
    """Weights of the DPO set's pair sources: the data stage's synthetic pairs, the mine stage's pairs, count
    pairs (end the turn or call again, from the data stage's good records: ``data/count_pairs.py``) and sibling
    pairs (a value borrowed from another call of the answer: ``data/sibling_pairs.py``). The set is the largest one
    that keeps these shares without repeating a pair; ``mined`` 0 runs no mining."""

    synthetic: float = 1.0
    mined: float = 0.0
    count: float = 0.0
    sibling: float = 0.0

    def __post_init__(self) -> None:
        check_weights(self, "dpo.pairs")


@dataclass
class DPOConfig:
    beta: float = 0.1
    loss_type: str = "sigmoid"
    # Weight of a negative log-likelihood term on the chosen reply added to the preference loss (TRL's "sft" loss
    # type, as in RPO): it keeps DPO from lowering the chosen calls' likelihood along with the rejected ones'. 0: off.
    sft_weight: float = 0.0
    epochs: float = 1.0
    learning_rate: float = 5e-5
    micro_batch_size: int = 8
    global_batch_size: int = 16
    max_length: int = 512
    warmup_ratio: float = 0.0
    lr_scheduler: str = "linear"
    sampling: str = "random"  # or sequential: pairs in the dataset's order
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, a slower step
    precompute_ref_log_probs: bool = False  # one pass of the reference before training, then no reference model
    weight_decay: float = 0.0
    bf16: Any = "auto"  # as sft.bf16
    logging_steps: int = 1
    pairs: PairsConfig = field(default_factory=PairsConfig)
    max_pairs: int | None = None  # cap on the mixed set's size, shares kept (null: the largest set the shares allow)

    def __post_init__(self) -> None:
        check(math.isfinite(self.beta) and self.beta > 0, "dpo.beta", f"must be a finite number > 0, got {self.beta}")
        check(self.loss_type in ("sigmoid", "hinge", "ipo", "robust", "bco_pair", "apo_zero", "apo_down"),
              "dpo.loss_type", f"unsupported loss type {self.loss_type!r}")
        check(math.isfinite(self.sft_weight) and self.sft_weight >= 0, "dpo.sft_weight",
              f"must be a finite number >= 0, got {self.sft_weight}")
        positive(self.epochs, "dpo.epochs")
        positive(self.learning_rate, "dpo.learning_rate")
        check(self.micro_batch_size > 0, "dpo.micro_batch_size", "must be > 0")
        check(self.max_length > 0, "dpo.max_length", f"must be > 0, got {self.max_length}")
        fraction(self.warmup_ratio, "dpo.warmup_ratio")
        check(self.sampling in ("random", "sequential"), "dpo.sampling", f"unknown sampling {self.sampling!r}")
        check(self.logging_steps > 0, "dpo.logging_steps", f"must be > 0, got {self.logging_steps}")
        check(self.bf16 in BF16_SETTINGS, "dpo.bf16", f"must be auto, true or false, got {self.bf16!r}")
        check(self.max_pairs is None or self.max_pairs >= 1, "dpo.max_pairs",
              f"must be null or >= 1, got {self.max_pairs}")
