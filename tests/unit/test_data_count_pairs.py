"""Count pairs (data/count_pairs.py): end the turn after a call, or call again."""

from __future__ import annotations

from collections import Counter

import pytest

from toolcall_dist.data.count_pairs import KINDS, count_pairs
from toolcall_dist.data.synthetic import call_index, calls_of
from toolcall_dist.formats import get_format

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def good(good_records):
    return good_records


def _calls(rec: dict) -> int:
    return len(calls_of(rec["messages"][call_index(rec["messages"])]))


def test_equal_kinds_as_many_as_the_scarcer_record_allows(good):
    multi = sum(_calls(r) > 1 for r in good)
    single = sum(_calls(r) == 1 for r in good)
    assert multi and single and multi != single
    pairs = count_pairs(good, seed=0)
    assert Counter(p["kind"] for p in pairs) == {KINDS[0]: min(multi, single), KINDS[1]: min(multi, single)}
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_each_pair_keeps_the_records_prompt_and_call_and_rejects_the_wrong_count(good):
    by_user = {r["messages"][call_index(r["messages"]) - 1]["content"]: r for r in good}
    for p in count_pairs(good, seed=0):
        rec = by_user[p["prompt"][-1]["content"]]
        i = call_index(rec["messages"])
        assert p["prompt"] == rec["messages"][:i] and p["chosen"] == [rec["messages"][i]]
        assert p["tools"] == rec["tools"] and p["pair_kind"] == "precision"
        chosen, rejected = calls_of(p["chosen"][0]), calls_of(p["rejected"][0])
        if p["kind"] == "count:stopped_early":
            assert len(chosen) > 1 and rejected == chosen[:1]
        else:
            assert len(chosen) == 1 and rejected == chosen * 2


def test_the_replies_first_differ_at_the_end_or_continue_decision(good, real_tokenizer):
    """Rendered as the model sees them, chosen and rejected share everything up to the first call's closing
    delimiter; the next character is where one ends the turn and the other opens another call."""
    fmt, tok = get_format("qwen2_5"), real_tokenizer("qwen")
    for p in count_pairs(good, seed=0)[:20]:
        chosen, rejected = (fmt.render_completion(tok, p["prompt"], p[side][0], p["tools"])
                            for side in ("chosen", "rejected"))
        first_close = chosen.index("</tool_call>") + len("</tool_call>")
        common = next(k for k, (a, b) in enumerate(zip(chosen, rejected, strict=False)) if a != b)
        assert common == first_close


def test_the_checker_judges_every_chosen_reply_right_and_every_rejected_one_wrong_by_its_count(good, real_tokenizer):
    """Rendered as DPO renders them and decoded as the evaluation decodes: chosen right, rejected a wrong number of
    calls (BFCL's own error type for it)."""
    from toolcall_dist.mining.judge import judge_reply, prompt_items

    items = {it["prompt"][-1]["content"]: it for it in prompt_items(good, [], per_shape=len(good), seed=0)}
    fmt, tok = get_format("qwen2_5"), real_tokenizer("qwen")
    for p in count_pairs(good, seed=0):
        item = items[p["prompt"][-1]["content"]]
        chosen, rejected = (fmt.render_completion(tok, p["prompt"], p[side][0], p["tools"])
                            for side in ("chosen", "rejected"))
        assert judge_reply("qwen2_5", chosen, item, "bfcl")["correct"], p["id"]
        verdict = judge_reply("qwen2_5", rejected, item, "bfcl")
        assert not verdict["correct"] and verdict["error_type"] == "wrong_count", (p["id"], verdict)


def test_same_seed_same_pairs_other_seed_other_order(good):
    assert count_pairs(good, seed=1) == count_pairs(good, seed=1)
    assert [p["id"] for p in count_pairs(good, seed=1)] != [p["id"] for p in count_pairs(good, seed=2)]


def test_no_pairs_without_both_kinds_of_record(good):
    assert count_pairs([r for r in good if _calls(r) == 1], seed=0) == []
