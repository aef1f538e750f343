"""Computation negatives and BFCL's Python type names in the training data."""

import dataclasses
import json
import random
import re

import pytest

from toolcall_dist.data.bfcl_format import bfcl_ground_truth, python_typed
from toolcall_dist.data.builder import python_typed_share
from toolcall_dist.data.negatives import COMPUTING_DOMAINS, computation_turn
from toolcall_dist.data.synthetic import calls_of, make_good, make_no_tool
from toolcall_dist.data.tools import SPECS, get_spec
from toolcall_dist.schema.data import DataConfig

pytestmark = pytest.mark.unit
REF = "2026-11-24"


def _types(schema: dict) -> set[str]:
    found = {schema["type"]} if "type" in schema else set()
    for sub in schema.get("properties", {}).values():
        found |= _types(sub)
    if isinstance(schema.get("items"), dict):
        found |= _types(schema["items"])
    return found


def test_python_typed_renames_every_object_and_number_and_keeps_the_rest():
    seen = set()
    for spec in SPECS:
        typed = python_typed(spec.schema)
        types = _types(typed["parameters"])
        assert typed["parameters"]["type"] == "dict"
        assert not types & {"object", "number"}, (spec.name, types)
        seen |= types
        # only the type names and the descriptions of defaulted parameters change
        assert typed["name"] == spec.schema["name"] and typed["description"] == spec.schema["description"]
        assert typed["parameters"]["required"] == spec.schema["parameters"]["required"]
        for name, prop in spec.schema["parameters"]["properties"].items():
            new = typed["parameters"]["properties"][name]
            assert new.get("enum") == prop.get("enum") and new.get("default") == prop.get("default")
            if "default" in prop:
                assert new["description"].startswith(prop["description"].rstrip())
                assert new["description"].endswith(".") and "Default is" in new["description"]
            else:
                assert new["description"] == prop["description"]
        assert spec.schema["parameters"]["type"] == "object"  # the library's own schema is untouched
    assert {"dict", "float", "string", "integer", "boolean", "array"} <= seen


def test_python_typed_default_is_written_as_bfcl_writes_it():
    tool = {"name": "t", "description": "d", "parameters": {"type": "object", "required": [], "properties": {
        "unit": {"type": "string", "description": "Unit.", "default": "celsius"},
        "days": {"type": "integer", "description": "Days. Default 3.", "default": 3},
        "hourly": {"type": "boolean", "description": "Hourly.", "default": False}}}}
    props = python_typed(tool)["parameters"]["properties"]
    assert props["unit"]["description"] == "Unit. Default is 'celsius'."
    assert props["days"]["description"] == "Days. Default 3."  # already says it
    assert props["hourly"]["description"] == "Hourly. Default is false."


def test_ground_truth_is_the_same_for_both_type_styles():
    rng = random.Random(4)
    for i in range(60):
        rec = make_good(rng, REF, ("simple", "multiple", "parallel", "parallel_multiple")[i % 4])
        for call in calls_of(next(m for m in rec["messages"] if m.get("tool_calls"))):
            tool = next(t for t in rec["tools"] if t["name"] == call["name"])
            assert bfcl_ground_truth(call, python_typed(tool)) == bfcl_ground_truth(call, tool)


def test_python_typed_share_is_seeded_and_near_its_share():
    def records():
        rng = random.Random(1)
        return {"good": [make_good(rng, REF, "simple") for _ in range(300)],
                "no_tool": [make_no_tool(rng, REF, "chitchat") for _ in range(100)]}

    a, b = records(), records()
    n = python_typed_share(a, 0.5, seed=7)
    assert n == python_typed_share(b, 0.5, seed=7) and a == b
    typed = [r for c in a.values() for r in c if r["tools"][0]["parameters"]["type"] == "dict"]
    assert len(typed) == n and 150 < n < 250
    assert python_typed_share(records(), 0.0, seed=7) == 0
    with pytest.raises(ValueError, match="data.python_types"):
        python_typed_share(records(), 1.5, seed=7)


def _worked(answer: str) -> tuple[float, float]:
    """(value of the worked expression, the stated result) of "EXPR = RESULT ..." or "P% of W is RESULT."."""
    if " of " in answer and " is " in answer:
        pct, whole, result = re.findall(r"\d+(?:\.\d+)?", answer)
        return float(pct) * float(whole) / 100, float(result)
    if "average is" in answer:
        total, n, result = re.findall(r"\d+(?:\.\d+)?", answer)
        return float(total) / float(n), float(result)
    expr, result = answer.split(":")[-1].split("=")
    expr = re.sub(r"[a-wyz$]+/?[a-z]*", lambda m: "3.14159265" if m.group() == "pi" else "", expr)
    expr = expr.replace(" x ", " * ").replace("%", "/100").replace("^", "**")
    return eval(expr), float(re.search(r"\d+(?:\.\d+)?", result.replace(",", "")).group())  # noqa: S307


def test_computation_answers_are_worked_out_right():
    rng = random.Random(2)
    kinds = set()
    for _ in range(300):
        question, answer, _ = computation_turn(rng)
        assert question[0].isupper() and question[-1] in ".?"
        value, stated = _worked(answer)
        assert abs(value - stated) <= 0.01 * max(1.0, abs(value)), answer
        kinds.add(question.split(" of ")[0].split()[-1])
    assert len(kinds) >= 6


def test_computation_negatives_offer_tools_that_cannot_do_it():
    rng = random.Random(5)
    near = 0
    for _ in range(200):
        rec = make_no_tool(rng, REF, "computation")
        question, reply = rec["messages"][-2]["content"], rec["messages"][-1]["content"]
        assert "tool_calls" not in rec["messages"][-1] and reply
        names = {t["name"] for t in rec["tools"]}
        if "triangle" in question:
            assert "heron_triangle_area" not in names
        if "average of" in question:
            assert "compute_number_stats" not in names
        if "%" in question and "interest" not in question:
            assert "percentage_of_value" not in names
        near += all(get_spec(n).domain in COMPUTING_DOMAINS for n in names)
    assert near > 100  # mostly calculators that compute something else


def test_new_options_enter_the_data_key_only_when_set():
    from toolcall_dist.pipeline import _data_key, stage_key

    d = dataclasses.asdict(DataConfig())
    key = stage_key("data", _data_key(d))
    for change in ({"python_types": 0.3}, {"no_tool_kinds": {**d["no_tool_kinds"], "computation": 0.1}}):
        assert stage_key("data", _data_key({**d, **change})) != key
    assert "computation" not in json.dumps(_data_key(d)) and "python_types" not in json.dumps(_data_key(d))
