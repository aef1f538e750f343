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


def _prefill_alone(model, enc):
    """The batch's key/value cache, built one prompt at a time (CPU only; ``None`` where it does not apply).

    On a CPU a padded batch is slower to prefill than its prompts one by one: the padding mask moves attention off
    its causal fast path and the batch's activations no longer fit in the caches (benchmarks/eval_generate.py shows
    it). So each prompt but its last token runs alone, unpadded; the states are left-padded into one cache, and
    ``generate`` starts the batch at the last prompt column. The padded slots are masked out, and the positions that
    ``generate`` derives from the attention mask are those the prompt had alone.
    """
    import torch
    import torch.nn.functional as F
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    ids, mask = enc["input_ids"], enc["attention_mask"]
    lengths = mask.sum(dim=1).tolist()
    if min(lengths) < 2:
        return None
    width = ids.shape[1] - 1
    last_only = {"logits_to_keep": 1} if model._supports_logits_to_keep() else {}  # the logits are not used
    layers: list[list] = []
    for row, n in zip(ids, lengths, strict=True):
        out = model(input_ids=row[None, -n:-1], use_cache=True, **last_only)
        if any(type(layer) is not DynamicLayer for layer in out.past_key_values.layers):
            return None  # sliding-window or other special layers: leave the cache to generate
        for i, layer in enumerate(out.past_key_values.layers):
            pad = (0, 0, width - (n - 1), 0)  # left-pad the sequence dimension of [1, heads, seq, dim]
            if i == len(layers):
                layers.append([[], []])
            layers[i][0].append(F.pad(layer.keys, pad))
            layers[i][1].append(F.pad(layer.values, pad))
    return DynamicCache(ddp_cache_data=[(torch.cat(k), torch.cat(v)) for k, v in layers])


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
            cache = _prefill_alone(model, enc) if model.device.type == "cpu" else None
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                 eos_token_id=stop_ids, pad_token_id=tok.pad_token_id, past_key_values=cache)
        for i, row in zip(idx, gen[:, enc["input_ids"].shape[1]:].tolist(), strict=True):
            # Finished rows are filled with padding after their stop token; it was never generated.
            end = next((k + 1 for k, t in enumerate(row) if t in stop_ids), len(row))
            out[i] = tok.decode(row[:end], skip_special_tokens=False)
        done += len(idx)
        log.info("eval %s: generated %d/%d (%.0fs)", label, done, sum(map(len, batches)), time.time() - t0)
    return out


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int, stop_ids: list[int],
             context: int | None = None, label: str = "") -> list[str | None]:
    """Completions of ``prompts`` in order (``None`` for an over-length prompt), batched as ``plan`` batches them."""
    p = plan(tok, prompts, batch_size, max_new_tokens, context)
    texts = run_batches(model, tok, dict(enumerate(prompts)), p.batches, max_new_tokens, stop_ids, label)
    return [texts.get(i) for i in range(len(prompts))]
