"""The mine stage: the SFT model answers training prompts, its replies are judged, and pairs are mined from them.

Prompts come from the data stage's good (every shape) and no-tool records; the SFT model writes a greedy reply and
``mine.samples_per_prompt`` sampled ones to each with the eval's generation code (``eval.generate``, in this process
or sharded over Ray tasks as ``eval.num_shards`` shards the eval, here ``mine.num_shards``). ``mining.pairs.mine``
judges and pairs them; every pair is then rendered as DPO will see it and judged again from that text. Writes
``pairs.jsonl`` (what ``dpo.pairs.mined`` mixes in), ``replies.jsonl`` (every reply with its verdict) and
``stats.json``, and logs the stats to W&B from the driver.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

from toolcall_dist import atomic
from toolcall_dist.eval.error_kinds import ERROR_TYPES
from toolcall_dist.formats import get_format
from toolcall_dist.mining.judge import prompt_items
from toolcall_dist.mining.pairs import mine, rendered_ok
from toolcall_dist.stages import Context, _log_stage, _write_jsonl, read_jsonl

log = logging.getLogger("toolcall_dist")


def run_mine(ctx: Context, st, stages) -> dict:
    """Mine DPO pairs from the SFT model's replies to training prompts; returns the stage's ``done.json`` info."""
    from toolcall_dist.eval.backends import run
    from toolcall_dist.eval.generate import context_length, load_tokenizer, stop_token_ids
    from toolcall_dist.hardware import generation_dtype

    m, model, seed, decode = ctx.cfg["mine"], ctx.cfg["model"], ctx.cfg["seed"], ctx.cfg["eval"]["decode"]
    train_dir = Path(stages["data"].info()["train_dir"])
    items = prompt_items(read_jsonl(train_dir / "good.jsonl"), read_jsonl(train_dir / "no_tool.jsonl"),
                         m["prompts_per_shape"], seed)
    model_dir, trust, fmt = stages["sft"].info()["model_dir"], model["trust_remote_code"], get_format(model["family"])
    tok = load_tokenizer(model_dir, trust)
    prompts = [fmt.render_prompt(tok, it["prompt"], it["tools"]) for it in items]
    spec = {"backend": "hf", "model_dir": model_dir, "dtype": generation_dtype(ctx.cfg),
            "max_new_tokens": m["max_new_tokens"],
            "stop_ids": stop_token_ids(tok, fmt), "lora": None, "label": "mine", "trust_remote_code": trust}
    workers: list[dict] = []
    generate_fn = run
    if m["num_shards"] > 1:
        from toolcall_dist.ray_eval import generate_sharded

        generate_fn = partial(generate_sharded, ctx.cfg["cluster"], m["num_shards"], workers=workers)
    t0 = time.time()
    replies = _replies(generate_fn, spec, tok, prompts, items, m, seed, context_length(model_dir, trust))
    seconds = round(time.time() - t0, 1)
    # Each side as DPO will render it, decoded back from that text: still right (chosen) and wrong (rejected).
    pairs, rows, stats = mine(items, replies, model["family"], decode, m, seed,
                              check=lambda c: rendered_ok(model["family"], c["item"], *_texts(fmt, tok, c), decode))
    stats.update(generation_seconds=seconds, decode=decode, dtype=spec["dtype"])
    _write_jsonl(st.dir / "pairs.jsonl", pairs)
    _write_jsonl(st.dir / "replies.jsonl", rows)
    atomic.write_json(st.dir / "stats.json", stats, indent=1)
    metrics = _metrics(stats)
    log.info("[mine] %d prompts, %d replies in %.1fs; greedy right on %.0f%%; %d pairs", metrics["prompts"],
             stats["replies"], seconds, 100 * stats["greedy_correct_share"], len(pairs))
    _log_stage(ctx, "mine", {f"mine/{k}": v for k, v in metrics.items()}, _tables(stats))
    return {"pairs": "pairs.jsonl", "replies": "replies.jsonl", "stats": "stats.json", "metrics": metrics,
            "shards": workers}


def _replies(generate_fn, spec: dict, tok, prompts: list[str], items: list[dict], m: dict, seed: int,
             context: int | None) -> dict[str, list[str]]:
    """``{item id: [greedy reply, sample 1, ...]}``; a prompt over the context gets none. Greedy and sampled replies
    are generated in two passes, as a batch is either greedy or sampled."""
    from toolcall_dist.eval.generate import plan

    k = m["samples_per_prompt"]
    greedy_plan = plan(tok, prompts, m["batch_size"], m["max_new_tokens"], context)
    greedy = generate_fn(spec, {i: prompts[i] for b in greedy_plan.batches for i in b}, greedy_plan.batches)
    samples: dict[int, str] = {}
    if k:
        copies = [p for p in prompts for _ in range(k)]  # copies of a prompt plan into the same batches
        sample_plan = plan(tok, copies, m["batch_size"], m["max_new_tokens"], context)
        sampled = {**spec, "sampling": {"temperature": m["temperature"], "top_p": m["top_p"], "seed": seed}}
        samples = generate_fn(sampled, {i: copies[i] for b in sample_plan.batches for i in b}, sample_plan.batches)
    return {it["id"]: [greedy[i], *(samples[i * k + s] for s in range(k))]
            for i, it in enumerate(items) if i in greedy}


def _texts(fmt, tok, candidate: dict) -> tuple[str, str]:
    """A candidate pair's chosen and rejected completions as DPO renders them (``train.dpo.prepare_dataset``)."""
    item = candidate["item"]
    return tuple(fmt.render_completion(tok, item["prompt"], candidate[side], item["tools"])
                 for side in ("chosen", "rejected"))


def _metrics(stats: dict) -> dict:
    """Flat numbers of the stats, for W&B and the stage's ``done.json``."""
    out = {"prompts": sum(stats["prompts"].values()), "replies": stats["replies"], "pairs": stats["pairs"],
           "greedy_correct_share": stats["greedy_correct_share"], "any_correct_share": stats["any_correct_share"],
           "anchor_pairs": sum(stats["anchor_pairs"].values()), "generation_seconds": stats["generation_seconds"]}
    for e in ERROR_TYPES:
        out[f"reply_errors/{e}"] = stats["reply_errors"][e]
        out[f"error_pairs/{e}"] = stats["error_pairs"][e]
    for g, n in stats["prompts"].items():
        out[f"greedy_correct/{g}"] = stats["greedy_correct"][g] / n if n else 0.0
    return out


def _tables(stats: dict) -> dict:
    rows = [[e, stats["reply_errors"][e], stats["greedy_errors"][e], stats["error_candidates"][e],
             stats["error_pairs"][e]] for e in ERROR_TYPES]
    return {"mine/error_types": (["error_type", "replies", "greedy_replies", "candidates", "pairs"], rows)}
