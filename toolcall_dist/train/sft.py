"""SFT on format: TRL's SFTTrainer on pre-tokenized conversations with assistant-only loss. No distributed code.

``prepare_dataset`` runs once on the driver (rendering through the family's chat template and masking non-assistant
tokens); ``build_trainer`` runs in every Ray worker.
"""

from __future__ import annotations

import hashlib

from toolcall_dist.formats import get_format


def cut_after_calls(records: list[dict], share: float, seed: int) -> tuple[list[dict], int]:
    """``records`` with a ``share`` of the one-call-turn conversations ending at that call turn.

    The cut drops the tool results and the final answer, so the loss of those records falls on the call turn alone:
    its arguments and the token after each ``</tool_call>``, where the model decides between another call and the end
    of its turn. Which records are cut depends only on their id and ``seed``. Conversations without a call, and those
    with more than one call turn (multi-step ones, whose later turns are what they teach), are kept whole. Returns the
    records and how many were cut.
    """
    out, cut = [], 0
    for rec in records:
        msgs = rec["messages"]
        turns = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and m.get("tool_calls")]
        digest = hashlib.sha256(f"{seed}:{rec['id']}".encode()).digest()
        if len(turns) != 1 or turns[0] == len(msgs) - 1 or int.from_bytes(digest[:8], "big") / 2**64 >= share:
            out.append(rec)
            continue
        out.append({**rec, "messages": msgs[:turns[0] + 1]})
        cut += 1
    return out, cut


def prepare_dataset(records: list[dict], model_dir: str, family: str, max_length: int, assistant_only: bool,
                    out_dir: str, trust_remote_code: bool = False) -> dict:
    """Tokenize SFT conversations to an Arrow dataset at ``out_dir``; returns counts (over-length ones counted)."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    fmt = get_format(family)
    rows, too_long = [], []
    for rec in records:
        ex = fmt.tokenize_conversation(tok, rec["messages"], rec["tools"])
        if len(ex["input_ids"]) > max_length:
            too_long.append(rec["id"])  # truncating would cut the call or answer: counted and left out
            continue
        if not assistant_only:
            ex.pop("assistant_masks")
        rows.append(ex)
    if not rows:
        raise ValueError(f"no SFT example fits sft.max_length={max_length} ({len(too_long)} over length)")
    Dataset.from_list(rows).save_to_disk(out_dir)
    n_tokens = sum(len(r["input_ids"]) for r in rows)
    return {"examples": len(rows), "over_length": len(too_long), "over_length_ids": too_long[:20],
            "tokens": n_tokens}


VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3")  # kernels that attend per packed sequence


def packed_micro_batch(train: dict, accum: int, attention: str) -> tuple[dict, int]:
    """``(train, accum)`` for the model's attention implementation, with the same rows per step.

    Padding-free packing flattens a micro batch of packed rows into one sequence. Varlen kernels (FlashAttention)
    attend within each conversation of it; with sdpa or eager, transformers builds a block-diagonal mask over the
    whole flattened sequence and attends over all of it, quadratic in micro_batch_size x max_length (8 rows of 768
    tokens ran at 0.69x the padded batches' tokens/s on a CPU; benchmarks/train_throughput.py). There, each packed
    row is its own micro batch and gradient accumulation makes up the rest.
    """
    rows = train["micro_batch_size"]
    if not train["packing"] or attention in VARLEN_ATTENTION or rows == 1:
        return train, accum
    return {**train, "micro_batch_size": 1}, accum * rows


def build_trainer(c: dict, ds_config: dict | None, accum: int, report_to: list[str]):
    """The SFTTrainer of one worker, from the plain-dict config ``c``."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from toolcall_dist.train.common import (
        base_dtype,
        common_args,
        load_model,
        new_token_rows,
        peft_config,
        score_labelled_positions_only,
        with_lora_and_new_rows,
    )
    from toolcall_dist.train.deepspeed import deepspeed_config

    score_labelled_positions_only()
    train = c["sft"]
    trust = c["model"]["trust_remote_code"]  # off unless the config says so: a checkpoint's code never runs by default
    tok = AutoTokenizer.from_pretrained(c["model_dir"], trust_remote_code=trust)
    model = load_model(c, base_dtype(c, train))
    family = c["model"]["family"]
    lora = peft_config(c["peft"], family)
    if rows := new_token_rows(c, tok):  # delimiters the base stage added must learn their embeddings
        model, lora = with_lora_and_new_rows(model, c["peft"], family, rows), None
    # Packing: best-fit-decreasing bins of whole conversations, padding-free (position ids restart per conversation,
    # which gives a block-diagonal attention mask); the assistant masks are packed with the tokens.
    train, accum = packed_micro_batch(train, accum, model.config._attn_implementation)
    if ds_config is not None:  # DeepSpeed's micro batch and accumulation follow
        ds_config = deepspeed_config(c["deepspeed"], train, accum, c["cluster"]["use_gpu"])
    args = SFTConfig(**common_args(c, train, ds_config, accum, report_to),
                     gradient_checkpointing=train["gradient_checkpointing"], train_sampling_strategy=train["sampling"],
                     packing=train["packing"], packing_strategy="bfd", padding_free=train["packing"],
                     use_liger_kernel=train["liger_kernel"])
    return SFTTrainer(model=model, args=args, train_dataset=load_from_disk(c["dataset_dir"]), processing_class=tok,
                      peft_config=lora)
