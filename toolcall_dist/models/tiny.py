"""The tiny CPU models: the family's architecture (Qwen2, Llama, Mistral or Phi-3) built from config, a tokenizer
trained here whose format delimiters are single special tokens, and two training phases so that "base" behaves like a
real instruct model: it reads the request (reading pretraining on "repeat after me" chats teaches it to copy from the
prompt), and it answers in prose, never with a call (the prose warm-up).

The build is deterministic from ``tiny.seed`` and the conversations it is given; the result is a normal Hugging Face
directory (config, safetensors, tokenizer with chat template) that every later stage loads like any checkpoint.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

from toolcall_dist import atomic
from toolcall_dist.formats import get_format

log = logging.getLogger(__name__)

# Bumped when the build's code changes the weights it makes from the same config; part of the base stage's key.
# 2: training on the ids of the tokenizer as it loads from the saved directory.
BUILD_VERSION = 2


def _render(fmt, messages, tools) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    from toolcall_dist.formats.base import as_template_tools

    specials = {"bos_token": fmt.bos or "", "eos_token": fmt.eos}
    rendered, _ = render_jinja_template([fmt.prepare(messages, tools)], tools=as_template_tools(tools),
                                        chat_template=fmt.chat_template, **specials, **fmt.template_kwargs)
    return rendered[0]


def train_tokenizer(texts: list[str], vocab_size: int, family: str):
    """A byte-level BPE trained on ``texts`` whose format delimiters are single special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    fmt = get_format(family)
    specials = [fmt.pad, *(t for t in fmt.special_tokens if t != fmt.pad)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    bos = {"bos_token": fmt.bos} if fmt.bos else {}  # only families whose template writes one
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=fmt.eos, pad_token=fmt.pad, **bos)
    fast.chat_template = fmt.chat_template
    return fast


# The architecture of each family's real checkpoints (Phi-4-mini is a Phi-3 architecture).
ARCHITECTURES = {"qwen2_5": "qwen2", "qwen3": "qwen2", "smollm2": "qwen2", "llama3": "llama", "mistral": "mistral",
                 "phi4": "phi3"}


def tiny_model(tiny: dict, family: str, tokenizer):
    """A randomly initialised model of ``family``'s architecture, sized by ``tiny`` (seed the RNG first)."""
    import transformers

    arch = ARCHITECTURES[family]
    sizes = dict(
        vocab_size=len(tokenizer), hidden_size=tiny["hidden_size"], num_hidden_layers=tiny["num_layers"],
        num_attention_heads=tiny["num_heads"], num_key_value_heads=tiny["num_kv_heads"],
        intermediate_size=tiny["intermediate_size"], max_position_embeddings=tiny["max_position_embeddings"],
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id, attention_dropout=0.0,
    )
    if arch == "qwen2":
        return transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**sizes))
    if arch == "llama":
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(**sizes))
    if arch == "mistral":
        return transformers.MistralForCausalLM(transformers.MistralConfig(**sizes, sliding_window=None))
    return transformers.Phi3ForCausalLM(transformers.Phi3Config(**sizes, resid_pdrop=0.0, embd_pdrop=0.0))


def build_tiny(tiny: dict, family: str, corpus: list[dict], warmup: list[dict], out_dir: str | Path,
               reading: list[dict] = ()) -> Path:
    """Train the tokenizer on ``corpus``, pretrain the model on ``reading`` for ``tiny["reading_steps"]`` steps, warm
    it up on ``warmup``, save to ``out_dir``.

    All are lists of ``{"messages": [...], "tools": [...]}``; the assistant turns of ``reading`` and ``warmup`` must
    be prose, and the corpus should also hold tool calls and results so their JSON tokenizes compactly.
    """
    import torch

    out_dir = Path(out_dir)
    fmt = get_format(family)
    t0 = time.time()
    texts = [_render(fmt, c["messages"], c["tools"]) for c in corpus]
    tokenizer = train_tokenizer(texts, tiny["vocab_size"], family)
    assert not fmt.special_token_problems(tokenizer), fmt.special_token_problems(tokenizer)
    log.info("tiny model: tokenizer trained (%d tokens) in %.1fs", len(tokenizer), time.time() - t0)

    torch.manual_seed(tiny["seed"])
    model = tiny_model(tiny, family, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("tiny model: %.2fM parameters", n_params / 1e6)
    tokenizer = _as_loaded(tokenizer, model, out_dir)
    assert not fmt.special_token_problems(tokenizer), fmt.special_token_problems(tokenizer)

    if any(m.get("tool_calls") for c in [*reading, *warmup] for m in c["messages"]):
        raise ValueError("tiny model warm-up conversations must be prose-only")
    model.train()
    if reading and tiny["reading_steps"]:
        examples = [fmt.tokenize_conversation(tokenizer, c["messages"], c["tools"]) for c in reading]
        _train(model, examples, tokenizer.pad_token_id, tiny["reading_lr"], tiny["seed"], tiny["reading_steps"],
               tiny["reading_batch_size"], "reading", by_length=False)
    examples = [fmt.tokenize_conversation(tokenizer, c["messages"], c["tools"]) for c in warmup]
    batch_size = 16
    steps = tiny["warmup_epochs"] * ((len(examples) + batch_size - 1) // batch_size)
    _train(model, examples, tokenizer.pad_token_id, tiny["warmup_lr"], tiny["seed"], steps, batch_size, "warm-up")
    model.eval()

    model.generation_config.pad_token_id = tokenizer.pad_token_id
    # Llama ends a turn with <|eot_id|> or <|eom_id|>: generation stops at either.
    ends = [tokenizer.convert_tokens_to_ids(t) for t in fmt.turn_ends]
    model.generation_config.eos_token_id = ends if len(ends) > 1 else tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    build = {"tiny": tiny, "parameters": n_params, "seconds": round(time.time() - t0, 1)}
    atomic.write_json(out_dir / "build.json", build, indent=1)
    return out_dir


def _as_loaded(tokenizer, model, out_dir: Path):
    """The tokenizer as every later stage will load it from ``out_dir``: saved next to the model's config, then read
    back with ``AutoTokenizer``.

    The round trip matters: the model type in config.json picks the tokenizer class, and a family's class can bring
    its own pre-tokenizer (Qwen2's splits digits one by one), so the freshly trained object and the loaded one can
    turn the same text into different ids. Training on the loaded one's ids is training on what SFT, DPO and the
    eval will feed the model.
    """
    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return AutoTokenizer.from_pretrained(out_dir)


def _train(model, examples: list[dict], pad_id: int, lr: float, seed: int, steps: int, batch_size: int,
           phase: str, by_length: bool = True) -> None:
    """Plain single-process training on assistant tokens only (this is model construction, not the recipe): ``steps``
    AdamW steps over batches visited in a shuffled order each pass; ``by_length`` batches examples of similar length
    (little padding), otherwise each pass batches a fresh shuffle."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    ramp = max(1, steps // 10)  # linear ramp-up, then cosine decay to 10% of the peak
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / ramp) * (
        0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))))
    step, t0 = 0, time.time()
    order = list(range(len(examples)))
    if by_length:
        order.sort(key=lambda j: len(examples[j]["input_ids"]))
    while step < steps:
        if not by_length:
            rng.shuffle(order)
        batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(batches)
        for idx in batches[: steps - step]:
            batch = [examples[j] for j in idx]
            width = max(len(e["input_ids"]) for e in batch)
            ids = torch.full((len(batch), width), pad_id)
            labels = torch.full((len(batch), width), -100)
            attn = torch.zeros((len(batch), width), dtype=torch.long)
            for r, e in enumerate(batch):
                n = len(e["input_ids"])
                ids[r, :n] = torch.tensor(e["input_ids"])
                attn[r, :n] = 1
                labels[r, :n] = torch.where(torch.tensor(e["assistant_masks"]) == 1, ids[r, :n], -100)
            loss = model(input_ids=ids, attention_mask=attn, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 50 == 0 or step == steps:
                log.info("tiny model %s: step %d/%d loss %.3f (%.0fs)", phase, step, steps, loss.item(),
                         time.time() - t0)
