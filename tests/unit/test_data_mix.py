"""Dataset mixing by class ratio, held-out splits, and BFCL export."""

from __future__ import annotations

import json

import pytest

from toolcall_dist.data.mix import allocate, build_bfcl_holdout, build_dataset, class_counts, split_holdout, to_bfcl
from toolcall_dist.data.synthetic import dedup_key, system_message, user_text
from toolcall_dist.data.tools import get_tool

pytestmark = pytest.mark.unit

REF = "2026-11-24"
RATIOS = {"good": 0.6, "bad": 0.2, "no_tool": 0.2}


@pytest.fixture(scope="module")
def ds():
    return build_dataset(100, RATIOS, seed=0, reference_date=REF)


def test_exact_counts(ds):
    assert {k: len(v) for k, v in ds.items()} == {"good": 60, "no_tool": 20, "bad": 20, "when": 15 + 5}
    assert {r["kind"] for r in ds["when"]} == {"call_over_prose", "call_over_clarification", "prose_over_call"}
    assert {r["pair_kind"] for r in ds["when"]} == {"format", "relevance"}
    assert {r["pair_kind"] for r in ds["bad"]} == {"precision"}
    assert all(r["class"] == cls for cls, recs in ds.items() for r in recs)


def test_counts_unnormalised_and_missing_keys():
    assert class_counts(10, {"good": 3, "bad": 1, "no_tool": 1}) == {"good": 6, "bad": 2, "no_tool": 2}
    assert class_counts(7, {"good": 1}) == {"good": 7, "bad": 0, "no_tool": 0}
    assert class_counts(10, {"good": 1, "bad": 1, "no_tool": 1}) == {"good": 4, "bad": 3, "no_tool": 3}  # sums to n
    assert allocate(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sum(allocate(97, {"a": 0.35, "b": 0.3, "c": 0.15, "d": 0.2}).values()) == 97


@pytest.mark.parametrize("ratios,match", [
    ({"good": 0.6, "bad": -0.1, "no_tool": 0.5}, "data.ratios.bad"),
    ({"good": 0.6, "fancy": 0.4}, "'fancy'"),
    ({"good": 0, "bad": 0, "no_tool": 0}, r"data.ratios must sum to a positive number, got \{"),
])
def test_bad_ratios_raise(ratios, match):
    with pytest.raises(ValueError, match=match):
        build_dataset(10, ratios, seed=0, reference_date=REF)


def test_shapes():
    out = build_dataset(20, {"good": 1}, seed=0, reference_date=REF, shapes={"parallel": 1})
    assert len(out["good"]) == 20 and {r["shape"] for r in out["good"]} == {"parallel"}
    with pytest.raises(ValueError, match="'sequential'"):
        build_dataset(10, RATIOS, seed=0, reference_date=REF, shapes={"sequential": 1})


def test_unique_within_class(ds):
    for recs in ds.values():
        assert len({dedup_key(r) for r in recs}) == len(recs)
        assert len({r["id"] for r in recs}) == len(recs)


def test_determinism(ds):
    same = build_dataset(100, RATIOS, seed=0, reference_date=REF)
    assert json.dumps(same, sort_keys=True) == json.dumps(ds, sort_keys=True)
    other = build_dataset(100, RATIOS, seed=1, reference_date=REF)
    assert [user_text(r) for r in other["good"]] != [user_text(r) for r in ds["good"]]


def test_exclude_builds_a_disjoint_holdout(ds):
    train_keys = {dedup_key(r) for recs in ds.values() for r in recs}
    held = build_dataset(100, RATIOS, seed=1_000_003, reference_date=REF, exclude=train_keys)
    assert not {dedup_key(r) for cls in ("good", "no_tool", "bad") for r in held[cls]} & train_keys
    assert len(held["good"]) == 60


def test_split_holdout(ds):
    train, hold = split_holdout(ds, 0.25, seed=3)
    for cls in ds:
        assert len(train[cls]) + len(hold[cls]) == len(ds[cls])
    texts = lambda d: {user_text(r) for recs in d.values() for r in recs}  # noqa: E731
    assert not texts(train) & texts(hold) and texts(hold)


def _good_record(shape, tools, calls, text):
    tool_calls = [{"type": "function", "function": c} for c in calls]
    return {"id": "good-x", "class": "good", "shape": shape, "tools": tools,
            "messages": [system_message(REF), {"role": "user", "content": text},
                         {"role": "assistant", "content": "", "tool_calls": tool_calls},
                         *[{"role": "tool", "name": c["name"], "content": "{}"} for c in calls],
                         {"role": "assistant", "content": "Done."}]}


def test_to_bfcl_exact():
    wx, fx, st = get_tool("city_weather_forecast"), get_tool("convert_currency_amount"), get_tool("stock_quote_lookup")
    recs = [
        _good_record("simple", [wx], [{"name": "city_weather_forecast", "arguments": {
            "city": "Tokyo", "date": "2026-11-25", "units": "celsius"}}], "Weather in Tokyo tomorrow in Celsius?"),
        _good_record("multiple", [st, fx], [{"name": "convert_currency_amount", "arguments": {
            "amount": 30, "from_currency": "USD", "to_currency": "EUR"}}], "Convert 30 dollars to euros."),
        {"id": "no_tool-x", "class": "no_tool", "kind": "irrelevant", "tools": [st],
         "messages": [system_message(REF), {"role": "user", "content": "Turn off the lights."},
                      {"role": "assistant", "content": "No tool can do that."}]},
        {"id": "no_tool-y", "class": "no_tool", "kind": "chitchat", "tools": [st], "messages": []},  # skipped
        _good_record("parallel", [st], [{"name": "stock_quote_lookup", "arguments": {"ticker": "AAPL"}},
                                        {"name": "stock_quote_lookup", "arguments": {"ticker": "MSFT",
                                                                                     "exchange": "NASDAQ"}}],
                     "Price of AAPL, and MSFT on the NASDAQ?"),
    ]
    questions, answers = to_bfcl(recs, "multiple")
    sys_msg = {"role": "system", "content": "You are a helpful assistant. Today's date is 2026-11-24 (Tuesday)."}
    wx_bfcl = {"name": "city_weather_forecast", "description": wx["description"],
               "parameters": {"type": "dict", "properties": wx["parameters"]["properties"],
                              "required": ["city", "date"]}}
    assert questions[0] == {"id": "multiple_0", "function": [wx_bfcl], "question": [[
        sys_msg, {"role": "user", "content": "Weather in Tokyo tomorrow in Celsius?"}]]}
    assert [q["id"] for q in questions] == ["multiple_0", "multiple_1", "multiple_2", "multiple_3"]
    assert [f["name"] for f in questions[1]["function"]] == ["stock_quote_lookup", "convert_currency_amount"]
    assert all(f["parameters"]["type"] == "dict" for q in questions for f in q["function"])
    assert wx["parameters"]["type"] == "object"  # the input schema is not mutated
    assert answers == [
        {"id": "multiple_0", "ground_truth": [{"city_weather_forecast": {
            "city": ["Tokyo"], "date": ["2026-11-25"], "units": ["celsius", ""]}}]},
        {"id": "multiple_1", "ground_truth": [{"convert_currency_amount": {
            "amount": [30.0], "from_currency": ["USD"], "to_currency": ["EUR"]}}]},
        {"id": "multiple_3", "ground_truth": [
            {"stock_quote_lookup": {"ticker": ["AAPL"], "exchange": [""]}},
            {"stock_quote_lookup": {"ticker": ["MSFT"], "exchange": ["NASDAQ"]}}]},
    ]
    assert type(answers[1]["ground_truth"][0]["convert_currency_amount"]["amount"][0]) is float


def test_to_bfcl_optional_default_not_given():
    wx = get_tool("city_weather_forecast")
    rec = _good_record("simple", [wx], [{"name": "city_weather_forecast", "arguments": {
        "city": "Oslo", "date": "2026-11-24"}}], "Weather in Oslo today?")
    _, answers = to_bfcl([rec], "simple_python")
    assert answers == [{"id": "simple_python_0", "ground_truth": [{"city_weather_forecast": {
        "city": ["Oslo"], "date": ["2026-11-24"], "units": ["celsius", ""]}}]}]


def test_to_bfcl_on_generated_data(ds):
    questions, answers = to_bfcl(ds["good"] + ds["no_tool"], "mixed")
    n_irrelevant = sum(r["kind"] == "irrelevant" for r in ds["no_tool"])
    assert len(questions) == 60 + n_irrelevant and len(answers) == 60
    json.dumps([questions, answers])


def test_bad_pairs_are_balanced_across_kinds():
    out = build_dataset(100, {"bad": 1}, seed=2, reference_date=REF)
    kinds = [r["kind"] for r in out["bad"]]
    assert len(kinds) == 100 and all(kinds.count(k) == 10 for k in set(kinds)) and len(set(kinds)) == 10
    simple_only = build_dataset(18, {"bad": 1}, seed=2, reference_date=REF, shapes={"simple": 1})
    assert "missing_parallel_call" not in {r["kind"] for r in simple_only["bad"]}


def test_build_bfcl_holdout(ds):
    train_keys = {dedup_key(r) for recs in ds.values() for r in recs}
    held = build_bfcl_holdout(5, seed=1_000_003, reference_date=REF, exclude=train_keys)
    assert list(held) == ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
    for cat, (questions, answers) in held.items():
        assert [q["id"] for q in questions] == [f"{cat}_{i}" for i in range(5)]
        assert len(answers) == (0 if cat == "irrelevance" else 5)
    asked = [(tuple(f["name"] for f in q["function"]), q["question"][0][1]["content"])
             for qs, _ in held.values() for q in qs]
    assert len(set(asked)) == len(asked) and not set(asked) & train_keys


def test_domains_restrict_every_called_and_offered_tool():
    from toolcall_dist.data.tools import get_spec

    ds = build_dataset(60, {"good": 0.5, "bad": 0.25, "no_tool": 0.25}, seed=3, reference_date="2026-11-24",
                       domains=["weather", "finance"])
    for cls in ("good", "no_tool", "bad", "when"):
        for rec in ds[cls]:
            assert {get_spec(t["name"]).domain for t in rec["tools"]} <= {"weather", "finance"}, rec["id"]
    called = {c["function"]["name"] for r in ds["good"] for c in r["messages"][2]["tool_calls"]}
    assert {get_spec(n).domain for n in called} == {"weather", "finance"}


def test_unknown_domain_is_named():
    with pytest.raises(ValueError, match=r"data.domains: unknown domain\(s\) \['astrology'\]"):
        build_dataset(10, {"good": 1}, seed=0, reference_date="2026-11-24", domains=["astrology"])


def test_a_kind_the_tools_cannot_give_moves_to_the_others():
    from toolcall_dist.data.gates import Gate

    gate = Gate(validate=False)
    # percentage_of_value has no enum, no date, no entity and is never called in parallel here
    out = build_dataset(20, {"bad": 1}, seed=0, reference_date=REF, tools=["percentage_of_value"],
                        shapes={"simple": 1}, gate=gate)
    assert len(out["bad"]) == 20
    kinds = {r["kind"] for r in out["bad"]}
    assert {"invalid_enum", "unresolved_date", "misspelled_entity"}.isdisjoint(kinds) and len(kinds) >= 3
    assert {k for (check, k) in gate.counts if check == "infeasible"} >= {"invalid_enum", "unresolved_date"}


def test_tools_and_avoid_restrict_the_library():
    out = build_dataset(40, RATIOS, seed=0, reference_date=REF, domains=["weather", "travel"],
                        avoid=["city_weather_forecast"])
    for recs in out.values():
        for rec in recs:
            assert "city_weather_forecast" not in {t["name"] for t in rec["tools"]}
    with pytest.raises(ValueError, match="unknown tool name"):
        build_dataset(10, RATIOS, seed=0, reference_date=REF, tools=["no_such_tool"])
