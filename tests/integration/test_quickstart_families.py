"""The reduced quickstart for the Llama, Mistral and Phi families, for real: each tiny model is built from config in
its family's architecture with its family's tokenizer delimiters and template, trained with SFT as a Ray Train job
(2 CPU workers, gloo, DeepSpeed ZeRO-2, TRL) and evaluated before and after, then a short DPO run on the family's
rendered prompt/chosen/rejected text. One Ray cluster for the module.

A few minutes of CPU training teach a 0.1M-parameter model the shape of its family's call, not yet exact arguments,
so the checks are on what such a run does learn: the loss falls, and the SFT model opens its replies to tool
requests with the family's own call syntax, where the prose-warmed base never does.
"""

import json

import pytest
from reduced import DPO_BATCHES, SFT_BATCHES, data, tiny_base  # tests/ is on sys.path

from toolcall_dist.formats import get_format

pytestmark = pytest.mark.integration

REDUCED = [
    *data(160, 6), "data.domains=[weather]",
    "data.shapes={simple:1.0,multiple:0.0,parallel:0.0,parallel_multiple:0.0}",
    "data.ratios={good:0.9,bad:0.05,no_tool:0.05}", *tiny_base(80),
    "sft.epochs=4", *SFT_BATCHES, "sft.learning_rate=5e-3", "dpo.epochs=0.5", *DPO_BATCHES,
    "stages=[data,base,sft,dpo,eval]", "eval.models=[base,sft]", "eval.heldout_categories=[simple_python]",
    "eval.categories=[]", "eval.max_new_tokens=16", "tracking=none",
]
FAMILIES = {  # preset -> (family, architecture, how a call turn opens)
    "tiny_llama": ("llama3", "llama", '{"name": "'),
    "tiny_mistral": ("mistral", "mistral", "[TOOL_CALLS]"),
    "tiny_phi": ("phi4", "phi3", "<|tool_call|>"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compose):
    import ray

    from toolcall_dist import pipeline

    tmp = tmp_path_factory.mktemp("families")
    results = {}
    for preset in FAMILIES:
        cfg = compose(["+exp=quickstart", f"model={preset}", f"output_dir={tmp}/{preset}",
                       f"stages_dir={tmp}/stages", *REDUCED])
        results[preset] = pipeline.run(cfg)
    yield results
    ray.shutdown()


def _generations(result, model: str) -> list[dict]:
    with (result.stage_dirs[f"eval_{model}"] / "generations.jsonl").open() as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_base_is_the_familys_architecture_with_single_token_delimiters(runs, preset):
    from transformers import AutoConfig, AutoTokenizer

    family, arch, _ = FAMILIES[preset]
    model_dir = runs[preset].stage_dirs["base"] / "model"
    assert AutoConfig.from_pretrained(model_dir).model_type == arch
    tok = AutoTokenizer.from_pretrained(model_dir)
    fmt = get_format(family)
    assert fmt.special_token_problems(tok) == [] and tok.chat_template == fmt.chat_template


@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_sft_loss_went_down(runs, preset):
    history = json.loads((runs[preset].stage_dirs["sft"] / "model" / "log_history.json").read_text())
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) >= 3 and losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_sft_model_answers_tool_requests_in_its_familys_call_syntax(runs, preset):
    _, _, opener = FAMILIES[preset]
    base = _generations(runs[preset], "base")
    sft = _generations(runs[preset], "sft")
    assert base and not any(g["raw_output"].lstrip().startswith(opener) for g in base)
    assert all(g["parsed_calls"] == [] for g in base)
    opened = [g for g in sft if g["raw_output"].lstrip().startswith(opener)]
    assert len(opened) * 2 > len(sft), [g["raw_output"] for g in sft]


@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_dpo_trains_on_the_familys_rendering_and_starts_at_ln2(runs, preset):
    import math

    history = json.loads((runs[preset].stage_dirs["dpo"] / "model" / "log_history.json").read_text())
    first = next(h for h in history if "loss" in h)
    assert first["loss"] == pytest.approx(math.log(2), abs=2e-3)  # reference = policy at step 1
    info = json.loads((runs[preset].stage_dirs["dpo"] / "done.json").read_text())
    assert info["dataset"]["pairs"] > 0 and info["dataset"]["over_length"] == 0
