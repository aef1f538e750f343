"""Multi-step training data: conversations whose second call uses a value of the first call's result, across two
user turns (or chained in one), ``ignored_result`` DPO pairs at that step, the gate's leakage check on them, how the
chat formats mask them, and the builder mixing them in by ``data.shapes.multi_step``."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from formats_cases import masked_segments

from toolcall_dist.config import SYNTHETIC_CATEGORIES, DataConfig
from toolcall_dist.data.builder import build
from toolcall_dist.data.gates import Gate
from toolcall_dist.data.leakage import BFCLReference
from toolcall_dist.data.multistep import linked_value_in_result, related
from toolcall_dist.data.synthetic import make_good, make_step_pair
from toolcall_dist.eval.bfcl import load_category
from toolcall_dist.formats import get_format

pytestmark = pytest.mark.unit

REF_DATE = "2026-11-24"


def _records(n: int, seed: int = 0) -> list[dict]:
    rng, out = random.Random(seed), []
    while len(out) < n:
        if (rec := make_good(rng, REF_DATE, "multi_step")) is not None:
            out.append(rec)
    return out


@pytest.fixture(scope="module")
def reference():
    ref = BFCLReference.load()
    assert ref is not None, "bfcl-eval's data is needed (pip install --no-deps bfcl-eval)"
    return ref


def test_the_second_call_uses_the_first_result(reference):
    recs = _records(120)
    gate = Gate(reference)
    for rec in recs:
        msgs = rec["messages"]
        calls = [m for m in msgs if m["role"] == "assistant" and m.get("tool_calls")]
        assert len(calls) == 2 and msgs[-1]["role"] == "assistant" and not msgs[-1].get("tool_calls")
        assert linked_value_in_result(msgs, rec["link"])
        first_result = json.loads(next(m for m in msgs if m["role"] == "tool")["content"])
        value = first_result[rec["link"]["field"]]
        # the user never says the value: it is only known from the result
        assert all(str(value) not in m["content"] for m in msgs if m["role"] == "user"), rec["id"]
        assert related(rec["link"]["field"], rec["link"]["param"])
    assert sum(gate.admit(r) for r in recs) == len(recs), gate.quarantine[:1]
    users = [sum(m["role"] == "user" for m in r["messages"]) for r in recs]
    assert set(users) == {1, 2} and users.count(2) > len(recs) / 2  # mostly across two user turns


def test_links_are_by_meaning_not_by_type():
    assert related("cheapest_price", "max_price") and related("hotel", "hotel") and related("folder_id", "folder_id")
    assert not related("duration_hours", "duration_minutes")  # different units
    assert not related("message_id", "message") and not related("max_chance", "max_results")


def test_step_pairs_differ_only_in_the_linked_value(reference):
    rng, gate, pairs = random.Random(3), Gate(reference), []
    while len(pairs) < 40:
        if (pair := make_step_pair(rng, REF_DATE)) is not None:
            pairs.append(pair)
    for pair in pairs:
        assert pair["class"] == "bad" and pair["kind"] == "ignored_result" and pair["pair_kind"] == "precision"
        assert pair["prompt"][-1]["role"] in ("user", "tool")  # the step after the result it needs
        (result,) = [json.loads(m["content"]) for m in pair["prompt"] if m["role"] == "tool"]
        good = pair["chosen"][0]["tool_calls"][0]["function"]["arguments"]
        bad = pair["rejected"][0]["tool_calls"][0]["function"]["arguments"]
        changed = [k for k in good if good[k] != bad[k]]
        assert len(changed) == 1 and set(good) == set(bad)
        assert good[changed[0]] in result.values() and bad[changed[0]] not in result.values()
    assert sum(gate.admit(p) for p in pairs) == len(pairs), gate.quarantine[:1]


def test_leakage_check_covers_multi_step_records(reference):
    """A later user turn repeating a BFCL multi-turn question, or a tool named like a BFCL backend's function, is
    quarantined as leakage."""
    rec = next(r for r in _records(40) if sum(m["role"] == "user" for m in r["messages"]) == 2)
    bfcl_question = load_category("multi_turn_base", limit=1)[0]["question"][1][0]["content"]
    leaked = json.loads(json.dumps(rec))
    last_user = max(i for i, m in enumerate(leaked["messages"]) if m["role"] == "user")
    leaked["messages"][last_user]["content"] = bfcl_question
    leaked["id"] += "-q"
    gate = Gate(reference)
    assert not gate.admit(leaked) and "multi_turn_base_0" in gate.quarantine[-1]["reason"]
    renamed = json.loads(json.dumps(rec))
    renamed["tools"][0]["name"] = "get_stock_info"
    assert not Gate(reference).admit(renamed)
    assert Gate(reference).admit(rec)


def test_formats_mask_both_calls_and_the_answers_not_the_results(shipped_tiny_model):
    from toolcall_dist.eval.generate import load_tokenizer

    tok = load_tokenizer(str(shipped_tiny_model))
    fmt = get_format("qwen2_5")
    rec = next(r for r in _records(40, seed=5) if sum(m["role"] == "user" for m in r["messages"]) == 2)
    example = fmt.tokenize_conversation(tok, rec["messages"], rec["tools"])
    text = fmt.render(tok, rec["messages"], rec["tools"])
    segments = masked_segments(tok, example, text)
    assistants = [m for m in rec["messages"] if m["role"] == "assistant"]
    assert len(segments) == len(assistants) == 4  # call, answer, call, answer
    for segment, message in zip(segments, assistants, strict=True):
        if message.get("tool_calls"):
            call = message["tool_calls"][0]["function"]
            assert "<tool_call>" in segment and json.dumps(call["name"]) in segment
        else:
            assert message["content"] in segment
    for result in (m["content"] for m in rec["messages"] if m["role"] == "tool"):
        assert result in text and not any(result in s for s in segments)


def test_builder_mixes_multi_step_records_and_step_pairs():
    base = dict(n_examples=160, eval_examples=0, holdout_per_category=2, leakage_check=False)
    cfg = dataclasses.asdict(DataConfig(**base))
    cfg["shapes"]["multi_step"] = 0.5
    out = build(cfg, SYNTHETIC_CATEGORIES, reference=BFCLReference({}, set()))
    multi = [r for r in out.train["good"] if r["shape"] == "multi_step"]
    steps = [r for r in out.train["bad"] if r["kind"] == "ignored_result"]
    assert len(multi) >= len(out.train["good"]) / 3 and steps
    assert all(linked_value_in_result(r["messages"], r["link"]) for r in multi)
    without = dataclasses.asdict(DataConfig(**base))
    assert without["shapes"]["multi_step"] == 0.0
    plain = build(without, SYNTHETIC_CATEGORIES, reference=BFCLReference({}, set()))
    assert not any(r["shape"] == "multi_step" for r in plain.train["good"])
    assert not any(r["kind"] == "ignored_result" for r in plain.train["bad"])


def test_a_step_pair_renders_as_two_completions_of_the_same_prompt(shipped_tiny_model):
    """What the DPO stage renders (train/dpo.py): the prompt with the first result, then each reply as a completion."""
    from toolcall_dist.eval.generate import load_tokenizer

    tok = load_tokenizer(str(shipped_tiny_model))
    fmt = get_format("qwen2_5")
    rng, checked = random.Random(11), 0
    while checked < 10:
        pair = make_step_pair(rng, REF_DATE)
        if pair is None:
            continue
        prompt = fmt.render_prompt(tok, pair["prompt"], pair["tools"])
        result = next(m["content"] for m in pair["prompt"] if m["role"] == "tool")
        assert "<tool_response>\n" + result in prompt
        chosen, rejected = (fmt.render_completion(tok, pair["prompt"], pair[k][0], pair["tools"])
                            for k in ("chosen", "rejected"))
        assert chosen != rejected and chosen.endswith("</tool_call><|im_end|>")
        assert fmt.parse(chosen)[0]["arguments"] == pair["chosen"][0]["tool_calls"][0]["function"]["arguments"]
        checked += 1


def test_data_stage_key_changes_only_when_multi_step_is_set():
    from toolcall_dist.pipeline import _data_key, stage_key

    d = dataclasses.asdict(DataConfig())
    later = ("python_types", "java_js", "verbose_tools")
    before = {**{k: v for k, v in d.items() if k not in later},  # the key's old form
              "shapes": {k: v for k, v in d["shapes"].items() if k != "multi_step"},
              "no_tool_kinds": {k: v for k, v in d["no_tool_kinds"].items() if k != "computation"}}
    assert stage_key("data", _data_key(d)) == stage_key("data", before)
    d["shapes"]["multi_step"] = 0.2
    assert stage_key("data", _data_key(d)) != stage_key("data", before)
