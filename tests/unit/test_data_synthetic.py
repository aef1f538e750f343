"""Tool library, date resolution, and the synthetic record classes."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path

import jsonschema
import pytest

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
from toolcall_dist.data.vocab import resolve_date_phrase

pytestmark = pytest.mark.unit

REF = "2026-11-24"
REF_DATE = dt.date(2026, 11, 24)
BFCL_COMMON = {"get_weather", "calculate_area", "get_current_weather", "convert_currency", "get_stock_price",
               "calculate_triangle_area", "book_flight", "send_email", "get_exchange_rate", "calculate_bmi"}


def _schema_types(schema: dict) -> set[str]:
    out = set()
    for p in schema["parameters"]["properties"].values():
        out.add("enum" if "enum" in p else p["type"])
        out |= {"default"} if "default" in p else set()
    return out


def test_library_size_domains_and_clean_schemas():
    assert len(ALL_TOOLS) >= 24 and len(DOMAINS) >= 8
    names = [t["name"] for t in ALL_TOOLS]
    assert len(names) == len(set(names)) and not set(names) & BFCL_COMMON
    covered = set()
    for tool in ALL_TOOLS:
        assert set(tool) == {"name", "description", "parameters"}  # no generation metadata leaks into the schema
        assert set(tool["parameters"]) == {"type", "properties", "required"}
        jsonschema.Draft202012Validator.check_schema(tool["parameters"])
        assert set(tool["parameters"]["required"]) <= set(tool["parameters"]["properties"])
        covered |= _schema_types(tool)
    assert {"string", "integer", "number", "boolean", "enum", "array", "default"} <= covered
    json.dumps(ALL_TOOLS)


def test_no_name_clashes_with_bfcl():
    bfcl_eval = pytest.importorskip("bfcl_eval")
    names = set()
    for path in (Path(bfcl_eval.__file__).parent / "data").glob("BFCL_v4_*.json"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                functions = json.loads(line).get("function") or []
            except (json.JSONDecodeError, AttributeError):  # a few BFCL files are not JSON Lines
                continue
            names |= {f["name"].split(".")[-1] for f in functions if isinstance(f, dict) and "name" in f}
    if not names:
        pytest.skip("bfcl_eval ships no data files here")
    assert not {t["name"] for t in ALL_TOOLS} & names


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


@pytest.mark.parametrize("shape", SHAPES)
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
        assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant"]
        reply = rec["messages"][2]
        assert reply["content"] and "tool_calls" not in reply
        if kind == "irrelevant":  # the refusal names a capability that no offered tool has
            assert not any(get_spec(t["name"]).capability in reply["content"] for t in rec["tools"])


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
    rec = bad_from_good(good, random.Random(2))
    assert rec["prompt"] == good["messages"][:2] and rec["chosen"] == [good["messages"][2]]
    assert rec["tools"] == good["tools"]


def test_when_pairs():
    rng = random.Random(9)
    good = make_good(rng, REF, "multiple")
    pair = make_when(good, rng, REF)
    assert pair["kind"] == "call_over_prose" and pair["prompt"] == good["messages"][:2]
    assert pair["chosen"][0]["tool_calls"] and "tool_calls" not in pair["rejected"][0]
    no_tool = make_no_tool(rng, REF, "chitchat")
    pair = make_when(no_tool, rng, REF)
    assert pair["kind"] == "prose_over_call" and pair["chosen"] == [no_tool["messages"][2]]
    bad_calls = calls_of(pair["rejected"][0])
    assert len(bad_calls) == 1 and bad_calls[0]["name"] in {t["name"] for t in no_tool["tools"]}
