"""Quality gates: dedup (exact and normalised), JSON-Schema validation, leakage; and the corruptions checked
through them."""

from __future__ import annotations

import random

import pytest

from toolcall_dist.data.corrupt import CORRUPTIONS
from toolcall_dist.data.gates import Gate, Validators, keys, normalise_text
from toolcall_dist.data.leakage import BFCLReference, name_key
from toolcall_dist.data.mix import build_dataset
from toolcall_dist.data.synthetic import call_message, calls_of, make_bad, make_good, system_message
from toolcall_dist.data.tools import SPECS, get_tool

pytestmark = pytest.mark.unit

REF = "2026-11-24"
FX = get_tool("convert_currency_amount")


def _good(args: dict, text: str = "Convert 30 dollars to euros.", tools=None) -> dict:
    return {"id": "g", "class": "good", "shape": "simple", "tools": tools or [FX],
            "messages": [system_message(REF), {"role": "user", "content": text},
                         call_message([{"name": "convert_currency_amount", "arguments": args}]),
                         {"role": "tool", "name": "convert_currency_amount", "content": "{}"},
                         {"role": "assistant", "content": "Done."}]}


OK = {"amount": 30, "from_currency": "USD", "to_currency": "EUR"}


def test_normalise_and_keys():
    assert normalise_text("  Hi,   THERE! How's it going?") == "hi there how s it going"
    rec = _good(OK, "Convert 30 Dollars, to euros!")
    exact, norm = keys(rec)
    assert exact == (("convert_currency_amount",), "Convert 30 Dollars, to euros!")
    assert norm == (("convert_currency_amount",), "convert 30 dollars to euros")


def test_dedup_exact_and_normalised_are_counted():
    gate = Gate()
    assert gate.admit(_good(OK))
    assert not gate.admit(_good(OK))
    assert not gate.admit(_good(OK, "convert 30 dollars to EUROS"))
    assert gate.admit(_good(OK, "Convert 40 dollars to euros."))
    assert gate.summary() == {"duplicate_exact": {"good": 1}, "duplicate_normalised": {"good": 1}}
    assert gate.quarantine == []  # duplicates are counted, not quarantined
    gate.ban([(("convert_currency_amount",), "Convert 50 dollars to euros.")])
    assert not gate.admit(_good(OK, "convert 50 dollars to euros"))


@pytest.mark.parametrize("args,reason", [
    ({"amount": 30, "from_currency": "USD"}, "'to_currency' is a required property"),
    ({**OK, "amount": "30"}, "'30' is not of type 'number' (at amount)"),
    ({**OK, "verbose": True}, "Additional properties are not allowed ('verbose' was unexpected)"),
])
def test_invalid_calls_are_quarantined_with_the_reason(args, reason):
    gate = Gate()
    assert not gate.admit(_good(args))
    assert gate.summary() == {"invalid": {"good": 1}}
    assert gate.quarantine[0]["reason"] == f"call 0 to convert_currency_amount: {reason}"
    assert gate.quarantine[0]["record"]["messages"][2]["tool_calls"][0]["function"]["arguments"] == args


def test_structural_problems_are_quarantined():
    gate = Gate()
    other = _good(OK)
    other["messages"][2]["tool_calls"][0]["function"]["name"] = "stock_quote_lookup"
    negative = {"id": "n", "class": "no_tool", "kind": "chitchat", "tools": [FX],
                "messages": [{"role": "user", "content": "hi"}, call_message([{"name": FX["name"], "arguments": OK}])]}
    same = {"id": "p", "class": "bad", "kind": "x", "tools": [FX], "prompt": _good(OK)["messages"][:2],
            "chosen": [call_message([{"name": FX["name"], "arguments": OK}])],
            "rejected": [call_message([{"name": FX["name"], "arguments": OK}])]}
    broken = {**same, "rejected": [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": ""}}]}]}
    odd = {**_good(OK), "tools": [{**FX, "parameters": {"type": "object", "properties": ["amount"]}}]}
    for rec in (other, negative, same, broken, odd):
        assert not gate.admit(rec)
    assert [q["reason"] for q in gate.quarantine] == [
        "call 0: function 'stock_quote_lookup' is not among the offered tools",
        "no_tool record must end with a prose reply and no call",
        "pair: chosen and rejected must be two different assistant turns",
        "rejected calls are not well-formed name/arguments objects",
        "tool convert_currency_amount: invalid JSON Schema (['amount'] is not of type 'object' at properties)"]


def test_leakage_against_bfcl_questions_and_names():
    ref = BFCLReference({normalise_text("What is the weather like in Boston today, in Celsius?"): "simple_7"},
                        {"get_weather", "math.factorial"})
    assert ref.name_match("get_weathers") == "get_weather" and ref.name_match("Math_Factorial") == "math.factorial"
    assert ref.name_match("factorial") == "math.factorial" and ref.name_match("get_weather_forecast") is None
    assert name_key("a.b_C-1") == "abc1"
    gate = Gate(ref)
    assert not gate.admit(_good(OK, "what is the weather like in boston today in celsius"))
    renamed = {**get_tool("convert_currency_amount"), "name": "get_wether"}
    rec = _good(OK, "Convert 30 dollars to yen.", tools=[renamed])
    rec["messages"][2]["tool_calls"][0]["function"]["name"] = "get_wether"
    assert not gate.admit(rec)
    assert [q["reason"] for q in gate.quarantine] == [
        "leakage: user turn repeats BFCL question simple_7",
        "leakage: tool 'get_wether' (nearly) equals BFCL function 'get_weather'"]
    assert gate.summary() == {"leakage": {"good": 2}}


def test_split_schema_check_agrees_with_whole_schema_validation():
    validators, rng = Validators(), random.Random(0)
    checked = 0
    for spec in SPECS:
        check = validators.get(spec.schema)
        for _ in range(4):
            rec = make_bad(rng, REF, "simple", specs=[spec])
            if rec is None:
                continue
            for calls in (calls_of(rec["chosen"][0]), calls_of(rec["rejected"][0])):
                for call in calls:
                    if call["name"] == spec.name:
                        assert check.is_valid(call["arguments"]) == check.whole.is_valid(call["arguments"])
                        checked += 1
    assert checked > 400


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_every_corruption_kind_gives_a_well_formed_different_call(kind):
    gate = Gate()
    out = build_dataset(12, {"bad": 1}, seed=3, reference_date=REF, gate=gate,
                        shapes={"parallel_multiple": 1} if kind == "missing_parallel_call" else None)
    pairs = [r for r in out["bad"] if r["kind"] == kind]
    assert len(pairs) >= 1 and gate.quarantine == []  # every pair passed the gate: envelope, offered names
    validators = Validators()
    for rec in pairs:
        good, bad = calls_of(rec["chosen"][0]), calls_of(rec["rejected"][0])
        assert bad != good and validators.well_formed(bad)
        assert validators.call_errors(good, rec["tools"]) is None
        offered = {t["name"] for t in rec["tools"]}
        assert {c["name"] for c in bad} <= offered
        error = validators.call_errors(bad, rec["tools"])
        if kind in ("misspelled_entity", "unresolved_date", "missing_parallel_call"):
            assert error is None  # wrong content in a schema-valid call: only DPO can teach these
        if kind in ("dropped_required", "wrong_type", "unit_glued", "extra_argument", "invalid_enum"):
            assert error is not None  # a validator at serving time would catch these


def test_every_kind_appears_in_a_balanced_build():
    out = build_dataset(200, {"bad": 1}, seed=0, reference_date=REF)
    kinds = [r["kind"] for r in out["bad"]]
    assert {k: kinds.count(k) for k in CORRUPTIONS} == {k: 20 for k in CORRUPTIONS}


def test_good_records_pass_the_gate():
    gate, rng = Gate(), random.Random(4)
    for shape in ("simple", "multiple", "parallel", "parallel_multiple"):
        for _ in range(40):
            rec = make_good(rng, REF, shape)
            assert gate.problem(rec) is None, rec
