"""Sibling pairs (data/sibling_pairs.py): a value borrowed from another call of the same answer."""

from __future__ import annotations

import random

import pytest

from toolcall_dist.data.sibling_pairs import KIND, borrowed_value, sibling_pairs
from toolcall_dist.data.synthetic import call_index, calls_of
from toolcall_dist.eval.checker import check_entry
from toolcall_dist.mining.judge import prompt_items

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def good(good_records):
    return good_records


def test_a_loan_gets_the_other_loans_years():
    calls = [{"name": "loan", "arguments": {"principal": 300000, "years": 3}},
             {"name": "loan", "arguments": {"principal": 150000, "years": 15}}]
    seen = {str(borrowed_value(calls, random.Random(s))) for s in range(40)}
    assert seen == {str([{"name": "loan", "arguments": {"principal": p0, "years": y0}},
                         {"name": "loan", "arguments": {"principal": p1, "years": y1}}])
                    for p0, y0, p1, y1 in ((150000, 3, 150000, 15), (300000, 15, 150000, 15),
                                           (300000, 3, 300000, 15), (300000, 3, 150000, 3))}
    assert calls[0]["arguments"] == {"principal": 300000, "years": 3}  # the input is left as it was


def test_no_pair_where_no_two_calls_differ_on_a_shared_argument():
    same = [{"name": "f", "arguments": {"city": "Oslo"}}, {"name": "f", "arguments": {"city": "Oslo"}}]
    disjoint = [{"name": "f", "arguments": {"city": "Oslo"}}, {"name": "g", "arguments": {"ticker": "AAPL"}}]
    assert borrowed_value(same, random.Random(0)) is None
    assert borrowed_value(disjoint, random.Random(0)) is None


def test_one_pair_per_multi_call_record_each_rejecting_one_borrowed_value(good):
    def shared_differing(calls):
        return any(k in d["arguments"] and d["arguments"][k] != v for c in calls for d in calls if d is not c
                   for k, v in c["arguments"].items())

    answers = [calls_of(r["messages"][call_index(r["messages"])]) for r in good]
    pairs = sibling_pairs(good, seed=0)
    assert len(pairs) == sum(len(calls) > 1 and shared_differing(calls) for calls in answers) > 0
    assert len({p["id"] for p in pairs}) == len(pairs)
    by_user = {r["messages"][call_index(r["messages"]) - 1]["content"]: r for r in good}
    for p in pairs:
        rec = by_user[p["prompt"][-1]["content"]]
        i = call_index(rec["messages"])
        assert p["kind"] == KIND and p["prompt"] == rec["messages"][:i] and p["chosen"] == [rec["messages"][i]]
        chosen, rejected = calls_of(p["chosen"][0]), calls_of(p["rejected"][0])
        changed = [(n, k) for n, (c, r) in enumerate(zip(chosen, rejected, strict=True))
                   for k in c["arguments"] if c["arguments"][k] != r["arguments"][k]]
        assert len(changed) == 1 and [c["name"] for c in chosen] == [c["name"] for c in rejected]
        (n, k), = changed
        assert any(rejected[n]["arguments"][k] == other["arguments"].get(k)
                   for m, other in enumerate(chosen) if m != n)


def test_the_checker_fails_the_rejected_calls_and_passes_the_chosen(good):
    """Each rejected reply is a wrong answer by BFCL's rules for its shape's category, where the chosen one is right
    (the entry the mine stage builds for a training prompt: ground truth from the record's own calls)."""
    items = {it["prompt"][-1]["content"]: it for it in prompt_items(good, [], per_shape=len(good), seed=0)}
    for p in sibling_pairs(good, seed=0):
        item = items[p["prompt"][-1]["content"]]
        chosen, rejected = calls_of(p["chosen"][0]), calls_of(p["rejected"][0])
        assert check_entry(chosen, item["entry"], item["category"])["valid"]
        assert not check_entry(rejected, item["entry"], item["category"])["valid"], (item["id"], rejected)


def test_same_seed_same_pairs_another_seed_another_order(good):
    assert sibling_pairs(good, seed=0) == sibling_pairs(good, seed=0)
    assert [p["id"] for p in sibling_pairs(good, seed=0)] != [p["id"] for p in sibling_pairs(good, seed=1)]
