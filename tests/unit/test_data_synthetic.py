"""Tool library, date resolution, and the synthetic record classes."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import jsonschema
import pytest
from conftest import require

from toolcall_dist.data.corrupt import CORRUPTIONS
from toolcall_dist.data.synthetic import (
    NO_TOOL_KINDS,
    SHAPES,
    bad_from_good,
    calls_of,
    make_bad,
    make_good,
    make_no_tool,
    make_when,
    system_message,
)
from toolcall_dist.data.tools import ALL_TOOLS, DOMAINS, SPECS, get_spec, get_tool
from toolcall_dist.data.toolspec import render
from toolcall_dist.data.vocab import fmt_number, resolve_date_phrase

pytestmark = pytest.mark.unit

REF = "2026-11-24"
REF_DATE = dt.date(2026, 11, 24)
BFCL_COMMON = {"get_weather", "calculate_area", "get_current_weather", "convert_currency", "get_stock_price",
               "calculate_triangle_area", "book_flight", "send_email", "get_exchange_rate", "calculate_bmi"}


def _schema_types(schema: dict, nested: bool = False) -> set[str]:
    """Parameter kinds a schema covers: JSON types, enum, default, array of objects, object, nested object."""
    out = set()
    for p in schema.get("properties", {}).values():
        out.add("enum" if "enum" in p else p["type"])
        out |= {"default"} if "default" in p else set()
        if p.get("type") == "array" and p["items"].get("type") == "object":
            out |= {"array_of_objects"} | _schema_types(p["items"], True)
        if p.get("type") == "array" and p["items"].get("type") in ("string", "integer", "number", "array"):
            out.add("array_of_scalars")
        if p.get("type") == "object":
            out |= {"nested_object" if nested else "object"} | _schema_types(p, True)
    return out


def test_library_size_domains_and_clean_schemas():
    assert len(ALL_TOOLS) >= 80 and len(DOMAINS) >= 12
    names = [t["name"] for t in ALL_TOOLS]
    assert len(names) == len(set(names)) and not set(names) & BFCL_COMMON
    covered = set()
    for tool in ALL_TOOLS:
        assert set(tool) == {"name", "description", "parameters"}  # no generation metadata leaks into the schema
        assert set(tool["parameters"]) == {"type", "properties", "required"}
        jsonschema.Draft202012Validator.check_schema(tool["parameters"])
        assert set(tool["parameters"]["required"]) <= set(tool["parameters"]["properties"])
        covered |= _schema_types(tool["parameters"])
    assert {"string", "integer", "number", "boolean", "enum", "array_of_scalars", "array_of_objects", "object",
            "nested_object", "default"} <= covered
    assert any(set(t["parameters"]["required"]) < set(t["parameters"]["properties"]) for t in ALL_TOOLS)  # optional
    json.dumps(ALL_TOOLS)


def test_no_tool_name_equals_or_nearly_equals_a_bfcl_function():
    from toolcall_dist.data.leakage import BFCLReference

    require("bfcl_eval")
    ref = BFCLReference.load()  # reads every BFCL question file and function doc
    assert ref is not None and len(ref.names) > 1000
    assert {t["name"]: ref.name_match(t["name"]) for t in ALL_TOOLS if ref.name_match(t["name"])} == {}
    # the matcher itself, on BFCL's own names: equal, one edit, a swap, a separator or case change
    known = sorted(ref.names)[0]
    assert ref.name_match(known) == known
    assert "get_weather" in ref.names  # a BFCL v4 function (live categories)
    for near in ("get_weathers", "get_wether", "get_waether", "Get-Weather"):
        assert ref.name_match(near) == "get_weather", near
    assert ref.name_match("get_weather_in_tokyo") is None


def test_get_tool_returns_a_copy():
    tool = get_tool("city_weather_forecast")
    assert tool == next(t for t in ALL_TOOLS if t["name"] == "city_weather_forecast")
    tool["parameters"]["properties"].clear()
    assert get_tool("city_weather_forecast")["parameters"]["properties"]
    with pytest.raises(KeyError, match="nope"):
        get_tool("nope")


@pytest.mark.parametrize("phrase,expected", [
    ("today", "2026-11-24"), ("tomorrow", "2026-11-25"), ("the day after tomorrow", "2026-11-26"),
    ("in 3 days", "2026-11-27"), ("in a week", "2026-12-01"), ("in 2 weeks", "2026-12-08"),
    ("next Friday", "2026-11-27"), ("this coming Friday", "2026-11-27"), ("next Tuesday", "2026-12-01"),
    ("next Monday", "2026-11-30"), ("on December 3", "2026-12-03"), ("on January 5", "2027-01-05"),
    ("on November 24", "2026-11-24"), ("on 2026-12-10", "2026-12-10"), ("next Fooday", None), ("yesterday", None),
])
def test_resolve_date_phrase(phrase, expected):
    assert resolve_date_phrase(phrase, REF_DATE) == expected


def test_system_message():
    assert system_message(REF) == {"role": "system",
                                   "content": "You are a helpful assistant. Today's date is 2026-11-24 (Tuesday)."}
    assert "(Sunday)" in system_message("2026-11-29")["content"]
    with pytest.raises(ValueError, match="reference_date"):
        system_message("24/11/2026")


def test_render_optional_segments():
    t = "Forecast for {city} {date}[ {units}]."
    assert render(t, {"city": "Oslo", "date": "tomorrow"}) == "Forecast for Oslo tomorrow."
    assert render(t, {"city": "Oslo", "date": "tomorrow", "units": "in Celsius"}) == \
        "Forecast for Oslo tomorrow in Celsius."


def _assert_grounded(tool_name: str, args: dict, text: str) -> None:
    spec = get_spec(tool_name)
    for name, value in args.items():
        surfaces = spec.param(name).sampler.surfaces(value, REF_DATE)
        assert any(s.lower() in text.lower() for s in surfaces), (tool_name, name, value, text)


def _assert_valid_calls(calls: list[dict], tools: list[dict]) -> None:
    by_name = {t["name"]: t for t in tools}
    for call in calls:
        schema = dict(by_name[call["name"]]["parameters"], additionalProperties=False)
        jsonschema.validate(call["arguments"], schema)


def test_every_tool_samples_valid_grounded_arguments():
    rng = random.Random(0)
    for spec in SPECS:
        for template in spec.questions + spec.clauses:
            for _ in range(5):
                args, text = spec.sample(rng, REF_DATE, template)
                _assert_valid_calls([{"name": spec.name, "arguments": args}], [spec.schema])
                _assert_grounded(spec.name, args, text)
                assert not re.search(r"\{\w+\}|\[[^\]]*\{", text), text  # no slot or optional segment left


def test_tomorrow_resolves_in_a_call():
    spec = get_spec("city_weather_forecast")
    args, text = spec.sample(random.Random(0), REF_DATE, "Weather in {city} {date}?", p_optional=0)
    assert resolve_date_phrase(text.split(f"in {args['city']} ")[1].rstrip("?"), REF_DATE) == args["date"]


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "multi_step"])  # multi-step: test_data_multistep.py
def test_good_records(shape):
    rng = random.Random(7)
    for _ in range(60):
        rec = make_good(rng, REF, shape)
        assert rec["class"] == "good" and rec["shape"] == shape and rec["id"].startswith("good-")
        msgs = rec["messages"]
        assert [m["role"] for m in msgs[:3]] == ["system", "user", "assistant"]
        assert msgs[0] == system_message(REF) and msgs[-1]["role"] == "assistant" and msgs[-1]["content"]
        calls = calls_of(msgs[2])
        assert msgs[2]["content"] == "" and all(tc["type"] == "function" for tc in msgs[2]["tool_calls"])
        assert all(isinstance(c["arguments"], dict) for c in calls)
        tool_msgs = msgs[3:-1]
        assert [m["name"] for m in tool_msgs] == [c["name"] for c in calls]
        assert all(m["role"] == "tool" for m in tool_msgs)
        assert all(isinstance(json.loads(m["content"]), dict) for m in tool_msgs)
        _assert_valid_calls(calls, rec["tools"])
        for c in calls:
            _assert_grounded(c["name"], c["arguments"], msgs[1]["content"])
        offered, called = {t["name"] for t in rec["tools"]}, {c["name"] for c in calls}
        assert called <= offered
        if shape == "simple":
            assert len(rec["tools"]) == 1 and len(calls) == 1
        elif shape == "multiple":
            assert 2 <= len(rec["tools"]) <= 4 and len(calls) == 1
        elif shape == "parallel":
            assert len(rec["tools"]) == 1 and 2 <= len(calls) <= 3
        else:
            assert len(called) >= 2
        json.dumps(rec)


def test_good_is_deterministic():
    assert make_good(random.Random(3), REF, "parallel_multiple") == make_good(random.Random(3), REF,
                                                                              "parallel_multiple")
    assert make_good(random.Random(3), REF, "simple") != make_good(random.Random(4), REF, "simple")
    with pytest.raises(ValueError, match="shape"):
        make_good(random.Random(0), REF, "sequential")


@pytest.mark.parametrize("kind", NO_TOOL_KINDS)
def test_no_tool_records(kind):
    rng = random.Random(11)
    for _ in range(60):
        rec = make_no_tool(rng, REF, kind)
        assert rec["class"] == "no_tool" and rec["kind"] == kind and rec["tools"]
        reply = rec["messages"][-1]
        assert reply["role"] == "assistant" and reply["content"] and "tool_calls" not in reply  # the answer is prose
        if kind != "followup":
            assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant"]
        if kind == "irrelevant":  # the refusal names a capability that no offered tool has
            assert not any(get_spec(t["name"]).capability in reply["content"] for t in rec["tools"])
        if kind == "arithmetic":  # the worked answer is right, and no offered tool could do the sum
            a, op, b, _, result = reply["content"].rstrip(".").split(" ")
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "x": int(a) * int(b), "/": int(a) / int(b)}[op] \
                == int(result)
            assert all(get_spec(t["name"]).domain != "math" for t in rec["tools"])
        if kind == "followup":  # a finished tool conversation, then a question its result answers
            roles = [m["role"] for m in rec["messages"]]
            assert roles[:3] == ["system", "user", "assistant"] and roles[-2:] == ["user", "assistant"]
            assert rec["messages"][2]["tool_calls"] and "tool" in roles
            result = json.loads(next(m for m in rec["messages"] if m["role"] == "tool")["content"])
            said = [fmt_number(v) if isinstance(v, (int, float)) else v for v in result.values()
                    if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
            assert any(v in reply["content"] for v in said), (said, reply)


def test_arithmetic_needs_a_tool_that_cannot_do_it():
    from toolcall_dist.data.tools import specs_in_domain

    assert make_no_tool(random.Random(0), REF, "arithmetic", specs=specs_in_domain("math")) is None


def test_bad_pairs():
    rng = random.Random(5)
    kinds = set()
    for i in range(200):
        rec = make_bad(rng, REF, SHAPES[i % 4])
        if rec is None:
            continue
        kinds.add(rec["kind"])
        assert rec["kind"] in CORRUPTIONS and [m["role"] for m in rec["prompt"]] == ["system", "user"]
        good, bad = calls_of(rec["chosen"][0]), calls_of(rec["rejected"][0])
        assert good != bad
        _assert_valid_calls(good, rec["tools"])
        assert all(isinstance(c["name"], str) and isinstance(c["arguments"], dict) for c in bad)
        json.loads(json.dumps(rec))
    assert len(kinds) >= 8  # the rng order reaches nearly every corruption


def test_bad_from_good_keeps_prompt():
    good = make_good(random.Random(2), REF, "simple")
    for seed in range(30):
        rec = bad_from_good(good, random.Random(seed))
        assert rec["prompt"] == good["messages"][:2] and rec["chosen"] == [good["messages"][2]]
        assert rec["pair_kind"] == "precision" and rec["source"] == "synthetic"
        added = [t["name"] for t in rec["tools"][len(good["tools"]):]]
        assert rec["tools"][:len(good["tools"])] == good["tools"]
        # a call rerouted to a sibling that was not offered brings that tool into the prompt
        assert added == ([c["name"] for c in calls_of(rec["rejected"][0])] if added else [])
        assert not added or rec["kind"] == "wrong_function"
    assert bad_from_good(good, random.Random(0), kinds=["wrong_function"], allowed=set()) is None


def test_when_pairs():
    from toolcall_dist.data.pairs import FORMAT_KINDS

    rng = random.Random(9)
    kinds = set()
    for _ in range(20):
        good = make_good(rng, REF, "multiple")
        pair = make_when(good, rng, REF)
        kinds.add(pair["kind"])
        assert pair["kind"] in FORMAT_KINDS and pair["pair_kind"] == "format"
        assert pair["prompt"] == good["messages"][:2]
        assert pair["chosen"][0]["tool_calls"] and "tool_calls" not in pair["rejected"][0]
        if pair["kind"] == "call_over_clarification":  # asks about an argument the user already gave
            asked = pair["rejected"][0]["content"]
            args = calls_of(pair["chosen"][0])[0]["arguments"]
            assert asked.endswith("?") and any(k.replace("_", " ") in asked for k in args)
    assert kinds == set(FORMAT_KINDS)
    no_tool = make_no_tool(rng, REF, "chitchat")
    pair = make_when(no_tool, rng, REF)
    assert pair["kind"] == "prose_over_call" and pair["pair_kind"] == "relevance"
    assert pair["chosen"] == [no_tool["messages"][2]]
    bad_calls = calls_of(pair["rejected"][0])
    assert len(bad_calls) == 1 and bad_calls[0]["name"] in {t["name"] for t in no_tool["tools"]}
    followup = make_no_tool(rng, REF, "followup")
    pair = make_when(followup, rng, REF)  # calling again is the mistake: the answer is already in context
    assert pair["prompt"] == followup["messages"][:-1]
    assert calls_of(pair["rejected"][0]) == calls_of(followup["messages"][2])
