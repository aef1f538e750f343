"""A real (tiny) model talked through BFCL multi-turn entries by ``runner.evaluate``: every entry gets a row with its
turns, steps, raw outputs, decoded calls and execution results; the scores and the table carry the multi_turn group.
The tiny model's 1,024 positions are too few for BFCL's multi-turn prompts (5-12k of its tokens), so a copy with a
longer context runs (RoPE takes any length); each step prefills thousands of tokens, hence the integration tier."""

from __future__ import annotations

import json

import pytest

from toolcall_dist.eval.bfcl import load_category

pytestmark = pytest.mark.integration


def _long_context_copy(model_dir, tmp_path):
    """The tiny model with a context long enough for BFCL's multi-turn prompts (its 1,024 positions are not; RoPE
    takes any length)."""
    import shutil

    out = tmp_path / "model"
    shutil.copytree(model_dir, out)
    config = json.loads((out / "config.json").read_text())
    config["max_position_embeddings"] = 32768
    (out / "config.json").write_text(json.dumps(config))
    return out


def test_a_real_model_end_to_end(shipped_tiny_model, tmp_path):
    """The tiny Qwen2 model through ``runner.evaluate`` on two multi-turn categories and one single-turn one: every
    entry gets a row with its turns, steps and raw outputs, and the scores and table carry the multi_turn group."""
    from toolcall_dist.eval.backends import run
    from toolcall_dist.eval.report import markdown_table
    from toolcall_dist.eval.runner import evaluate

    model_dir = _long_context_copy(shipped_tiny_model, tmp_path)
    e = {"limit": 2, "live_limit": None, "multi_turn_limit": 1, "multi_turn_step_limit": 2, "max_new_tokens": 8,
         "batch_size": 4, "backend": "hf", "decode": "bfcl", "prompt": "template"}
    sets = [("bfcl", None, ["simple_python", "multi_turn_base", "multi_turn_miss_func"])]
    scores, _ = evaluate(str(model_dir), "qwen2_5", e, sets, tmp_path, "base", run)
    rows = [json.loads(line) for line in (tmp_path / "generations.jsonl").read_text().splitlines()]
    assert [r["category"] for r in rows] == ["simple_python"] * 2 + ["multi_turn_base", "multi_turn_miss_func"]
    for row in rows[2:]:
        entry = load_category(row["category"], limit=1)[0]
        assert row["multi_turn"] and row["stage"] == "base"
        assert 1 <= len(row["turns"]) <= len(entry["question"])
        steps = [s for t in row["turns"] for s in t["steps"]]
        assert steps and all(set(s) == {"raw_output", "calls", "decode_error", "results"} for s in steps)
        assert row["raw_output"] == "\n".join(s["raw_output"] for s in steps)
        assert row["correct"] is False  # a 0.2M-parameter model does not solve a multi-turn entry
    s = scores["bfcl"]
    assert s["categories"]["multi_turn_base"]["total"] == 1 and s["groups"]["multi_turn"]["total"] == 2
    assert sum(s["multi_turn_errors"].values()) == 2 and s["multi_turn_errors"]["inference_error"] == 0
    assert "multi_turn" not in s["not_run"] and "agentic" in s["not_run"]
    table = markdown_table({"base": scores})
    assert "| bfcl | **multi_turn** | 2 |" in table and "multi_turn_miss_func" in table
