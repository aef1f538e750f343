"""Computation negatives, and BFCL's Python type names and Java / JavaScript source-text values in the training
data."""

import dataclasses
import json
import random
import re

import pytest

from toolcall_dist.data.bfcl_format import bfcl_ground_truth, python_typed
from toolcall_dist.data.builder import python_typed_share
from toolcall_dist.data.negatives import COMPUTING_DOMAINS, computation_turn
from toolcall_dist.data.source_text import NotSourceText, java_js_share, java_text, js_text, rewrite, typed_tool
from toolcall_dist.data.synthetic import calls_of, make_good, make_no_tool
from toolcall_dist.data.tools import SPECS, get_spec
from toolcall_dist.data.verbose import EXTRA_PARAMS, verbose_share, verbose_tool
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
    for change in ({"python_types": 0.3}, {"no_tool_kinds": {**d["no_tool_kinds"], "computation": 0.1}},
                   {"java_js": 0.2}, {"verbose_tools": 0.2}):
        assert stage_key("data", _data_key({**d, **change})) != key
    later = {"computation", "python_types", "java_js", "verbose_tools"}
    assert not later & set(re.findall(r"\w+", json.dumps(_data_key(d))))


def test_source_text_is_written_as_bfcl_reads_it():
    """Hand-worked values: what a model must write for BFCL's Java and JavaScript parameters."""
    assert java_text(["a", "b"], "ArrayList") == 'new ArrayList<>(Arrays.asList("a", "b"))'
    assert java_text([], "ArrayList") == "new ArrayList<>()"
    assert java_text({"limit": 50, "tz": "UTC"}, "HashMap") == \
        'new HashMap<String, Object>() {{ put("limit", 50); put("tz", "UTC"); }}'
    assert (java_text(True, "boolean"), java_text(30, "double"), java_text(7, "integer")) == ("true", "30.0", "7")
    assert java_text("Customers", "String") == "Customers"
    assert js_text(["a", "b"], "array") == "['a', 'b']" and js_text([60, 30], "array") == "[60, 30]"
    assert js_text({"method": "GET", "retry": True}, "dict") == "{method: 'GET', retry: true}"
    assert (js_text(False, "Boolean"), js_text(2.5, "float")) == ("false", "2.5")


def _single_calls(language: str):
    rng = random.Random(3)
    for spec in SPECS:
        rec = make_good(rng, REF, "simple", specs=[spec])
        if rec is None or len(calls_of(rec["messages"][2])) != 1:
            continue
        try:
            yield rec, rewrite(rec, language)
        except NotSourceText:
            continue


@pytest.mark.parametrize("language", ["java", "javascript"])
def test_the_training_reply_is_right_by_bfcls_checker_for_the_language(language):
    """Every rewritten call's values are strings, and BFCL's checker for the language, given the tool typed in the
    language's names and the original call as ground truth, judges the training reply right."""
    from toolcall_dist.eval.checker import check_entry

    checked = 0
    for rec, out in _single_calls(language):
        (call,) = calls_of(out["messages"][2])
        assert all(isinstance(v, str) for v in call["arguments"].values())
        (orig,) = calls_of(rec["messages"][2])
        tool = next(t for t in rec["tools"] if t["name"] == orig["name"])
        entry = {"id": "x", "category": f"simple_{language}", "question": [[rec["messages"][1]]],
                 "function": [typed_tool(tool, language)], "ground_truth": [bfcl_ground_truth(orig, tool)]}
        verdict = check_entry([call], entry)
        assert verdict["valid"], (call, entry["ground_truth"], verdict)
        # the offered tools are BFCL's prompt form: every parameter a string that names the language type
        for t in out["tools"]:
            for p in t["parameters"]["properties"].values():
                assert p["type"] == "string" and "type parameter in string representation" in p["description"]
        assert out["messages"][1:2] == rec["messages"][1:2] and out["messages"][3:] == rec["messages"][3:]
        checked += 1
    assert checked > len(SPECS) // 2


def test_java_js_share_counts_what_it_could_not_write_and_leaves_it():
    rng = random.Random(5)
    records = [make_good(rng, REF, ("simple", "parallel")[i % 2]) for i in range(200)]
    records.append({**records[0], "messages": [*records[0]["messages"][:2], {
        "role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "x", "arguments": {"tags": ["a, b", "c"]}}}]}]})
    records[-1]["tools"] = [{"name": "x", "description": "", "parameters": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["tags"]}}]
    before = json.dumps(records[-1])
    again = json.loads(json.dumps(records))
    counts = java_js_share(records, 1.0, seed=0)
    assert counts == java_js_share(again, 1.0, seed=0) and records == again  # seeded
    assert json.dumps(records[-1]) == before  # "a, b" inside a list would read back as two items
    assert counts["not_source_text"] >= 1
    assert counts["java"] + counts["javascript"] + counts["not_source_text"] == len(records)
    assert min(counts["java"], counts["javascript"]) > len(records) // 4


def test_verbose_tools_add_only_optional_parameters_that_the_calls_leave_unset():
    """The training reply stays right by BFCL's checker against the verbose tool; the same reply with an extra
    parameter filled in is wrong, which is the lesson."""
    import jsonschema

    from toolcall_dist.eval.checker import check_entry

    rng, checked = random.Random(11), 0
    for spec in SPECS:
        rec = make_good(rng, REF, "simple", specs=[spec])
        if rec is None:
            continue
        (call,) = calls_of(rec["messages"][2])
        plain = {"id": "x", "category": "simple_python", "question": [[rec["messages"][1]]],
                 "function": [spec.schema], "ground_truth": [bfcl_ground_truth(call, spec.schema)]}
        if not check_entry([call], plain)["valid"]:  # compute_number_stats' whole numbers in a list of floats
            continue
        tool = verbose_tool(spec.schema, rng)
        props, orig = tool["parameters"]["properties"], spec.schema["parameters"]["properties"]
        added = set(props) - set(orig)
        assert 2 <= len(added) <= 6 and added <= set(EXTRA_PARAMS)
        assert tool["parameters"]["required"] == spec.schema["parameters"]["required"]
        assert len(tool["description"]) > len(spec.schema["description"]) + 30
        assert all(props[k]["description"].startswith(orig[k].get("description", "")) for k in orig)
        jsonschema.validate(call["arguments"], tool["parameters"])
        truth = bfcl_ground_truth(call, tool)[call["name"]]
        assert all("" in truth[k] for k in added)  # each may be left out
        entry = {"id": "x", "category": "simple_python", "question": [[rec["messages"][1]]],
                 "function": [tool], "ground_truth": [{call["name"]: truth}]}
        assert check_entry([call], entry)["valid"]
        extra = sorted(added)[0]
        other = next(v for v in (EXTRA_PARAMS[extra].get("enum") or []) + [True, 7, 12.5, "other"]
                     if v != EXTRA_PARAMS[extra]["default"] and type(v) is type(EXTRA_PARAMS[extra]["default"]))
        filled = {**call, "arguments": {**call["arguments"], extra: other}}
        assert not check_entry([filled], entry)["valid"], (extra, other)
        checked += 1
    assert checked > len(SPECS) * 3 // 4


def test_verbose_share_is_seeded_and_counted():
    rng = random.Random(2)
    records = [make_good(rng, REF, "simple") for _ in range(300)]
    before, again = json.loads(json.dumps(records)), json.loads(json.dumps(records))
    n = verbose_share(records, 0.4, seed=3)
    assert n == verbose_share(again, 0.4, seed=3) and records == again
    assert 90 < n < 150
    assert sum(r["tools"] != b["tools"] for r, b in zip(records, before, strict=True)) == n
    assert all(r["messages"] == b["messages"] for r, b in zip(records, before, strict=True))
