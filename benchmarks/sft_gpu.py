"""SFT on a Qwen2.5-0.5B-sized model on one GPU: effective tokens/s and MFU, padded against packed batches, with
and without Liger's kernels.

    python benchmarks/sft_gpu.py [--size 0.5b|tiny] [--steps 40] [--max-length 1024] [--micro-batch 8]
                                 [--examples 3000] [--attn sdpa|flash_attention_2] [--variants padded,packed,...]

Model: Qwen2.5-0.5B's architecture (hidden 896, 24 layers, 14 query / 2 key-value heads, MLP 4864, vocabulary
151,936, tied embeddings) built from its config with random weights: throughput needs no trained weights and no
download. Data: the project's synthetic SFT conversations in the qwen2_5 format, tokenized with the shipped tiny
tokenizer (its ids lie inside the vocabulary; the LM head still computes all 151,936 logits). Each variant runs in its
own process with the project's SFT trainer (``train/sft.build_trainer``), bf16, one process on one GPU, no DeepSpeed.

MFU = 6 x parameters x effective tokens/s over the GPU's bf16 matrix-product rate measured in the same run (an
8192 x 8192 x 8192 product). Attention's own FLOPs are left out, so it is a lower bound; padding tokens are computed
but not counted, which is what packing wins back. A Liger variant where Liger cannot run (no GPU, no
``liger-kernel``) is listed with the reason instead of a figure. ``--size tiny`` runs the same code on a CPU in
float32 to check it; only a GPU run writes docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    answer_part,
    compose,
    compose_config,
    random_model,
    run_part,
    table,
    update_performance_doc,
    worker_config,
)

STEADY_AFTER = 3  # steps left out of the steady state (allocator warm-up, kernel autotuning)
SIZES = {  # Qwen2.5-0.5B's shape, and a tiny one that runs the same code on a CPU (its vocabulary: the tokenizer's)
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6),
    "tiny": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, max_position_embeddings=2048, rope_theta=1e4),
}
VARIANTS = ("padded", "packed", "padded+liger", "packed+liger")


def _overrides(args) -> list[str]:
    gpu = args.size != "tiny"
    return ["+exp=quickstart", "tracking.backend=none", f"data.n_examples={args.examples}", "sft.epochs=1",
            f"sft.micro_batch_size={args.micro_batch}", f"sft.global_batch_size={args.micro_batch}",
            "sft.logging_steps=1", "sft.sampling=random", f"sft.max_length={args.max_length}",
            "cluster.checkpoint_steps=0", "cluster.num_workers=1", "deepspeed=none", "peft=none",
            f"cluster.use_gpu={str(gpu).lower()}", f"sft.bf16={str(gpu).lower()}",
            f"model.dtype={'bfloat16' if gpu else 'float32'}",
            f"model.attn_implementation={args.attn or 'null'}"]


def prepare(args, work: Path) -> None:
    """Data stage, the random-weight model and the SFT dataset, written once under ``work``."""
    from toolcall_dist import pipeline
    from toolcall_dist.stages import read_jsonl
    from toolcall_dist.train import sft

    overrides = [*_overrides(args), f"output_dir={work}/run", f"stages_dir={work}/stages", "stages=[data]"]
    result = pipeline.run(compose_config(overrides))
    train_dir = result.stage_dirs["data"] / "train"
    shape = dict(SIZES[args.size])
    random_model(work / "model_in", shape.pop("hidden_size"), shape.pop("num_hidden_layers"),
                 "bfloat16" if args.size != "tiny" else "float32", **shape)
    records = read_jsonl(train_dir / "good.jsonl") + read_jsonl(train_dir / "no_tool.jsonl")
    stats = sft.prepare_dataset(records, str(work / "model_in"), "qwen2_5", args.max_length, True,
                                str(work / "sft_dataset"))
    stats["parameters"] = _parameters(work / "model_in")
    (work / "prepared.json").write_text(json.dumps(stats))


def _parameters(model_dir: Path) -> int:
    """Parameters of the model in ``model_dir``, counted without materialising its weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    return sum(p.numel() for p in model.parameters())


def bf16_matmul_rate() -> float | None:
    """The GPU's measured bf16 matrix-product rate in FLOP/s (``None`` without a GPU)."""
    import torch

    if not torch.cuda.is_available():
        return None
    n = 8192
    a, b = (torch.randn(n, n, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    reps, t0 = 50, time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def why_not(variant: str) -> str | None:
    """Why a variant cannot run on this machine, or ``None``."""
    import torch
    from transformers.utils import is_liger_kernel_available

    if "liger" in variant and not torch.cuda.is_available():
        return "Liger's kernels are Triton GPU kernels; no GPU here"
    if "liger" in variant and not is_liger_kernel_available():
        return "the liger-kernel package is not installed"
    return None


def part(variant: str, args, work: Path) -> dict:
    """One variant, trained in this process for ``args.steps`` optimizer steps."""
    import torch
    import transformers

    from toolcall_dist.train import common, sft

    cfg = compose(_overrides(args))
    cfg["sft"]["packing"] = variant.startswith("packed")
    cfg["sft"]["liger_kernel"] = "liger" in variant
    c = worker_config(cfg, "sft", work / "model_in", work / "sft_dataset", work / variant)
    trainer = sft.build_trainer(c, None, 1, [])
    trainer.args.max_steps = args.steps
    timer = type("Timer", (common.StepTimes, transformers.TrainerCallback), {})()
    trainer.add_callback(timer)
    trainer.train()
    timing = timer.summary(STEADY_AFTER)
    s0, s1, secs = timing["steady_from_step"], timing["steady_to_step"], timing["steady_seconds"]
    at = {h["step"]: h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h}
    out = {"seconds_per_step": secs / (s1 - s0), "tokens_per_s": (at[s1] - at[s0]) / secs,
           "micro_batch": trainer.args.per_device_train_batch_size,
           "accumulation": trainer.args.gradient_accumulation_steps,
           "attention": trainer.model.config._attn_implementation}
    if torch.cuda.is_available():
        out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="0.5b")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per variant")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--examples", type=int, default=3000, help="data.n_examples")
    parser.add_argument("--attn", default=None, help="model.attn_implementation (default: transformers' own)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--work", default=None)
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="sft_gpu_"))
    if answer_part(args, work, part):
        return
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; known: {VARIANTS}")
    import torch

    if args.size != "tiny" and not torch.cuda.is_available():
        raise SystemExit(f"--size {args.size} trains in bf16 on a GPU and there is none; --size tiny runs the same "
                         "code on a CPU")
    prepare(args, work)
    rate, results = bf16_matmul_rate(), {}
    for v in variants:
        if (reason := why_not(v)) is not None:
            results[v] = {"not_run": reason}
            continue
        results[v] = run_part(__file__, v, work, sys.argv[1:])  # its --part and --work come last and win
        print(v, results[v], flush=True)
    report(args, work, rate, results)


def report(args, work: Path, rate: float | None, r: dict) -> None:
    prepared = json.loads((work / "prepared.json").read_text())
    n = prepared["parameters"]
    base = next((x["tokens_per_s"] for x in r.values() if "tokens_per_s" in x), None)
    rows = []
    for v, x in r.items():
        if "not_run" in x:
            rows.append([v, "-", "-", "-", "-", "-", f"not run: {x['not_run']}"])
            continue
        mfu = f"{100 * 6 * n * x['tokens_per_s'] / rate:.1f}%" if rate else "- (no GPU)"
        mem = f"{x['peak_gpu_gb']:.1f} GB" if "peak_gpu_gb" in x else "-"
        rows.append([v, f"{x['tokens_per_s']:,.0f}", f"{x['tokens_per_s'] / base:.2f}", mfu,
                     f"{x['seconds_per_step']:.3f}", mem,
                     f"{x['attention']}; micro batch {x['micro_batch']} x {x['accumulation']}"])
    peak = f"{rate / 1e12:.0f} TFLOP/s" if rate else "not measured (no GPU)"
    body = (f"Model: Qwen2 architecture, {args.size} shape, {n / 1e6:,.1f}M parameters, random weights; data: "
            f"{prepared['examples']} SFT conversations ({prepared['tokens']:,} tokens), max length {args.max_length}, "
            f"micro batch {args.micro_batch}; {args.steps} steps per variant, the first {STEADY_AFTER} left out. "
            f"Measured bf16 matrix-product rate: {peak}. MFU = 6 x parameters x effective tokens/s over that rate "
            f"(attention FLOPs not counted).\n\n"
            + table(["variant", "effective tokens/s", "ratio", "MFU", "s/step", "peak GPU memory", "attention; batch"],
                    rows) + "\n")
    print(body)
    if rate is None:
        print("no GPU: docs/performance.md left as it is")
        return
    update_performance_doc("sft_gpu", "SFT on a GPU: tokens/s and MFU on a 0.5B-sized model",
                           "PYTHONPATH=. python benchmarks/sft_gpu.py " + " ".join(sys.argv[1:]), body)


if __name__ == "__main__":
    main()
