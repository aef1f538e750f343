"""``sft.call_turn_only``: a share of the call conversations ends at the assistant's call turn, so their SFT loss
falls on the calls and on the choice after each ``</tool_call>`` (call again, or end the turn)."""

from __future__ import annotations

import random

import pytest
from formats_cases import masked_segments

from toolcall_dist.data.synthetic import make_good
from toolcall_dist.formats import get_format
from toolcall_dist.train.sft import cut_after_calls

pytestmark = pytest.mark.unit

REF_DATE = "2026-11-24"


def _records(n: int, seed: int = 0) -> list[dict]:
    rng, out = random.Random(seed), []
    shapes = ["simple", "multiple", "parallel", "parallel_multiple"]
    while len(out) < n:
        if (rec := make_good(rng, REF_DATE, shapes[len(out) % 4])) is not None:
            out.append(rec)
    no_tool = {"id": "no-tool-1", "class": "no_tool", "tools": out[0]["tools"],
               "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]}
    return out + [no_tool]


def test_share_zero_keeps_every_conversation_whole():
    records = _records(40)
    out, cut = cut_after_calls(records, 0.0, seed=0)
    assert cut == 0 and out == records


def test_share_one_ends_every_call_conversation_at_its_call_turn():
    records = _records(40)
    out, cut = cut_after_calls(records, 1.0, seed=0)
    assert cut == 40
    for before, after in zip(records, out, strict=True):
        if before["id"] == "no-tool-1":
            assert after == before  # nothing to cut: no call
            continue
        last = after["messages"][-1]
        assert last["role"] == "assistant" and last["tool_calls"]
        assert last == next(m for m in before["messages"] if m.get("tool_calls"))
        assert not any(m["role"] == "tool" for m in after["messages"])
        assert len(after["messages"]) < len(before["messages"])
        assert before["messages"][:len(after["messages"])] == after["messages"]  # a prefix, nothing rewritten


def test_multi_step_conversations_keep_their_later_turns():
    """A conversation with two call turns teaches its second step: it is never cut."""
    rng, steps = random.Random(1), []
    while len(steps) < 10:
        if (rec := make_good(rng, REF_DATE, "multi_step")) is not None:
            steps.append(rec)
    assert all(sum(bool(m.get("tool_calls")) for m in r["messages"]) == 2 for r in steps)
    out, cut = cut_after_calls(steps, 1.0, seed=0)
    assert cut == 0 and out == steps


def test_the_cut_records_depend_on_id_and_seed_only():
    records = _records(200)
    ids = lambda out: {r["id"] for r, b in zip(out, records, strict=True) if r is not b}  # noqa: E731
    first, cut = cut_after_calls(records, 0.5, seed=3)
    again, _ = cut_after_calls(list(reversed(records)), 0.5, seed=3)
    again = list(reversed(again))
    assert ids(first) == ids(again) and len(ids(first)) == cut
    assert 60 <= cut <= 140  # about half of 200
    other, _ = cut_after_calls(records, 0.5, seed=4)
    assert ids(other) != ids(first)


def test_a_cut_conversation_renders_as_one_call_turn_that_ends_the_turn(shipped_tiny_model):
    from toolcall_dist.eval.generate import load_tokenizer

    tok = load_tokenizer(str(shipped_tiny_model))
    fmt = get_format("qwen2_5")
    rec = next(r for r in _records(8) if len(next(m for m in r["messages"] if m.get("tool_calls"))["tool_calls"]) > 1)
    (cut,), n = cut_after_calls([rec], 1.0, seed=0)
    assert n == 1
    example = fmt.tokenize_conversation(tok, cut["messages"], cut["tools"])
    segments = masked_segments(tok, example, fmt.render(tok, cut["messages"], cut["tools"]))
    assert len(segments) == 1  # the loss is on the call turn alone
    (segment,) = segments
    calls = cut["messages"][-1]["tool_calls"]
    assert segment.count("<tool_call>") == len(calls) > 1
    assert segment.rstrip().endswith("<|im_end|>")  # the turn's end after the last call carries a label
