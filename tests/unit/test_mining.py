"""Mined DPO pairs without a model: replies written by hand, judged, paired and balanced; the pair mix; the config
and the pipeline keys of the mine stage."""

import json
import random
from collections import Counter

import pytest

from toolcall_dist.data.corrupt import dropped_required
from toolcall_dist.data.mix import build_dataset, mix_pairs
from toolcall_dist.data.synthetic import calls_of
from toolcall_dist.eval.checker import check_entry
from toolcall_dist.eval.error_kinds import ERROR_TYPES
from toolcall_dist.eval.verdicts import judge
from toolcall_dist.formats import get_format
from toolcall_dist.mining.judge import NO_TOOL, judge_reply, prompt_items
from toolcall_dist.mining.pairs import error_quotas, mine

pytestmark = pytest.mark.unit

FAMILY = "qwen2_5"
M = {"chosen": "gold", "max_pairs_per_prompt": 2, "max_share_per_error": 0.35, "anchor_share": 0.25}


@pytest.fixture(scope="module")
def records():
    return build_dataset(160, {"good": 0.75, "bad": 0.0, "no_tool": 0.25}, seed=5, reference_date="2026-11-24",
                         domains=["weather", "finance", "units"])


@pytest.fixture(scope="module")
def items(records):
    return prompt_items(records["good"], records["no_tool"], per_shape=6, seed=0)


def text(calls, close=True) -> str:
    """A Qwen/Hermes reply making ``calls``, as BFCL's handler reads it (``close=False``: no closing tag)."""
    end = "\n</tool_call>" if close else ""
    return "\n".join(f"<tool_call>\n{json.dumps(c)}{end}" for c in calls) + "<|im_end|>"


def gold(item):
    return calls_of(item["gold"])


def wrong_value(calls):
    out = json.loads(json.dumps(calls))
    for c in out:
        for k, v in c["arguments"].items():
            if isinstance(v, bool):
                c["arguments"][k] = not v
            elif isinstance(v, (int, float)):
                c["arguments"][k] = v + 7
            elif isinstance(v, str):
                c["arguments"][k] = v + " Springs"
            elif isinstance(v, list) and v:
                c["arguments"][k] = v[::-1] if v[::-1] != v else v + v  # list answers are compared in order
            else:
                continue
            return out
    raise AssertionError(f"no argument to change in {calls}")


def first(items, group, pred=lambda it: True):
    return next(it for it in items if it["group"] == group and pred(it))


def test_replies_get_the_error_type_of_their_mistake(items):
    simple = first(items, "simple", lambda it: any(t["parameters"].get("required") for t in it["tools"]))
    g = gold(simple)
    dropped = dropped_required(g, simple["tools"], "", random.Random(0))
    extra = [{**g[0], "arguments": {**g[0]["arguments"], "verbose": True}}]
    cases = {text(g): "", text(wrong_value(g)): "wrong_value", text(dropped): "missing_required",
             text(extra): "unexpected_argument", text(g + g): "wrong_count", "It is sunny.<|im_end|>": "no_call",
             text(g, close=False): "no_call"}
    for reply, want in cases.items():
        got = judge_reply(FAMILY, reply, simple, "bfcl")
        assert (got["correct"], got["error_type"]) == (want == "", want), reply
    # The lenient reading recovers the call without its closing tag; BFCL's handler does not.
    assert judge_reply(FAMILY, text(g, close=False), simple, "lenient")["correct"]

    multiple = first(items, "multiple")
    g = gold(multiple)
    other = next(t["name"] for t in multiple["tools"] if t["name"] != g[0]["name"])
    assert judge_reply(FAMILY, text([{**g[0], "name": other}]), multiple, "bfcl")["error_type"] == "wrong_function"

    parallel = first(items, "parallel")
    g = gold(parallel)
    assert judge_reply(FAMILY, text(g[:-1]), parallel, "bfcl")["error_type"] == "wrong_count"
    # BFCL says only "cannot find a match" for a parallel set; the unmatched call's own mistake is named.
    bad = judge_reply(FAMILY, text([*g[:-1], wrong_value(g[-1:])[0]]), parallel, "bfcl")
    assert (bad["bfcl_error_type"], bad["error_type"]) == ("parallel_function_checker_no_order:cannot_find_match",
                                                          "wrong_value")
    renamed = judge_reply(FAMILY, text([*g[:-1], {**g[-1], "name": "unknown_tool"}]), parallel, "bfcl")
    assert renamed["error_type"] == "wrong_function"

    no_tool = first(items, NO_TOOL)
    assert judge_reply(FAMILY, "Hello there!<|im_end|>", no_tool, "bfcl")["correct"]
    call = judge_reply(FAMILY, text(g[:1]), no_tool, "bfcl")
    assert (call["correct"], call["error_type"]) == (False, "call_not_needed")


def _replies(items) -> dict[str, list[str]]:
    """Four replies per prompt (greedy first), a different mix of mistakes per shape and per prompt."""
    out = {}
    for n, it in enumerate(items):
        prose = f"Let me think about request {n}.<|im_end|>"
        if it["group"] == NO_TOOL:
            spurious = [{"name": it["tools"][0]["name"], "arguments": {}}]
            out[it["id"]] = [prose if n % 2 else text(spurious), text(spurious), prose, prose]
            continue
        g = gold(it)
        by_group = {
            "simple": [text(g) if n % 3 else text(wrong_value(g)), text(wrong_value(g)), text(g), prose],
            "multiple": [text(g + g), text(g), text(wrong_value(g)), prose],
            "parallel": [text(g[:-1]), text(g[1:]), text(g) if n % 2 else prose, text(g, close=False)],
            "parallel_multiple": [text(g[:-1]), text(wrong_value(g)), prose, text(g[:1])],
        }
        out[it["id"]] = by_group[it["group"]]
    return out


@pytest.fixture(scope="module")
def mined(items):
    return mine(items, _replies(items), FAMILY, "bfcl", M, seed=0)


def _valid(message, item) -> bool:
    """The checker's verdict on an assistant turn, reached without the mining module: calls through the AST
    checker, text through BFCL's decoding and the checker."""
    if message.get("tool_calls"):
        return check_entry(calls_of(message), item["entry"], item["category"])["valid"]
    return judge(get_format(FAMILY), message["content"], item["entry"], item["category"])["bfcl"]["verdict"]["valid"]


def test_every_rejected_reply_was_judged_wrong_and_every_chosen_one_right(items, mined):
    pairs, rows, _ = mined
    by_id = {it["id"]: it for it in items}
    kinds = Counter(p["pair_kind"] for p in pairs)
    assert kinds["mined"] >= 10 and kinds["anchor"] >= 2
    for p in pairs:
        item = by_id[p["record_id"]]
        assert _valid(p["chosen"][0], item), p
        assert not _valid(p["rejected"][0], item), p
        assert p["prompt"] == item["prompt"] and p["tools"] == item["tools"]
        if p["pair_kind"] == "mined":  # the model's own reply, word for word, tagged with its mistake
            assert p["kind"] == f"mined:{p['error_type']}" and p["error_type"] in ERROR_TYPES
            own = next(r for r in rows if r["id"] == p["record_id"] and r["reply"] == p["reply"])
            assert not own["correct"] and own["text"] == p["rejected"][0]["content"] + "<|im_end|>"
            assert p["chosen"][0] == item["gold"]
        else:  # the model's correct calls, against a corruption of them
            own = next(r for r in rows if r["id"] == p["record_id"] and r["reply"] == p["reply"])
            assert own["correct"] and calls_of(p["chosen"][0]) == own["calls"]


def test_chosen_sample_takes_the_models_correct_reply(items):
    pairs, rows, _ = mine(items, _replies(items), FAMILY, "bfcl", {**M, "chosen": "sample"}, seed=0)
    by_id = {it["id"]: it for it in items}
    samples = [p for p in pairs if p["pair_kind"] == "mined" and not p["chosen"][0].get("tool_calls")
               and p["group"] != NO_TOOL]
    assert samples  # prompts with a correct sample use it as the chosen side
    for p in samples:
        assert _valid(p["chosen"][0], by_id[p["record_id"]])
        assert any(r["id"] == p["record_id"] and r["correct"] and r["text"].startswith(p["chosen"][0]["content"])
                   for r in rows)


def test_pairs_from_no_tool_prompts_reject_calls(items, mined):
    pairs, _, _ = mined
    no_tool = [p for p in pairs if p["group"] == NO_TOOL]
    assert no_tool
    fmt = get_format(FAMILY)
    for p in no_tool:
        assert p["kind"] == "mined:call_not_needed"
        assert fmt.parse(p["rejected"][0]["content"])  # the rejected side makes a call...
        assert not p["chosen"][0].get("tool_calls") and not fmt.parse(p["chosen"][0]["content"])  # ...chosen none


def test_same_seed_same_pairs(records, items, mined):
    again = mine(items, _replies(items), FAMILY, "bfcl", M, seed=0)
    assert again[0] == mined[0] and again[2] == mined[2]
    other_items = prompt_items(records["good"], records["no_tool"], per_shape=6, seed=1)
    other = mine(other_items, _replies(other_items), FAMILY, "bfcl", M, seed=1)
    assert [p["id"] for p in other[0]] != [p["id"] for p in mined[0]]


def test_error_quotas_cap_each_type_and_relax_to_an_even_split():
    # the probe's naive mining: 85 "too few calls", 27 "called where none was needed", 28 others
    q = error_quotas({"wrong_count": 85, "call_not_needed": 27, "wrong_value": 28}, 0.35)
    # 84 pairs: 29 + 27 + 28, 29/84 = 0.345; 85 would allow floor(0.35 x 85) = 29 again, one short
    assert q == {"wrong_count": 29, "call_not_needed": 27, "wrong_value": 28}
    q = error_quotas({"wrong_count": 85, "call_not_needed": 27, "wrong_value": 28, "no_call": 40}, 0.35)
    # 146 pairs, the capped type at floor(0.35 x 146) = 51 (0.349); 147 would need 52 of it
    assert q == {"wrong_count": 51, "call_not_needed": 27, "wrong_value": 28, "no_call": 40}
    assert error_quotas({"a": 100, "b": 1}, 0.35) == {"a": 1, "b": 1}  # two types: at most half each
    assert error_quotas({"a": 5, "b": 0}, 0.35) == {"a": 5, "b": 0}  # one type: nothing to balance against
    assert error_quotas({"a": 0}, 0.35) == {"a": 0}


def test_mined_set_keeps_the_caps_and_spreads_over_shapes(mined):
    pairs, _, stats = mined
    errors = [p for p in pairs if p["pair_kind"] == "mined"]
    by_type = Counter(p["error_type"] for p in errors)
    assert len(by_type) >= 4 and sum(stats["error_candidates"].values()) > len(errors)  # the cap removed some
    assert max(by_type.values()) <= stats["max_share_effective"] * len(errors)
    assert dict(by_type) == {e: n for e, n in stats["error_pairs"].items() if n}
    anchors = [p for p in pairs if p["pair_kind"] == "anchor"]
    assert len(anchors) == min(round(len(errors) * M["anchor_share"] / (1 - M["anchor_share"])),
                               sum(stats["anchor_candidates"].values()))
    assert {p["group"] for p in anchors} <= {"simple", "multiple", "parallel"}  # shapes it got right somewhere
    # A type found on several shapes is taken from them in turn (they had more than enough candidates here).
    wrong_count = Counter(p["group"] for p in errors if p["error_type"] == "wrong_count")
    assert len(wrong_count) >= 2 and max(wrong_count.values()) - min(wrong_count.values()) <= 1
    assert stats["greedy_correct"]["simple"] == 4 and stats["greedy_correct"]["no_tool"] == 3
    assert stats["reply_errors"]["call_not_needed"] == 9 and stats["prompts"]["parallel"] == 6


def test_mix_pairs_keeps_the_shares_and_leaves_a_single_source_whole():
    syn = [{"id": f"s{i}"} for i in range(10)]
    mined = [{"id": f"m{i}"} for i in range(4)]
    mix, info = mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 1, "mined": 1}, seed=0)
    assert info["used"] == {"synthetic": 4, "mined": 4} and len({p["id"] for p in mix}) == 8
    assert mix == mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 1, "mined": 1}, seed=0)[0]
    _, info = mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 3, "mined": 1}, seed=0)
    assert info["used"] == {"synthetic": 10, "mined": 3}  # 13 is the largest set at 3:1 without repeats
    assert mix_pairs({"synthetic": syn, "mined": []}, {"synthetic": 1, "mined": 0}, seed=0)[0] == syn
    assert mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 0, "mined": 2}, seed=0)[0] == mined
    with pytest.raises(ValueError, match="dpo.pairs.mined"):
        mix_pairs({"synthetic": syn, "mined": []}, {"synthetic": 1, "mined": 1}, seed=0)


def test_mix_pairs_caps_the_set_at_max_pairs_keeping_the_shares():
    syn = [{"id": f"s{i}"} for i in range(30)]
    mined = [{"id": f"m{i}"} for i in range(10)]
    mix, info = mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 3, "mined": 1}, seed=0, limit=20)
    assert info["used"] == {"synthetic": 15, "mined": 5} and len({p["id"] for p in mix}) == 20
    _, info = mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 3, "mined": 1}, seed=0, limit=1000)
    assert info["used"] == {"synthetic": 30, "mined": 10}  # a cap above the largest set changes nothing
    only, info = mix_pairs({"synthetic": syn, "mined": []}, {"synthetic": 1, "mined": 0}, seed=0, limit=7)
    assert only == syn[:7] and info["used"] == {"synthetic": 7, "mined": 0}
    with pytest.raises(ValueError, match="dpo.max_pairs"):
        mix_pairs({"synthetic": syn, "mined": mined}, {"synthetic": 1, "mined": 1}, seed=0, limit=0)


@pytest.mark.parametrize(("override", "key"), [
    ("dpo.pairs.mined=-1", "dpo.pairs.mined"), ("dpo.pairs={synthetic:0,mined:0}", "dpo.pairs"),
    ("dpo.pairs.count=-0.5", "dpo.pairs.count"), ("dpo.pairs.count=nan", "dpo.pairs.count"),
    ("mine.samples_per_prompt=-1", "mine.samples_per_prompt"), ("mine.temperature=0", "mine.temperature"),
    ("mine.top_p=1.5", "mine.top_p"), ("mine.max_share_per_error=0", "mine.max_share_per_error"),
    ("mine.anchor_share=1", "mine.anchor_share"), ("mine.chosen=best", "mine.chosen"),
    ("mine.prompts_per_shape=0", "mine.prompts_per_shape"),
])
def test_bad_mine_and_pair_settings_name_their_key(compose, override, key):
    from toolcall_dist.config import ConfigError, validate

    with pytest.raises(ConfigError, match=f"^{key}:"):
        validate(compose(["+exp=quickstart", override]))


def test_mine_stage_keys_and_dependencies(compose, tmp_path):
    from omegaconf import OmegaConf

    from toolcall_dist.config import validate
    from toolcall_dist.pipeline import plan_stages

    def plan(*overrides):
        cfg = compose(["+exp=quickstart", *overrides])
        validate(cfg)
        return plan_stages(OmegaConf.to_container(cfg, resolve=True), tmp_path)

    stages, deps = plan("dpo.pairs.mined=0")
    assert "mine" not in deps["dpo"]  # a synthetic-only DPO set needs no mining
    # ...and the pair weights stay out of its key, so DPO stages cached before mining existed are still found
    assert plan("dpo.pairs.mined=0", "dpo.pairs.synthetic=2")[0]["dpo"].key == stages["dpo"].key
    mining, deps = plan("dpo.pairs.mined=1")
    assert "mine" in deps["dpo"] and mining["dpo"].key != stages["dpo"].key
    assert mining["mine"].key == stages["mine"].key
    # one mined set for a beta sweep and for any sharding; another for other mining settings or another SFT model
    assert plan("dpo.pairs.mined=1", "dpo.beta=0.3", "mine.num_shards=3")[0]["mine"].key == stages["mine"].key
    assert plan("dpo.pairs.mined=1", "dpo.beta=0.3")[0]["dpo"].key != mining["dpo"].key
    for override in ("mine.temperature=1.1", "sft.learning_rate=1e-3", "seed=1", "eval.decode=lenient"):
        assert plan("dpo.pairs.mined=0", override)[0]["mine"].key != stages["mine"].key, override
    # the dtype the replies are generated in, as resolved: one key per dtype, the old key where it is model.dtype
    assert plan("dpo.pairs.mined=0", "eval.dtype=float32")[0]["mine"].key == stages["mine"].key  # model.dtype
    assert plan("dpo.pairs.mined=0", "eval.dtype=bfloat16")[0]["mine"].key != stages["mine"].key
