"""The ``deepspeed`` group: the ZeRO stage, offload and bucket sizes."""

from __future__ import annotations

from dataclasses import dataclass

from toolcall_dist.schema.checks import check


@dataclass
class DeepSpeedConfig:
    stage: int = 2  # 0 disables DeepSpeed (plain DDP)
    offload_optimizer: bool = False
    offload_params: bool = False
    # Elements per gradient reduce / all-gather bucket. DeepSpeed's default (5e8) preallocates ~2 GB fp32 buffers per
    # worker: fine on a GPU node, too much for a laptop running a 135M model.
    bucket_size: int = 500_000_000

    def __post_init__(self) -> None:
        check(self.stage in (0, 1, 2, 3), "deepspeed.stage", f"must be 0, 1, 2 or 3, got {self.stage}")
        check(self.bucket_size > 0, "deepspeed.bucket_size", f"must be > 0, got {self.bucket_size}")
        check(not self.offload_params or self.stage == 3, "deepspeed.offload_params", "needs deepspeed.stage=3")
