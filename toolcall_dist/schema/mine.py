"""The ``mine`` group: pairs mined from the SFT model's own replies (``toolcall_dist/mining/``)."""

from __future__ import annotations

from dataclasses import dataclass

from toolcall_dist.schema.checks import check, positive

MINE_CHOSEN = ("gold", "sample")


@dataclass
class MineConfig:
    """Pairs mined from the SFT model's own replies to training prompts (toolcall_dist/mining/) for dpo.pairs.mined."""

    prompts_per_shape: int = 40  # training prompts drawn per good-call shape, and from the no-tool prompts
    samples_per_prompt: int = 4  # sampled replies per prompt, besides the greedy one (0: greedy only)
    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 96
    batch_size: int = 32
    num_shards: int = 1  # >1: that many Ray tasks generate a shard each (as eval.num_shards); not in the cache key
    chosen: str = "gold"  # gold: the prompt's known reply | sample: a correct reply of the model's (gold if none)
    max_pairs_per_prompt: int = 2  # distinct wrong replies of one prompt kept as pairs
    # Cap on any one error type's share of the mined error pairs (raised to 1/k when only k types occur): one
    # dominant mistake, too few calls say, would otherwise teach its opposite everywhere.
    max_share_per_error: float = 0.35
    # Share of the mined set that anchors what the model already gets right: its correct reply (chosen) against a
    # synthetic corruption of it (rejected), spread over the shapes it answers correctly.
    anchor_share: float = 0.25

    def __post_init__(self) -> None:
        for key in ("prompts_per_shape", "max_new_tokens", "batch_size", "num_shards", "max_pairs_per_prompt"):
            check(getattr(self, key) >= 1, f"mine.{key}", f"must be >= 1, got {getattr(self, key)}")
        check(self.samples_per_prompt >= 0, "mine.samples_per_prompt", f"must be >= 0, got {self.samples_per_prompt}")
        positive(self.temperature, "mine.temperature")
        check(0 < self.top_p <= 1, "mine.top_p", f"must be in (0, 1], got {self.top_p}")
        check(self.chosen in MINE_CHOSEN, "mine.chosen", f"must be one of {MINE_CHOSEN}, got {self.chosen!r}")
        check(0 < self.max_share_per_error <= 1, "mine.max_share_per_error",
              f"must be in (0, 1], got {self.max_share_per_error}")
        check(0 <= self.anchor_share < 1, "mine.anchor_share", f"must be in [0, 1), got {self.anchor_share}")
