"""The pipeline's content-addressed cache and the data stage, run for real (no Ray needed for these stages)."""

import json

import pytest
from omegaconf import OmegaConf

from toolcall_dist import pipeline
from toolcall_dist.eval.bfcl import load_category

pytestmark = pytest.mark.unit


def test_stage_key_depends_on_config_and_upstream():
    a = pipeline.stage_key("sft", "data123", {"epochs": 1})
    assert a == pipeline.stage_key("sft", "data123", {"epochs": 1})
    assert a != pipeline.stage_key("sft", "data124", {"epochs": 1})
    assert a != pipeline.stage_key("sft", "data123", {"epochs": 2})
    assert a != pipeline.stage_key("dpo", "data123", {"epochs": 1})


def test_prebuilt_stage_is_used_and_relative_dirs_resolve(tmp_path):
    shipped = tmp_path / "assets" / "base-abc"
    (shipped / "model").mkdir(parents=True)
    (shipped / "done.json").write_text(json.dumps({"model_dir": "model", "hub_dir": "Org/name"}))
    st = pipeline.Stage(tmp_path / "stages", "base", "abc", prebuilt=tmp_path / "assets")
    assert st.done and st.dir == shipped
    info = st.info()
    assert info["model_dir"] == str(shipped / "model")
    assert info["hub_dir"] == "Org/name"  # a hub id is not a path under the stage
    own = tmp_path / "stages" / "base-abc"
    own.mkdir(parents=True)
    (own / "done.json").write_text("{}")
    assert pipeline.Stage(tmp_path / "stages", "base", "abc", prebuilt=tmp_path / "assets").dir == own


@pytest.fixture(scope="module")
def data_run(tmp_path_factory, compose):
    tmp = tmp_path_factory.mktemp("data")
    cfg = compose(["+exp=quickstart", "stages=[data]", "tracking=none", f"output_dir={tmp}/out",
                   f"stages_dir={tmp}/stages", "data.n_examples=200", "data.holdout_per_category=5",
                   "data.ratios.good=0.5", "data.ratios.bad=0.3", "data.ratios.no_tool=0.2"])
    return pipeline.run(cfg), cfg


def test_data_stage_counts_follow_the_ratios(data_run):
    result, _ = data_run
    info = json.loads((result.stage_dirs["data"] / "done.json").read_text())
    assert info["counts"]["good"] == 100 and info["counts"]["bad"] == 60 and info["counts"]["no_tool"] == 40
    lines = (result.stage_dirs["data"] / "train" / "bad.jsonl").read_text().splitlines()
    assert len(lines) == 60 and all(json.loads(x)["class"] == "bad" for x in lines)
    stats = json.loads((result.stage_dirs["data"] / "stats.json").read_text())
    assert stats["counts"]["train"] == info["counts"] and stats["class_ratios"] == {"good": 0.5, "bad": 0.3,
                                                                                    "no_tool": 0.2}
    assert stats["quarantined"] == info["quarantined"] == 0
    for name in ("sft", "dpo", "heldout"):
        assert (result.stage_dirs["data"] / "hf" / name / "dataset_dict.json").exists()


def test_heldout_set_is_bfcl_format_and_disjoint_from_training(data_run):
    from toolcall_dist.data.synthetic import dedup_key

    result, _ = data_run
    d = result.stage_dirs["data"]
    train_keys = {dedup_key(json.loads(x)) for cls in ("good", "no_tool", "bad", "when")
                   for x in (d / "train" / f"{cls}.jsonl").read_text().splitlines()}
    for cat in ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"):
        entries = load_category(cat, data_dir=d / "heldout")
        assert len(entries) == 5
        for e in entries:
            user = [m for m in e["question"][0] if m["role"] == "user"][0]["content"]
            assert (tuple(f["name"] for f in e["function"]), user) not in train_keys
            assert (e["ground_truth"] is None) == (cat == "irrelevance")


def test_rerun_reuses_the_data_stage(data_run):
    result, cfg = data_run
    before = (result.stage_dirs["data"] / "train" / "good.jsonl").stat().st_mtime_ns
    again = pipeline.run(cfg)
    assert again.reused == ["data"] and again.stage_dirs["data"] == result.stage_dirs["data"]
    assert (again.stage_dirs["data"] / "train" / "good.jsonl").stat().st_mtime_ns == before


def test_eval_of_a_local_model_dir_on_real_bfcl_data(tmp_path, compose):
    """`model.path` takes a local directory exactly as it takes a hub id; `eval=bfcl` reads BFCL v4's own files."""
    from toolcall_dist.formats import get_format
    from toolcall_dist.formats.bfcl_decode import bfcl_decode

    (model_dir,) = (pipeline.PROJECT_ROOT / "assets" / "stages").glob("base-*/model")
    cfg = compose(["+exp=qwen_dpo", f"model.path={model_dir}", "model.dtype=float32", "stages=[eval]",
                   "eval.models=[base]", "eval.categories=[simple_python,irrelevance]", "eval.limit=3",
                   "eval.max_new_tokens=12", "eval.batch_size=3", "tracking=none", f"output_dir={tmp_path}/out",
                   f"stages_dir={tmp_path}/stages"])
    result = pipeline.run(cfg)
    assert "data" not in result.stage_dirs  # BFCL's files, not the synthetic held-out set
    cats = result.scores["base"]["bfcl"]["categories"]
    assert cats["simple_python"]["total"] == 3 and cats["irrelevance"]["total"] == 3
    rows = [json.loads(x) for x in (result.stage_dirs["eval_base"] / "generations.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows[:3]] == ["simple_python_0", "simple_python_1", "simple_python_2"]
    fmt = get_format("qwen2_5")
    assert all(r["decode"] == "bfcl" and r["lenient"]["calls"] == fmt.parse(r["raw_output"]) for r in rows)
    assert all(r["parsed_calls"] == (bfcl_decode("qwen2_5", r["raw_output"]).calls or []) for r in rows)
    assert not (result.stage_dirs["eval_base"] / "generations.journal.jsonl").exists()  # its rows are all here
    bfcl = result.scores["base"]["bfcl"]
    assert bfcl["prompt"] == "bfcl" and bfcl["decode"]["entries"] == 6
    assert cats["irrelevance"]["correct"] == sum(r["correct"] for r in rows[3:])


def test_dpo_stage_key_keeps_its_old_form_until_a_later_option_leaves_its_default(compose):
    """``dpo.sampling`` and ``dpo.gradient_checkpointing`` came after DPO stages were cached: at their defaults
    (the way those stages trained) the key is the one without them; any other value makes a new key."""
    cfg = compose(["+exp=smollm2_dpo"])
    d = dict(cfg.dpo)
    old_form = {k: v for k, v in d.items() if k not in ("pairs", "sampling", "gradient_checkpointing")}
    assert pipeline.stage_key("dpo", pipeline._dpo_key(d)) == pipeline.stage_key("dpo", old_form)
    for key, value in (("sampling", "sequential"), ("gradient_checkpointing", True)):
        assert pipeline.stage_key("dpo", pipeline._dpo_key({**d, key: value})) != pipeline.stage_key("dpo", old_form)
    assert pipeline._dpo_key({**d, "pairs": {"mined": 1}}) == pipeline._dpo_key(d)  # pairs join only when mined


@pytest.mark.parametrize("source", ["count", "sibling"])
def test_later_pair_sources_enter_the_dpo_key_only_when_weighted(compose, tmp_path, source):
    """``dpo.pairs.count`` and ``dpo.pairs.sibling`` came after mixes were cached: at 0 a mined mix keeps the key it
    had (its pairs without them); weighted, each makes a new DPO key and leaves the stages before DPO as they were."""
    def plan(overrides):
        r = OmegaConf.to_container(compose(["+exp=quickstart", *overrides]), resolve=True)
        return r, {name: st.key for name, st in pipeline.plan_stages(r, tmp_path)[0].items()}

    r, mined = plan(["dpo.pairs={synthetic:4,mined:1}"])
    pairs_before = {k: v for k, v in r["dpo"]["pairs"].items() if k not in ("count", "sibling")}
    assert r["dpo"]["pairs"][source] == 0 and pairs_before == {"synthetic": 4, "mined": 1}
    common = [r["peft"], r["deepspeed"], r["cluster"]["num_workers"], r["seed"]]
    assert mined["dpo"] == pipeline.stage_key("dpo", mined["data"], mined["sft"], pipeline._dpo_key(r["dpo"]),
                                              *common, pairs_before, mined["mine"])
    _, plain = plan([])
    _, weighted = plan([f"dpo.pairs={{synthetic:1,{source}:1}}"])
    assert weighted["dpo"] not in (plain["dpo"], mined["dpo"])
    assert {k: v for k, v in weighted.items() if k != "dpo"} == {k: v for k, v in plain.items() if k != "dpo"}


def test_call_turn_only_enters_the_sft_key_only_when_set(compose, tmp_path):
    """``sft.call_turn_only`` came after SFT stages were cached: at 0 an SFT stage keeps the key it had (its config
    without the option); any other share makes new SFT and later keys and leaves data and base as they were."""
    def plan(overrides):
        r = OmegaConf.to_container(compose(["+exp=smollm2_full", *overrides]), resolve=True)
        return r, {name: st.key for name, st in pipeline.plan_stages(r, tmp_path)[0].items()}

    r, whole = plan([])
    assert r["sft"]["call_turn_only"] == 0.0
    sft_before = {k: v for k, v in r["sft"].items() if k != "call_turn_only"}
    common = [r["peft"], r["deepspeed"], r["cluster"]["num_workers"], r["seed"]]
    assert whole["sft"] == pipeline.stage_key("sft", whole["data"], whole["base"], sft_before, *common)
    _, cut = plan(["sft.call_turn_only=0.5"])
    assert cut["sft"] != whole["sft"] and cut["dpo"] != whole["dpo"]
    assert (cut["data"], cut["base"]) == (whole["data"], whole["base"])


def test_call_turn_only_outside_0_1_is_a_config_error(compose):
    from toolcall_dist.config import validate
    from toolcall_dist.errors import ConfigError

    with pytest.raises(ConfigError, match="sft.call_turn_only"):
        validate(compose(["+exp=quickstart", "sft.call_turn_only=1.5"]))


def test_eval_key_is_one_models_evaluation_whatever_else_the_run_evaluates(compose):
    """``eval.models=[base,sft]`` finds the evaluations a full run makes (and a full run finds theirs), while what
    changes an evaluation (its categories, its limits) still makes a new key."""
    full = OmegaConf.to_container(compose(["+exp=smollm2_full"]), resolve=True)
    part = OmegaConf.to_container(compose(["+exp=smollm2_full", "eval.models=[base,sft]"]), resolve=True)
    assert part["eval"]["models"] != full["eval"]["models"]
    assert pipeline._eval_key(part) == pipeline._eval_key(full)
    fewer = OmegaConf.to_container(compose(["+exp=smollm2_full", "eval.live_limit=100"]), resolve=True)
    assert pipeline._eval_key(fewer) != pipeline._eval_key(full)
