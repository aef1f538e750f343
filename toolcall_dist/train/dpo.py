"""DPO against bad calls: TRL's DPOTrainer on (prompt, chosen, rejected) text in the family's template.

The SFT checkpoint is both the starting policy and the frozen reference (TRL reloads it from the policy's
``_name_or_path``; with LoRA the reference is the policy with its adapter disabled). No distributed code.
"""

from __future__ import annotations

from toolcall_dist.formats import get_format


def prepare_dataset(pairs: list[dict], model_dir: str, family: str, max_length: int, out_dir: str,
                    trust_remote_code: bool = False) -> dict:
    """Render preference pairs to prompt/chosen/rejected text at ``out_dir``; over-length pairs are counted."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    fmt = get_format(family)
    rows, too_long, kinds = [], [], {}
    for p in pairs:
        prompt = fmt.render_prompt(tok, p["prompt"], p["tools"])
        chosen = fmt.render_completion(tok, p["prompt"], p["chosen"][0], p["tools"])
        rejected = fmt.render_completion(tok, p["prompt"], p["rejected"][0], p["tools"])
        n = len(tok(prompt, add_special_tokens=False)["input_ids"])
        longest = max(len(tok(prompt + x, add_special_tokens=False)["input_ids"]) for x in (chosen, rejected))
        if longest > max_length or n >= max_length:
            too_long.append(p["id"])
            continue
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    if not rows:
        raise ValueError(f"no DPO pair fits dpo.max_length={max_length} ({len(too_long)} over length)")
    Dataset.from_list(rows).save_to_disk(out_dir)
    return {"pairs": len(rows), "over_length": len(too_long), "over_length_ids": too_long[:20], "kinds": kinds}


def build_trainer(c: dict, ds_config: dict | None, accum: int, report_to: list[str]):
    """The DPOTrainer of one worker, from the plain-dict config ``c``."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from toolcall_dist.train import common

    common.score_labelled_positions_only()
    train = c["dpo"]
    trust = c["model"]["trust_remote_code"]  # off unless the config says so: a checkpoint's code never runs by default
    tok = AutoTokenizer.from_pretrained(c["model_dir"], trust_remote_code=trust)
    model = common.load_model(c, common.base_dtype(c, train))
    losses = {"loss_type": [train["loss_type"]]}
    if train["sft_weight"]:  # the preference loss plus NLL on the chosen reply
        losses = {"loss_type": [train["loss_type"], "sft"], "loss_weights": [1.0, train["sft_weight"]]}
    args = DPOConfig(**common.common_args(c, train, ds_config, accum, report_to), beta=train["beta"], **losses,
                     train_sampling_strategy=train["sampling"],
                     gradient_checkpointing=train["gradient_checkpointing"],  # TRL's default would be on
                     precompute_ref_log_probs=train["precompute_ref_log_probs"])
    return DPOTrainer(model=model, args=args, train_dataset=load_from_disk(c["dataset_dir"]), processing_class=tok,
                      peft_config=common.peft_config(c["peft"], c["model"]["family"]))
