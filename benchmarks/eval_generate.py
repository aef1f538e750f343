"""Eval generation speed: batched (left padding, KV cache, greedy, stop at turn end) against one prompt at a time,
on the same BFCL prompts, in one run.

    python benchmarks/eval_generate.py [--model DIR] [--family qwen2_5] [--n 64] [--batch-size 16]
                                       [--max-new-tokens 48] [--categories simple_python,irrelevance]
                                       [--threads N] [--data-dir DIR]

``--model`` defaults to the quickstart's tiny model shipped in assets/stages. Prints examples/s and generated
tokens/s of both ways, the speed-up, whether both wrote the same texts, and the time split into prompt processing
(prefill) and decoding, and writes the table into docs/performance.md (``--no-doc``: print only).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, table, update_performance_doc  # noqa: E402


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the shipped tiny base model)")
    parser.add_argument("--family", default="qwen2_5")
    parser.add_argument("--n", type=int, default=64, help="prompts, split evenly over the categories")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--categories", default="simple_python,irrelevance")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--data-dir", default=None,
                        help="BFCL-layout directory, e.g. a data stage's heldout/ (default: BFCL v4's own files; "
                             "a held-out set is prompted with the training data's tools)")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/performance.md")
    parser.add_argument("--profile-prefill", action="store_true",
                        help="only profile one forward over a left-padded batch of --batch-size prompts against the "
                             "same prompts one by one (torch.profiler, top operators), then exit")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from toolcall_dist.eval.bfcl import load_category
    from toolcall_dist.eval.generate import context_length, generate, load_model, load_tokenizer, stop_token_ids
    from toolcall_dist.eval.prompts import entry_prompt
    from toolcall_dist.formats import get_format

    model_dir = args.model or str(next((ROOT / "assets" / "stages").glob("base-*/model")))
    cats = args.categories.split(",")
    fmt = get_format(args.family)
    tok, model = load_tokenizer(model_dir), load_model(model_dir)
    entries = [e for c in cats for e in load_category(c, data_dir=args.data_dir, limit=args.n // len(cats))]
    prompts = [entry_prompt(fmt, tok, e, bfcl=args.data_dir is None) for e in entries]
    if args.profile_prefill:
        _profile_prefill(model, tok, prompts[: args.batch_size])
        return
    stop, ctx, n = stop_token_ids(tok, fmt), context_length(model_dir), args.max_new_tokens
    generate(model, tok, prompts[:2], n, 2, stop, ctx)  # warm-up: first-call allocations and kernel selection

    seq, t_seq = _timed(lambda: generate(model, tok, prompts, n, 1, stop, ctx))
    bat, t_bat = _timed(lambda: generate(model, tok, prompts, n, args.batch_size, stop, ctx))
    # Prompt processing alone (one new token), to split each time into prefill and decoding.
    _, p_seq = _timed(lambda: generate(model, tok, prompts, 1, 1, stop, ctx))
    _, p_bat = _timed(lambda: generate(model, tok, prompts, 1, args.batch_size, stop, ctx))
    done = [i for i, t in enumerate(bat) if t is not None]
    new_tokens = sum(len(tok(bat[i], add_special_tokens=False)["input_ids"]) for i in done)
    same = sum(seq[i] == bat[i] for i in done)
    lengths = [len(tok(prompts[i], add_special_tokens=False)["input_ids"]) for i in done]
    params = sum(p.numel() for p in model.parameters()) / 1e6
    d_seq, d_bat = t_seq - p_seq, t_bat - p_bat
    rows = [["one at a time", f"{len(done) / t_seq:.2f}", f"{new_tokens / t_seq:.0f}", f"{t_seq:.1f}",
             f"{p_seq:.1f}", f"{d_seq:.1f}", "1.00"],
            [f"batched ({args.batch_size})", f"{len(done) / t_bat:.2f}", f"{new_tokens / t_bat:.0f}",
             f"{t_bat:.1f}", f"{p_bat:.1f}", f"{d_bat:.1f}", f"{t_seq / t_bat:.2f}"]]
    body = (f"Model `{Path(model_dir).parent.name}` ({params:.2f}M parameters), torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op threads; {len(done)} prompts ({len(prompts) - len(done)} over "
            f"length) from {', '.join(cats)}, {sum(lengths) / max(len(lengths), 1):.0f} tokens on average; greedy, "
            f"at most {n} new tokens, {new_tokens} generated. Texts identical both ways: {same}/{len(done)}. "
            f"Prefill = the same prompts with one new token; decoding = the rest.\n\n"
            + table(["generation", "examples/s", "tokens/s", "total s", "prefill s", "decoding s", "speed-up"], rows)
            + f"\n\nDecoding alone is {d_seq / max(d_bat, 1e-9):.1f}x faster batched; prefill is "
            f"{100 * p_seq / t_seq:.0f}% of the one-at-a-time time.\n")
    print(body)
    if not args.no_doc:
        update_performance_doc("eval_generate", "Eval generation: batched against one at a time",
                               "PYTHONPATH=. .venv/bin/python benchmarks/eval_generate.py "
                               + " ".join(shlex.quote(a) for a in sys.argv[1:]), body)


def _profile_prefill(model, tok, prompts: list[str]) -> None:
    """Where a padded batch's prompt processing spends its time, next to the same prompts processed one by one."""
    import torch
    from torch.profiler import profile

    padded = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    alone = [tok([p], return_tensors="pt", add_special_tokens=False) for p in prompts]
    for title, batches in ((f"one left-padded batch of {len(prompts)}", [padded]),
                           (f"the same {len(prompts)} prompts one by one", alone)):
        with torch.inference_mode():
            model(**batches[0], logits_to_keep=1)  # warm-up
            with profile() as prof:
                for enc in batches:
                    model(**enc, logits_to_keep=1)
        print(f"\n{title}:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))


if __name__ == "__main__":
    main()
