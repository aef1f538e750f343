"""Batched greedy generation with transformers (rank 0 / driver only)."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def load(model_dir: str, dtype: str = "float32", trust_remote_code: bool = False):
    """Model (on GPU when there is one) and a left-padding tokenizer, ready for batched generation.

    ``trust_remote_code`` (config ``model.trust_remote_code``, off by default) is the only way a checkpoint's own
    Python code may run."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    tok.padding_side = "left"  # generation appends on the right, so prompts must end at the same column
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype),
                                                 trust_remote_code=trust_remote_code)
    model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    return model, tok


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int, label: str = "") -> list[str]:
    """Greedy completions of ``prompts`` in their original order; special tokens are kept (they carry the calls)."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths batch with little padding
    outputs: list[str] = [""] * len(prompts)
    t0 = time.time()
    for b in range(0, len(order), batch_size):
        idx = order[b: b + batch_size]
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        for i, row in zip(idx, new, strict=True):
            text = tok.decode(row, skip_special_tokens=False)
            outputs[i] = text.replace(tok.pad_token, "") if tok.pad_token != tok.eos_token else text
        done = min(b + batch_size, len(order))
        log.info("eval %s: generated %d/%d (%.0fs)", label, done, len(order), time.time() - t0)
    return outputs
