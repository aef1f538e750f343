"""A reduced quickstart, for real: tiny model built from config, SFT and DPO as Ray Train jobs (2 CPU workers, gloo,
DeepSpeed ZeRO-2, TRL), BFCL-style eval of base/SFT/DPO, W&B offline. One pipeline run shared by the module's tests
(a Ray Train fit costs ~30 s of fixed overhead here)."""

import glob
import json
import math
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REDUCED = [
    "data.n_examples=240", "data.holdout_per_category=6",
    "model.tiny.warmup_examples=160", "model.tiny.warmup_epochs=1", "model.tiny.drills_per_request=1",
    "model.tiny.hidden_size=64",
    "model.tiny.num_layers=2", "model.tiny.intermediate_size=128",
    "sft.epochs=1", "sft.micro_batch_size=4", "sft.global_batch_size=8", "sft.learning_rate=1e-3",
    "dpo.epochs=1", "dpo.micro_batch_size=4", "dpo.global_batch_size=8",
    "eval.max_new_tokens=48", "eval.heldout_categories=[simple_python,irrelevance]", "eval.categories=[]",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, compose):
    import ray

    from toolcall_dist import pipeline

    mp = pytest.MonkeyPatch()
    mp.delenv("WANDB_API_KEY", raising=False)  # offline mode is what is under test
    tmp = tmp_path_factory.mktemp("quickstart")
    cfg = compose(["+exp=quickstart", f"output_dir={tmp}/out", f"stages_dir={tmp}/stages", *REDUCED])
    result = pipeline.run(cfg)
    yield result, cfg
    ray.shutdown()
    mp.undo()


def _state(model_dir):
    from transformers import AutoModelForCausalLM

    return {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(model_dir).state_dict().items()}


def test_sft_changed_the_parameters(run):
    result, _ = run
    base = _state(result.stage_dirs["base"] / "model")
    sft = _state(result.stage_dirs["sft"] / "model")
    assert base.keys() == sft.keys()
    changed = [k for k in base if not (base[k] == sft[k]).all()]
    assert len(changed) >= len(base) // 2, f"only {len(changed)}/{len(base)} tensors changed"


def test_sft_loss_went_down(run):
    result, _ = run
    losses = [h["loss"] for h in json.loads((result.stage_dirs["sft"] / "model" / "log_history.json").read_text())
              if "loss" in h]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    info = json.loads((result.stage_dirs["sft"] / "done.json").read_text())
    assert info["metrics"]["train_loss"] > 0 and info["metrics"]["epoch"] == pytest.approx(1.0)
    assert info["dataset"]["examples"] + info["dataset"]["over_length"] > 0


def test_first_dpo_loss_is_ln2_with_reference_equal_to_policy(run):
    result, _ = run
    history = json.loads((result.stage_dirs["dpo"] / "model" / "log_history.json").read_text())
    first = next(h for h in history if "loss" in h)
    assert first["step"] == 1
    assert first["loss"] == pytest.approx(math.log(2), abs=2e-3)
    assert "rewards/margins" in first and "rewards/accuracies" in first
    assert (result.stage_dirs["dpo"] / "model" / "model.safetensors").exists()


def test_eval_table_has_base_sft_and_dpo_rows(run):
    result, _ = run
    assert set(result.scores) == {"base", "sft", "dpo"}
    header = [c.strip() for c in result.table.splitlines()[0].split("|")[1:-1]]
    assert header[3:] == ["base", "sft", "dpo", "sft - base", "dpo - sft"]
    for model in ("base", "sft", "dpo"):
        cats = result.scores[model]["heldout"]["categories"]
        assert set(cats) == {"simple_python", "irrelevance"} and cats["simple_python"]["total"] == 6
    saved = json.loads((result.output_dir / "results.json").read_text())
    assert saved == json.loads(json.dumps(result.scores))
    assert (result.output_dir / "results.md").read_text().count("| heldout | simple_python | 6 |") == 1
    assert (result.output_dir / "progression.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_base_model_answers_in_prose(run):
    """The warmed-up tiny base behaves like an untuned instruct model: no call on the held-out tool prompts."""
    result, _ = run
    gens = [json.loads(line) for line in (result.stage_dirs["eval_base"] / "generations.jsonl").open()]
    assert gens and all(g["parsed_calls"] == [] and g["stage"] == "base" for g in gens)
    assert result.scores["base"]["heldout"]["categories"]["simple_python"]["accuracy"] == 0.0


def test_wandb_offline_runs_hold_the_logged_metrics(run):
    from toolcall_dist.tracking import read_offline_run

    result, _ = run
    runs = [read_offline_run(d) for d in glob.glob(str(result.output_dir / "wandb" / "wandb" / "offline-run-*"))]
    by_job = {r["job_type"]: r for r in runs}
    assert {"data", "sft", "dpo", "eval_base", "eval_sft", "eval_dpo", "report"} <= set(by_job)
    from toolcall_dist.eval.report import progression_rows

    report = {k: v for h in by_job["report"]["history"] for k, v in h.items()}
    columns, rows = progression_rows(result.scores)
    assert (report["eval/progression/nrows"], report["eval/progression/ncols"]) == (len(rows), len(columns))
    assert report["eval/progression_chart/format"] == "png"
    sft_losses = [h["train/loss"] for h in by_job["sft"]["history"] if "train/loss" in h]
    assert sft_losses and all(math.isfinite(x) for x in sft_losses)
    dpo_keys = set().union(*by_job["dpo"]["history"])
    assert {"train/rewards/margins", "train/rewards/accuracies", "train/rewards/chosen"} <= dpo_keys
    assert by_job["sft"]["config"]["dpo"]["beta"] == 0.1  # the resolved experiment config
    evals = [h for h in by_job["eval_sft"]["history"] if "eval/heldout/simple_python" in h]
    sft_simple = result.scores["sft"]["heldout"]["categories"]["simple_python"]["accuracy"]
    assert evals[0]["eval/heldout/simple_python"] == sft_simple


def test_rerun_reuses_every_stage(run, compose):
    from toolcall_dist import pipeline

    result, cfg = run
    again = pipeline.run(cfg)
    assert {"data", "base", "sft", "dpo"} <= set(again.reused)
    assert again.scores == result.scores
    assert Path(again.stage_dirs["sft"]) == Path(result.stage_dirs["sft"])
