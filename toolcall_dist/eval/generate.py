"""Generation with transformers: real batches (left padding, KV cache), stopping at the family's turn ends.

Greedy by default; with ``sampling`` (``{"temperature", "top_p", "seed"}``) each batch samples from a torch seed of its
own, derived from ``seed`` and the batch's first prompt index, so a batch samples the same replies wherever it runs.

The work is planned once (``plan``: prompts tokenized, over-length ones set aside, the rest sorted by token length and
cut into batches) and the plan is what runs, in one process or split across Ray tasks by whole batches
(``toolcall_dist.ray_eval``): a prompt is always generated in the same batch, next to the same neighbours, so a
sharded run writes exactly what an unsharded one writes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from toolcall_dist import preempt
from toolcall_dist.eval.cpu_cache import cpu_cache

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


def load_model(model_dir: str, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = None):
    """The model in eval mode on ``device``; by default on the GPU when there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype),
                                                 trust_remote_code=trust_remote_code)
    return model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()


SHRINK_AT = 0.5  # drop the finished rows once this share of the batch has finished (None: never)


def _decode(model, enc, cache, max_new_tokens: int, stop_ids: list[int], pad_id: int,
            sampling: dict | None = None) -> list[list[int]]:
    """Each row's generated token ids (padding after its stop token). With a prefilled cache, the batch is decoded
    in stretches: once ``SHRINK_AT`` of its rows have finished, ``generate`` stops, the finished rows leave the batch
    and its cache, and the rest go on where they were. A batch otherwise decodes every row until its longest reply
    ends, and a reply or two running to the token limit keep the whole batch's cache being read."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    stops = torch.tensor(stop_ids)

    class FewLeft(StoppingCriteria):
        def __init__(self, rows: int):
            self.done = torch.zeros(rows, dtype=torch.bool)

        def __call__(self, input_ids, scores, **kwargs):
            self.done |= torch.isin(input_ids[:, -1].cpu(), stops)
            stop_all = SHRINK_AT is not None and self.done.float().mean().item() >= SHRINK_AT
            return torch.full_like(self.done, stop_all, device=input_ids.device)

    ids, mask = enc["input_ids"], enc["attention_mask"]
    kw = {"do_sample": False, "use_cache": True, "eos_token_id": stop_ids, "pad_token_id": pad_id}
    if sampling is not None:  # top_k=0: only temperature and top_p shape the draw, not a checkpoint's own default
        kw.update(do_sample=True, temperature=sampling["temperature"], top_p=sampling["top_p"], top_k=0)
    if cache is None:
        gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, **kw)
        return gen[:, ids.shape[1]:].tolist()
    replies: list[list[int]] = [[] for _ in range(len(ids))]
    rows, left = list(range(len(ids))), max_new_tokens
    while True:
        few_left = FewLeft(len(rows))
        gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=left, past_key_values=cache,
                             stopping_criteria=StoppingCriteriaList([few_left]), **kw)
        steps = gen.shape[1] - ids.shape[1]
        for r, new in zip(rows, gen[:, ids.shape[1]:].tolist(), strict=True):
            replies[r].extend(new)
        left -= steps
        live = [j for j in range(len(rows)) if not few_left.done[j]]
        if left <= 0 or not live:
            return replies
        keep = torch.tensor(live, device=ids.device)
        ids, mask = gen[keep], torch.cat([mask, mask.new_ones(len(rows), steps)], dim=1)[keep]
        for layer in cache.layers:
            layer.keys, layer.values = layer.keys[keep], layer.values[keep]
            if hasattr(layer, "batch_size"):
                layer.batch_size = len(live)
        rows = [rows[j] for j in live]


def reply_text(tok, row: list[int], stop_ids: list[int]) -> str:
    """The text of generated token ids ``row`` up to and with its first stop token. A finished row of a batch is
    filled with padding after its stop token, which was never generated."""
    end = next((k + 1 for k, t in enumerate(row) if t in stop_ids), len(row))
    return tok.decode(row[:end], skip_special_tokens=False)


def batch_seed(seed: int, batch: list[int]) -> int:
    """The torch seed a sampled batch draws from: its own, so a shard reproduces what an unsharded run samples."""
    return (seed * 1_000_003 + batch[0]) % 2**63


def run_batches(model, tok, prompts: dict[int, str], batches: list[list[int]], max_new_tokens: int,
                stop_ids: list[int], label: str = "", sampling: dict | None = None,
                progress: tuple[int, int] | None = None) -> dict[int, str]:
    """Completions for the prompts of ``batches``, greedy unless ``sampling`` (``{"temperature", "top_p", "seed"}``)
    is given; each text ends at (and keeps) the first stop token. ``progress`` (``(done before, total)``) reports
    these batches as part of a larger generation (a journal's chunks)."""
    import contextlib

    import torch

    out: dict[int, str] = {}
    start, total = progress or (0, sum(map(len, batches)))
    t0, done = time.time(), start
    for idx in batches:
        if preempt.requested():  # SIGTERM/SIGUSR1 to this process: stop between batches, as training between steps
            raise preempt.Preempted(f"{label or 'generation'} stopped after {done}/{total} prompts", partial=out)
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        seeded = contextlib.nullcontext()
        if sampling is not None:  # forked, so sampling leaves the caller's random state as it was
            devices = [model.device.index or 0] if model.device.type == "cuda" else []
            seeded = torch.random.fork_rng(devices=devices)
        with torch.inference_mode(), seeded:
            if sampling is not None:
                torch.manual_seed(batch_seed(sampling["seed"], idx))
            cache = cpu_cache(model, enc, max_new_tokens) if model.device.type == "cpu" else None
            rows = _decode(model, enc, cache, max_new_tokens, stop_ids, tok.pad_token_id, sampling)
        for i, row in zip(idx, rows, strict=True):
            out[i] = reply_text(tok, row, stop_ids)
        done += len(idx)
        secs = time.time() - t0
        log.info("[%s] generated %d/%d (%.0fs)", label, done, total, secs,
                 extra={"progress": {"label": label, "done": done, "total": total, "unit": "prompts",
                                     "rate": (done - start) / secs if secs > 0 else None,
                                     "eta_s": (total - done) * secs / (done - start)}})
    return out


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int, stop_ids: list[int],
             context: int | None = None, label: str = "") -> list[str | None]:
    """Completions of ``prompts`` in order (``None`` for an over-length prompt), batched as ``plan`` batches them."""
    p = plan(tok, prompts, batch_size, max_new_tokens, context)
    texts = run_batches(model, tok, dict(enumerate(prompts)), p.batches, max_new_tokens, stop_ids, label)
    return [texts.get(i) for i in range(len(prompts))]
