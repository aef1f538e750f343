"""Greedy generation with transformers: real batches (left padding, KV cache), stopping at the family's turn ends.

The work is planned once (``plan``: prompts tokenized, over-length ones set aside, the rest sorted by token length and
cut into batches) and the plan is what runs, in one process or split across Ray tasks by whole batches
(``toolcall_dist.ray_eval``): a prompt is always generated in the same batch, next to the same neighbours, so a
sharded run writes exactly what an unsharded one writes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Which prompts run together. ``batches`` hold prompt indices; ``over_length`` maps index -> reason."""

    batches: list[list[int]] = field(default_factory=list)
    over_length: dict[int, str] = field(default_factory=dict)


def load_tokenizer(model_dir: str, trust_remote_code: bool = False):
    """The model's tokenizer, padding on the left (generation appends on the right, so prompts end in one column).

    ``trust_remote_code`` (config ``model.trust_remote_code``, off by default) is the only way a checkpoint's own
    Python code may run; the same holds for ``context_length`` and ``load_model``."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def context_length(model_dir: str, trust_remote_code: bool = False) -> int | None:
    """The model's context window from its config (``None`` when it does not say)."""
    from transformers import AutoConfig

    conf = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    return getattr(conf, "max_position_embeddings", None)


def stop_token_ids(tok, fmt) -> list[int]:
    """Ids of every token that ends an assistant turn in ``fmt`` (``<|im_end|>``; ``<|eot_id|>``/``<|eom_id|>``...).

    Raises ValueError naming the token when the tokenizer does not have it as one token: generation would never stop.
    """
    ids = []
    for text in fmt.turn_ends or (fmt.eos,):
        pieces = tok.encode(text, add_special_tokens=False)
        if len(pieces) != 1:
            raise ValueError(f"{fmt.family}: end-of-turn {text!r} is not one token in this tokenizer ({pieces})")
        ids.append(pieces[0])
    return ids


def plan(tok, prompts: list[str], batch_size: int, max_new_tokens: int, context: int | None) -> Plan:
    """Batches of similar token length (little padding); prompts that leave no room for the reply are set aside."""
    lengths = [len(ids) for ids in tok(prompts, add_special_tokens=False)["input_ids"]] if prompts else []
    out = Plan()
    fits = []
    for i, n in enumerate(lengths):
        if context is not None and n + max_new_tokens > context:
            out.over_length[i] = f"over_length: prompt of {n} tokens + {max_new_tokens} new > context {context}"
        else:
            fits.append(i)
    fits.sort(key=lambda i: (lengths[i], i))
    out.batches = [fits[b: b + batch_size] for b in range(0, len(fits), batch_size)]
    return out


def load_model(model_dir: str, dtype: str = "float32", trust_remote_code: bool = False):
    """The model in eval mode, on the GPU when there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype),
                                                 trust_remote_code=trust_remote_code)
    return model.to("cuda" if torch.cuda.is_available() else "cpu").eval()


STATIC_CACHE = True  # False keeps the dynamic cache (benchmarks/eval_generate.py measures both)


def _cpu_cache(model, enc, max_new_tokens: int):
    """The batch's key/value cache, prefilled the way a CPU is fastest (``None`` where it does not apply).

    ``generate`` then starts the batch at its last prompt column and decodes it together. Two things make it faster
    than ``generate`` prefilling a padded batch itself (docs/performance.md has the measurements):

    * the prompts (but their last tokens) run in pairs, right-padded, as many pairs side by side as torch has
      threads (``_prefill_each``): a left-padded batch moves attention off its causal fast path and no longer fits
      in the caches, so on a CPU it is slower than its prompts one by one;
    * the states go into a ``StaticCache`` sized for the whole reply: the dynamic cache copies itself at every
      decoding step, which at a batch of 32 prompts of ~350 tokens is more than half of the decoding time.

    Left padding sits in the cache as zeros that the attention mask hides; the positions ``generate`` derives from the
    mask are those each prompt had alone. Models with sliding-window or other special cache layers are left to
    ``generate``.
    """
    from transformers import DynamicCache, StaticCache
    from transformers.cache_utils import DynamicLayer, StaticLayer

    ids, mask = enc["input_ids"], enc["attention_mask"]
    lengths = mask.sum(dim=1).tolist()
    if len(lengths) < 2 or min(lengths) < 2:
        return None  # a prompt alone needs no padding and gains nothing from a static cache
    if any(type(layer) is not DynamicLayer for layer in DynamicCache(config=model.config).layers):
        return None  # sliding-window or other special layers: leave the cache to generate
    width = ids.shape[1] - 1
    states = _prefill_each(model, [row[-n:-1] for row, n in zip(ids, lengths, strict=True)])
    keys, values = [], []
    for i, (k0, v0) in enumerate(states[0]):  # each row's states, left-padded with zeros to the batch's width
        k = k0.new_zeros(len(states), k0.shape[0], width, k0.shape[2])
        v = v0.new_zeros(len(states), v0.shape[0], width, v0.shape[2])
        for r, (row_states, n) in enumerate(zip(states, lengths, strict=True)):
            k[r, :, width - (n - 1):], v[r, :, width - (n - 1):] = row_states[i]
        keys.append(k)
        values.append(v)
    static = StaticCache(config=model.config, max_cache_len=width + 1 + max_new_tokens)
    if not STATIC_CACHE or any(type(layer) is not StaticLayer for layer in static.layers):
        return DynamicCache(ddp_cache_data=list(zip(keys, values, strict=True)))
    for i, (k, v) in enumerate(zip(keys, values, strict=True)):
        static.update(k, v, i)
    return static


GROUP = 2  # rows prefilled together: pairs of neighbours (similar lengths, as the plan sorts them) beat rows alone


def _prefill_each(model, rows: list, group: int = GROUP, side_by_side: bool = True) -> list:
    """Each token row's key/value states as ``[(keys, values) per layer]``, ``[heads, len(row), dim]`` each, equal to
    the row's states computed alone.

    Rows go through the model ``group`` at a time, right-padded and without a mask: causal attention keeps a row's real
    tokens from seeing the padding after them, so attention stays on its causal fast path, and the padding's states
    are cut off. Groups run side by side on ``torch.get_num_threads()`` threads of one core each: a tiny model's
    operators on one prompt are too small to split well across cores, each being forked and joined.
    ``inference_mode`` is per thread, hence set inside each task. A model whose rotary embedding picks its
    frequencies by each forward's length (dynamic and long RoPE) runs each row alone, one at a time: padding could
    move a row across the switch, and two forwards at once would race on the frequencies. ``group=1,
    side_by_side=False`` is the plain way, each row alone on all of torch's threads
    (``benchmarks/eval_generate.py --prefill-ways`` compares them)."""
    import torch

    if rope_rewrites_itself(model):
        group, side_by_side = 1, False

    last_only = {"logits_to_keep": 1} if model._supports_logits_to_keep() else {}  # the logits are not used

    def prefill(part):
        width = max(len(row) for row in part)
        ids = part[0].new_zeros(len(part), width)  # any padding id: no real token attends to it
        for r, row in enumerate(part):
            ids[r, : len(row)] = row
        with torch.inference_mode():
            cache = model(input_ids=ids, use_cache=True, **last_only).past_key_values
        return [[(layer.keys[r, :, : len(row)], layer.values[r, :, : len(row)]) for layer in cache.layers]
                for r, row in enumerate(part)]

    parts = [rows[g: g + group] for g in range(0, len(rows), group)]
    threads = torch.get_num_threads()
    if not side_by_side or threads < 2 or len(parts) < 2:
        return [row for part in parts for row in prefill(part)]
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(threads) as pool:
            return [row for done in pool.map(prefill, parts) for row in done]
    finally:
        torch.set_num_threads(threads)


def rope_rewrites_itself(model) -> bool:
    """Whether a forward of ``model`` rewrites its rotary frequencies for the sequence length it sees (transformers'
    dynamic RoPE types and long RoPE, e.g. Phi-4-mini's): then padding changes a row's frequencies, and two forwards
    must not run at the same time."""
    for module in model.modules():
        kind = getattr(module, "rope_type", None)
        for k in (kind.values() if isinstance(kind, dict) else [kind]):
            if isinstance(k, str) and ("dynamic" in k or k == "longrope"):
                return True
    return False


def reply_text(tok, row: list[int], stop_ids: list[int]) -> str:
    """The text of generated token ids ``row`` up to and with its first stop token. A finished row of a batch is
    filled with padding after its stop token, which was never generated."""
    end = next((k + 1 for k, t in enumerate(row) if t in stop_ids), len(row))
    return tok.decode(row[:end], skip_special_tokens=False)


def run_batches(model, tok, prompts: dict[int, str], batches: list[list[int]], max_new_tokens: int,
                stop_ids: list[int], label: str = "") -> dict[int, str]:
    """Greedy completions for the prompts of ``batches``; each text ends at (and keeps) the first stop token."""
    import torch

    out: dict[int, str] = {}
    t0, done = time.time(), 0
    for idx in batches:
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.inference_mode():
            cache = _cpu_cache(model, enc, max_new_tokens) if model.device.type == "cpu" else None
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                 eos_token_id=stop_ids, pad_token_id=tok.pad_token_id, past_key_values=cache)
        for i, row in zip(idx, gen[:, enc["input_ids"].shape[1]:].tolist(), strict=True):
            out[i] = reply_text(tok, row, stop_ids)
        done += len(idx)
        log.info("eval %s: generated %d/%d (%.0fs)", label, done, sum(map(len, batches)), time.time() - t0)
    return out


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int, stop_ids: list[int],
             context: int | None = None, label: str = "") -> list[str | None]:
    """Completions of ``prompts`` in order (``None`` for an over-length prompt), batched as ``plan`` batches them."""
    p = plan(tok, prompts, batch_size, max_new_tokens, context)
    texts = run_batches(model, tok, dict(enumerate(prompts)), p.batches, max_new_tokens, stop_ids, label)
    return [texts.get(i) for i in range(len(prompts))]
