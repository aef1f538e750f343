"""The mine stage on the shipped tiny model: pairs checked from the text DPO trains on, stats in stats.json and W&B,
and the stage reused from the cache when nothing it reads has changed."""

import glob
import json

import pytest

from toolcall_dist import pipeline

pytestmark = pytest.mark.integration

OVERRIDES = ["+exp=quickstart", "stages=[mine]", "data.n_examples=120", "data.eval_examples=0",
             "data.holdout_per_category=1", "data.leakage_check=false", "mine.prompts_per_shape=2",
             "mine.samples_per_prompt=1", "mine.max_new_tokens=24", "mine.batch_size=8"]


def test_mine_stage_writes_checked_pairs_and_is_reused(compose, tmp_path, shipped_tiny_model):
    from omegaconf import OmegaConf

    from toolcall_dist.eval.generate import load_tokenizer
    from toolcall_dist.formats import get_format
    from toolcall_dist.mining.judge import judge_reply, prompt_items
    from toolcall_dist.stages import read_jsonl
    from toolcall_dist.tracking import read_offline_run

    paths = [f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages"]
    cfg = compose([*OVERRIDES, *paths, "tracking.mode=offline"])
    # The SFT stage the miner reads is the shipped tiny model, put where the pipeline looks for it: what is tested
    # here is mining, not training.
    sft = pipeline.plan_stages(OmegaConf.to_container(cfg, resolve=True), tmp_path / "stages")[0]["sft"]
    sft.dir.mkdir(parents=True)
    sft.finish({"model_dir": str(shipped_tiny_model)})

    result = pipeline.run(cfg)
    mine_dir = result.stage_dirs["mine"]
    assert "mine" not in result.reused and "dpo" not in result.stage_dirs  # stages=[mine] trains nothing
    stats = json.loads((mine_dir / "stats.json").read_text())
    replies = read_jsonl(mine_dir / "replies.jsonl")
    assert sum(stats["prompts"].values()) == 10 and len(replies) == stats["replies"] == 20  # greedy + 1 sample
    assert sum(stats["reply_errors"].values()) == stats["replies"] - stats["correct_replies"]
    assert 0 <= stats["greedy_correct_share"] <= 1 and stats["decode"] == "bfcl"

    # Every pair, rendered as DPO renders it and decoded back as the eval decodes: chosen right, rejected wrong.
    pairs = read_jsonl(mine_dir / "pairs.jsonl")
    assert pairs and len(pairs) == stats["pairs"]
    train = result.stage_dirs["data"] / "train"
    items = {it["id"]: it for it in prompt_items(read_jsonl(train / "good.jsonl"), read_jsonl(train / "no_tool.jsonl"),
                                                 per_shape=2, seed=0)}
    fmt, tok = get_format("qwen2_5"), load_tokenizer(str(shipped_tiny_model))
    for p in pairs:
        item = items[p["record_id"]]
        chosen, rejected = (fmt.render_completion(tok, p["prompt"], p[side][0], p["tools"])
                            for side in ("chosen", "rejected"))
        assert judge_reply("qwen2_5", chosen, item, "bfcl")["correct"], p
        assert not judge_reply("qwen2_5", rejected, item, "bfcl")["correct"], p
        if p["pair_kind"] == "mined":
            own = next(r for r in replies if r["id"] == p["record_id"] and r["reply"] == p["reply"])
            assert not own["correct"] and own["error_type"] == p["error_type"]

    (run,) = [r for r in map(read_offline_run, glob.glob(str(tmp_path / "out" / "wandb" / "wandb" / "offline-run-*")))
              if r["job_type"] == "mine"]
    logged = {k: v for row in run["history"] for k, v in row.items()}
    assert logged["mine/pairs"] == len(pairs) and logged["mine/greedy_correct_share"] == stats["greedy_correct_share"]
    assert logged["mine/reply_errors/no_call"] == stats["reply_errors"]["no_call"]

    before = {f.name: f.stat().st_mtime_ns for f in mine_dir.iterdir()}
    again = pipeline.run(compose([*OVERRIDES, *paths, "tracking=none", "dpo.beta=0.5", "mine.num_shards=2"]))
    assert again.stage_dirs["mine"] == mine_dir and "mine" in again.reused  # nothing the miner reads has changed
    assert {f.name: f.stat().st_mtime_ns for f in mine_dir.iterdir()} == before
