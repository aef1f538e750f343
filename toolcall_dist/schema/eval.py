"""The ``eval`` group: BFCL categories, the held-out set, generation and scoring modes."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolcall_dist.hardware import DTYPES
from toolcall_dist.schema.checks import check

BFCL_CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple", "irrelevance",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance",
    # multi-turn: conversations with BFCL's simulated APIs (memory and web search, BFCL's agentic part, are not run)
    "multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context",
)
# The project's held-out synthetic set is written in BFCL's file format under these category names.
SYNTHETIC_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")


@dataclass
class EvalConfig:
    """Two evaluation sets, each scored with BFCL's AST rules: BFCL v4's own files and the project's held-out set."""

    categories: list[str] = field(default_factory=list)  # BFCL v4 categories (bfcl-eval package or bfcl_data_dir)
    heldout_categories: list[str] = field(  # the held-out synthetic set the data stage writes in BFCL's format
        default_factory=lambda: ["simple_python", "multiple", "parallel", "irrelevance"])
    models: list[str] = field(default_factory=lambda: ["base", "sft", "dpo"])
    limit: int | None = None  # first N entries of each category (null: all)
    live_limit: int | None = None  # first N entries of each live_* category (null: eval.limit)
    multi_turn_limit: int | None = None  # first N entries of each multi_turn_* category (null: eval.limit)
    multi_turn_step_limit: int = 20  # steps with calls per user turn before a multi-turn entry is stopped (BFCL: 20)
    bfcl_data_dir: str | None = None  # null: the installed bfcl-eval package's data
    max_new_tokens: int = 96
    batch_size: int = 32
    backend: str = "hf"  # hf: transformers, batched | vllm: vLLM (GPU; LoRA adapters served on their base)
    num_shards: int = 1  # >1: that many Ray tasks (one GPU each where cluster.use_gpu) generate a shard each
    # bfcl: replies decoded as BFCL's handler for the family decodes them | lenient: the family parser (both recorded)
    decode: str = "bfcl"
    # bfcl: BFCL's own entries prompted with BFCL's handler's text | template: through the chat template
    prompt: str = "bfcl"
    # what the models generate in (eval and mining): null: model.dtype | auto: bfloat16 where the generating hardware
    # runs it natively, else model.dtype | float32 | bfloat16 | float16
    dtype: str | None = None

    def __post_init__(self) -> None:
        for key, cats, known in (("eval.categories", self.categories, BFCL_CATEGORIES),
                                 ("eval.heldout_categories", self.heldout_categories, SYNTHETIC_CATEGORIES)):
            for cat in cats:
                check(cat in known, key, f"unknown category {cat!r}; known: {known}")
            check(len(set(cats)) == len(cats), key, f"lists a category twice: {cats}")
        check(bool(self.categories or self.heldout_categories), "eval.categories",
              "eval.categories and eval.heldout_categories are both empty: nothing to evaluate")
        for m in self.models:
            check(m in ("base", "sft", "dpo"), "eval.models", f"unknown model stage {m!r}")
        check(self.limit is None or self.limit >= 1, "eval.limit", f"must be >= 1 or null, got {self.limit}")
        check(self.live_limit is None or self.live_limit >= 1, "eval.live_limit",
              f"must be >= 1 or null, got {self.live_limit}")
        check(self.multi_turn_limit is None or self.multi_turn_limit >= 1, "eval.multi_turn_limit",
              f"must be >= 1 or null, got {self.multi_turn_limit}")
        check(self.multi_turn_step_limit >= 1, "eval.multi_turn_step_limit",
              f"must be >= 1, got {self.multi_turn_step_limit}")
        check(self.backend in ("hf", "vllm"), "eval.backend", f"must be hf or vllm, got {self.backend!r}")
        check(self.num_shards >= 1, "eval.num_shards", f"must be >= 1, got {self.num_shards}")
        check(self.batch_size >= 1, "eval.batch_size", f"must be >= 1, got {self.batch_size}")
        check(self.max_new_tokens >= 1, "eval.max_new_tokens", f"must be >= 1, got {self.max_new_tokens}")
        check(self.decode in ("bfcl", "lenient"), "eval.decode", f"must be bfcl or lenient, got {self.decode!r}")
        check(self.prompt in ("bfcl", "template"), "eval.prompt", f"must be bfcl or template, got {self.prompt!r}")
        check(self.dtype in (None, "auto", *DTYPES), "eval.dtype",
              f"must be null, auto or one of {', '.join(DTYPES)}, got {self.dtype!r}")
