"""The bad-input suite: well over a hundred malformed inputs, generated here, each ending in either an error that names
the file and line (or the config key) and what is wrong, or a quarantine entry with its reason that is counted.

Groups: source files (truncated, wrong encoding, empty, oversized, not JSON objects), source rows of each public
format (missing or mistyped fields), records at the quality gate (arguments failing the schema, invalid schemas,
duplicate tool names, impossible role orders, calls to tools not offered), configs (unknown keys, groups, families,
values out of range) and BFCL data directories (missing or incomplete). One end-to-end build shows the counts land in
``stats.json``, and one pipeline run shows a bad file stops the run before any training stage.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from toolcall_dist.config import ConfigError, validate
from toolcall_dist.data.gates import Gate
from toolcall_dist.data.loaders import MAX_ROW_BYTES, SourceError, load_source
from toolcall_dist.eval.bfcl import BFCLDataError, load_category

pytestmark = pytest.mark.unit

# --- one valid row per loadable format ------------------------------------------------------------------------------
WEATHER = {"name": "city_weather_now", "description": "Current weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
VALID = {
    "xlam": {"id": 1, "query": "Weather in Paris right now?",
             "tools": json.dumps([{"name": "city_weather_now", "description": "Weather.",
                                   "parameters": {"city": {"type": "str", "description": "City."}}}]),
             "answers": json.dumps([{"name": "city_weather_now", "arguments": {"city": "Paris"}}])},
    "hermes": {"conversations": [
        {"from": "system", "value": "<tools>" + json.dumps([WEATHER]) + "</tools>"},
        {"from": "human", "value": "Weather in Paris right now?"},
        {"from": "gpt",
         "value": '<tool_call>{"name": "city_weather_now", "arguments": {"city": "Paris"}}</tool_call>'},
        {"from": "tool", "value": '<tool_response>{"name": "city_weather_now", "content": "18C"}</tool_response>'},
        {"from": "gpt", "value": "It is 18C in Paris."}]},
    "glaive": {"system": "SYSTEM: You can use these functions -\n" + json.dumps(WEATHER),
               "chat": "USER: Weather in Paris right now?\n\nASSISTANT: <functioncall> "
                       "{\"name\": \"city_weather_now\", \"arguments\": '{\"city\": \"Paris\"}'} <|endoftext|>\n\n"
                       "FUNCTION RESPONSE: {\"temp\": 18}\n\nASSISTANT: It is 18C in Paris. <|endoftext|>"},
}
LINE_FORMATS = ("xlam", "hermes", "glaive")


def _row(fmt: str, i: int) -> dict:
    row = copy.deepcopy(VALID[fmt])
    if fmt == "xlam":
        row["query"] = f"Weather in city number {i} right now?"
    elif fmt == "hermes":
        row["conversations"][1]["value"] = f"Weather in city number {i} right now?"
    else:
        row["chat"] = row["chat"].replace("Paris right now", f"city number {i} right now")
    return row


def _lines(fmt: str, n: int = 3) -> list[bytes]:
    return [json.dumps(_row(fmt, i)).encode() for i in range(n)]


# --- 1. whole files that cannot be read: SourceError naming the file (and the line) ---------------------------------
def _array(fmt: str) -> bytes:
    return json.dumps([_row(fmt, i) for i in range(3)], indent=1).encode()


FILE_ERRORS = {  # kind -> (file suffix, bytes or None for no file, expected message part after the path)
    "empty": (".jsonl", b"", ": file is empty"),
    "whitespace_only": (".jsonl", b"  \n\n\t\n", ": file is empty"),
    "utf16": (".jsonl", "\n".join(json.dumps(_row("xlam", i)) for i in range(2)).encode("utf-16"),
              ": file is UTF-16-encoded"),
    "utf16_be": (".jsonl", b"\xfe\xff" + "{}".encode("utf-16-be"), ": file is UTF-16-encoded"),
    "utf32": (".json", "[{}]".encode("utf-32"), ": file is UTF-32-encoded"),
    "missing": (".jsonl", None, ": no such file"),
    "truncated_array": (".json", None, "invalid JSON"),  # filled per format below: cut in half
    "array_latin1": (".json", None, ": not UTF-8 text"),
    "empty_array": (".json", b"[]", ": holds no rows"),
    "empty_object": (".json", b"{}", None),  # one row, quarantined: checked separately
    "deep_array": (".json", b"[" * 200_000 + b"]" * 200_000, ": JSON nested too deeply"),
}


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize("kind", [k for k, v in FILE_ERRORS.items() if v[2] is not None])
def test_unreadable_file_is_an_error_naming_it(tmp_path, fmt, kind):
    suffix, content, expected = FILE_ERRORS[kind]
    path = tmp_path / f"{kind}{suffix}"
    if kind == "truncated_array":
        full = _array(fmt)
        content = full[: len(full) // 2]
    elif kind == "array_latin1":
        content = _array(fmt).replace(b"Weather in city number 1", b"Wetter in Z\xfcrich 1")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        load_source({"format": fmt, "path": str(path)})
    msg = str(err.value)
    assert msg.startswith(str(path)) and expected in msg
    if kind == "truncated_array":  # the line and column where the document breaks off
        line = content.count(b"\n") + 1
        assert f"{path}:{line}:" in msg and "invalid JSON" in msg
    if kind == "array_latin1":
        line = content[: content.index(b"\xfc")].count(b"\n") + 1
        assert f"{path}:{line}: not UTF-8" in msg


# --- 2. bad lines in a JSON Lines file: quarantined with file and line, the good lines still load -------------------
def _huge(fmt: str) -> bytes:
    row = _row(fmt, 99)
    row["padding"] = "x" * (10 * 1024 * 1024)  # a 10 MB record
    return json.dumps(row).encode()


BAD_LINES = {  # kind -> (bad line, expected reason part)
    "truncated_line": (lambda f: json.dumps(_row(f, 9)).encode()[:40], "invalid JSON"),
    "truncated_at_brace": (lambda f: json.dumps(_row(f, 9)).encode()[:-1], "invalid JSON"),
    "latin1_line": (lambda f: json.dumps(_row(f, 9)).encode().replace(b"city number 9", b"Z\xfcrich"),
                    "not UTF-8 text (byte 0xfc"),
    "cp1252_quotes": (lambda f: b"\x93" + json.dumps(_row(f, 9)).encode() + b"\x94", "not UTF-8 text (byte 0x93"),
    "ten_mb_record": (_huge, f"over the {MAX_ROW_BYTES}-byte limit"),
    "nul_bytes": (lambda f: b"\x00\x00\x00", "invalid JSON"),
    "deep_nesting": (lambda f: b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "python_dict": (lambda f: repr(_row(f, 9)).encode(), "invalid JSON"),
    "trailing_garbage": (lambda f: json.dumps(_row(f, 9)).encode() + b" }", "invalid JSON"),
}


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_bad_line_is_quarantined_with_file_and_line(tmp_path, fmt, kind):
    make, reason = BAD_LINES[kind]
    good = _lines(fmt)
    path = tmp_path / f"{kind}.jsonl"
    path.write_bytes(b"\n".join([good[0], good[1], make(fmt), good[2]]) + b"\n")
    out = load_source({"format": fmt, "path": str(path)})
    assert len(out.records) == 3 and out.rows == 4  # nothing else lost
    (q,) = out.quarantine
    assert q["file"] == str(path) and q["line"] == 3 and q["reason"].startswith("line 3: ") and reason in q["reason"]
    assert len(q["raw"]) <= 500  # the quarantine file does not carry the 10 MB along


NOT_OBJECTS = {"number": b"42", "list": b"[1, 2]", "string": b'"hello"', "null": b"null", "bool": b"true"}


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize("kind", sorted(NOT_OBJECTS))
def test_json_line_that_is_not_an_object_is_quarantined_with_its_row(tmp_path, fmt, kind):
    good = _lines(fmt, 2)
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join([good[0], NOT_OBJECTS[kind], good[1]]))
    out = load_source({"format": fmt, "path": str(path)})
    assert len(out.records) == 2
    (q,) = out.quarantine
    assert q["file"] == str(path) and q["row"] == 1 and "not an object" in q["reason"]


def test_ten_mb_record_inside_a_json_array_is_quarantined(tmp_path):
    rows = [_row("xlam", 0), json.loads(_huge("xlam")), _row("xlam", 1)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(rows))
    out = load_source({"format": "xlam", "path": str(path)})
    assert len(out.records) == 2
    (q,) = out.quarantine
    assert q["row"] == 1 and "over the" in q["reason"] and len(q["raw"]) <= 2000


def test_empty_object_document_is_one_quarantined_row(tmp_path):
    path = tmp_path / "obj.json"
    path.write_bytes(b"{}")
    out = load_source({"format": "xlam", "path": str(path)})
    assert out.records == [] and [q["reason"] for q in out.quarantine] == ["row needs a non-empty 'query'"]


# --- 3. rows of each format with missing or mistyped fields: quarantined with the reason ----------------------------
def _xlam(**over):
    return {**VALID["xlam"], **over}


def _hermes(turns):
    return {"conversations": turns}


H_SYS = {"from": "system", "value": "<tools>" + json.dumps([WEATHER]) + "</tools>"}
H_USER = {"from": "human", "value": "Weather in Paris?"}
H_CALL = {"from": "gpt",
          "value": '<tool_call>{"name": "city_weather_now", "arguments": {"city": "Paris"}}</tool_call>'}
BFCL_Q = {"id": "simple_0", "question": [[{"role": "user", "content": "Weather in Paris?"}]], "function": [WEATHER]}

ROW_CASES = {
    "xlam_no_query": ("xlam", {k: v for k, v in VALID["xlam"].items() if k != "query"}, "non-empty 'query'"),
    "xlam_empty_query": ("xlam", _xlam(query="  "), "non-empty 'query'"),
    "xlam_query_number": ("xlam", _xlam(query=5), "non-empty 'query'"),
    "xlam_tools_not_json": ("xlam", _xlam(tools="[{name: weather"), "neither JSON nor a Python literal"),
    "xlam_answers_object": ("xlam", _xlam(answers="{}"), "must be JSON lists"),
    "xlam_no_answers": ("xlam", _xlam(answers="[]"), "no answer"),
    "xlam_call_without_name": ("xlam", _xlam(answers='[{"arguments": {}}]'), "call without a function name"),
    "xlam_arguments_list": ("xlam", _xlam(answers='[{"name": "f", "arguments": [1, 2]}]'), "arguments are list"),
    "xlam_tool_without_name": ("xlam", _xlam(tools='[{"description": "x"}]'), "tool without a name"),
    "xlam_parameters_list": ("xlam", _xlam(tools='[{"name": "f", "parameters": [1]}]'), "parameters are not an"),
    "xlam_param_spec_string": ("xlam", _xlam(tools='[{"name": "f", "parameters": {"city": "str"}}]'),
                               "is not described by an object"),
    "glaive_no_system": ("glaive", {"chat": VALID["glaive"]["chat"]}, "row needs 'system' and 'chat' strings"),
    "glaive_chat_list": ("glaive", {**VALID["glaive"], "chat": ["USER: hi"]}, "row needs 'system' and 'chat'"),
    "glaive_broken_function_list": ("glaive", {**VALID["glaive"], "system": 'SYSTEM: -\n{"name": "f", "par'},
                                    "malformed JSON in function list"),
    "glaive_unreadable_call": ("glaive", {**VALID["glaive"], "chat": "USER: hi\n\nASSISTANT: <functioncall> {oops"},
                               "unreadable <functioncall>"),
    "glaive_response_before_call": ("glaive", {**VALID["glaive"], "chat": "USER: hi\n\nFUNCTION RESPONSE: {}\n\n"
                                                                          "ASSISTANT: ok"},
                                    "function response without a preceding call"),
    "glaive_no_user": ("glaive", {**VALID["glaive"], "chat": "ASSISTANT: Hello there."}, "no user turn"),
    "glaive_empty_reply": ("glaive", {**VALID["glaive"], "chat": "USER: hi\n\nASSISTANT: <|endoftext|>"},
                           "assistant reply is empty"),
    "hermes_no_conversations": ("hermes", {"messages": []}, "needs a 'conversations' list"),
    "hermes_turn_is_text": ("hermes", _hermes(["hello"]), "needs a 'conversations' list"),
    "hermes_unknown_role": ("hermes", _hermes([H_SYS, {"from": "robot", "value": "beep"}]), "not a known role"),
    "hermes_value_not_text": ("hermes", _hermes([H_SYS, {"from": "human", "value": {"text": "hi"}}]),
                              "not a known role with text"),
    "hermes_response_without_call": ("hermes", _hermes([H_SYS, H_USER, {"from": "tool", "value": "18C"}]),
                                     "tool response without a preceding call"),
    "hermes_broken_call_json": ("hermes", _hermes([H_SYS, H_USER, {"from": "gpt", "value": "<tool_call>{'na"
                                                                                          "</tool_call>"}]),
                                "neither JSON nor a Python literal"),
    "hermes_broken_tools": ("hermes", {"tools": "[{oops", **_hermes([H_USER, H_CALL])}, "neither JSON nor"),
    "hermes_tool_without_name": ("hermes", {"tools": [{"description": "x"}], **_hermes([H_USER, H_CALL])},
                                 "tool without a name"),
    "hermes_no_user": ("hermes", _hermes([H_SYS, {"from": "gpt", "value": "Hello."}]), "no user turn"),
    "bfcl_no_question": ("bfcl", {"id": "x", "function": [WEATHER]}, "entry needs 'question'"),
    "bfcl_multi_turn": ("bfcl", {**BFCL_Q, "question": [[{"role": "user", "content": "a"}]] * 2}, "multi-turn"),
    "bfcl_function_without_name": ("bfcl", {**BFCL_Q, "function": [{"description": "x"}]},
                                   "function without a name"),
    "bfcl_bad_ground_truth": ("bfcl", {**BFCL_Q, "ground_truth": {"f": {}}}, "ground_truth must be a list"),
}


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_malformed_row_is_quarantined_with_its_reason(tmp_path, case):
    fmt, bad, reason = ROW_CASES[case]
    path = tmp_path / "rows.jsonl"
    good = json.dumps(BFCL_Q if fmt == "bfcl" else VALID[fmt])
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    out = load_source({"format": fmt, "path": str(path)})
    assert len(out.records) == 1, out.quarantine
    (q,) = out.quarantine
    assert q["row"] == 1 and q["file"] == str(path) and reason in q["reason"], q["reason"]


# --- 4. records at the quality gate: quarantined (check "invalid") and counted per class ---------------------------
TOOL = {"name": "city_weather_now", "description": "Weather.", "parameters": {
    "type": "object", "required": ["city"], "properties": {
        "city": {"type": "string"}, "units": {"type": "string", "enum": ["c", "f"]},
        "days": {"type": "integer", "minimum": 1},
        "where": {"type": "object", "required": ["lat"], "properties": {"lat": {"type": "number"}}}}}}
SYS, USER = {"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Weather in Paris?"}


def _call(name="city_weather_now", **args):
    return {"type": "function", "function": {"name": name, "arguments": args or {"city": "Paris"}}}


def _good(messages=None, tools=None) -> dict:
    msgs = messages if messages is not None else [SYS, USER, {"role": "assistant", "content": "",
                                                              "tool_calls": [_call()]}]
    return {"id": "r", "class": "good", "shape": "simple", "source": "test", "tools": tools or [TOOL],
            "messages": msgs}


def _with_args(**args) -> dict:
    return _good([SYS, USER, {"role": "assistant", "content": "", "tool_calls": [_call(**args)]}])


def _tool_schema(params) -> dict:
    return _good(tools=[{**TOOL, "parameters": params}])


def _no_tool(tools) -> dict:
    return {"id": "n", "class": "no_tool", "kind": "chitchat", "source": "test", "tools": tools,
            "messages": [SYS, {"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi!"}]}


def _pair(prompt=None, chosen=None, rejected=None) -> dict:
    return {"id": "p", "class": "bad", "kind": "typo", "pair_kind": "precision", "source": "test", "tools": [TOOL],
            "prompt": prompt or [SYS, USER],
            "chosen": [chosen or {"role": "assistant", "content": "", "tool_calls": [_call()]}],
            "rejected": [rejected or {"role": "assistant", "content": "", "tool_calls": [_call(city="Pariss")]}]}


A_CALL = {"role": "assistant", "content": "", "tool_calls": [_call()]}
A_TEXT = {"role": "assistant", "content": "It is sunny."}
RESULT = {"role": "tool", "name": "city_weather_now", "content": "18C"}

GATE_CASES = {
    # call arguments that fail the tool's JSON schema
    "arg_wrong_type": (_with_args(city=5), "5 is not of type 'string'"),
    "arg_missing_required": (_with_args(units="c"), "'city' is a required property"),
    "arg_unknown": (_with_args(city="Paris", country="FR"), "Additional properties are not allowed"),
    "arg_enum": (_with_args(city="Paris", units="kelvin"), "is not one of ['c', 'f']"),
    "arg_below_minimum": (_with_args(city="Paris", days=0), "less than the minimum of 1"),
    "arg_nested_type": (_with_args(city="Paris", where={"lat": "north"}), "'north' is not of type 'number'"),
    "arg_nested_missing": (_with_args(city="Paris", where={}), "'lat' is a required property"),
    "arg_nested_unknown": (_with_args(city="Paris", where={"lat": 1, "alt": 2}), "Additional properties"),
    "args_not_object": (_good([SYS, USER, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "city_weather_now", "arguments": [1]}}]}]), "arguments are list"),
    # tool schemas that are not valid JSON Schema (called or merely offered)
    "schema_bad_type": (_tool_schema({"type": "object", "properties": {"city": {"type": "strng"}}}),
                        "invalid JSON Schema"),
    "schema_required_string": (_tool_schema({"type": "object", "properties": {}, "required": "city"}),
                               "invalid JSON Schema"),
    "schema_properties_list": (_tool_schema({"type": "object", "properties": ["city"]}), "invalid JSON Schema"),
    "schema_minimum_text": (_tool_schema({"type": "object", "properties": {"n": {"type": "integer",
                                                                                 "minimum": "one"}}}),
                            "invalid JSON Schema"),
    "schema_enum_not_array": (_tool_schema({"type": "object", "properties": {"u": {"enum": "c"}}}),
                              "invalid JSON Schema"),
    "schema_items_number": (_tool_schema({"type": "object", "properties": {"l": {"type": "array", "items": 5}}}),
                            "invalid JSON Schema"),
    "schema_parameters_list": (_tool_schema(["city"]), "parameters are list, not a JSON Schema object"),
    "schema_invalid_uncalled": (_no_tool([{**TOOL, "name": "other", "parameters": {"type": 7}}]),
                                "tool other: invalid JSON Schema"),
    # duplicate or unusable tool names
    "duplicate_tool_same": (_good(tools=[TOOL, TOOL]), "duplicate tool name 'city_weather_now'"),
    "duplicate_tool_different": (_good(tools=[TOOL, {**TOOL, "description": "Other."}]), "duplicate tool name"),
    "duplicate_tool_no_tool": (_no_tool([TOOL, TOOL]), "duplicate tool name"),
    "tool_name_empty": (_good(tools=[TOOL, {**TOOL, "name": ""}]), "tools[1]: name is ''"),
    "tool_name_number": (_good(tools=[TOOL, {**TOOL, "name": 5}]), "tools[1]: name is 5"),
    "tool_not_object": (_good(tools=[TOOL, "city_weather_now"]), "tools: not a list of tool schemas"),
    "tools_not_list": (_good(tools={"city_weather_now": TOOL}), "tools: not a list of tool schemas"),
    # conversations in an order no chat can have
    "assistant_first": (_good([SYS, A_TEXT, USER, A_CALL]), "opens with a assistant turn"),
    "tool_first": (_good([RESULT, USER, A_CALL]), "opens with a tool turn"),
    "system_in_middle": (_good([SYS, USER, SYS, A_CALL]), "a system turn after the conversation started"),
    "tool_after_user": (_good([SYS, USER, RESULT, A_CALL]), "a tool result that answers no call"),
    "tool_after_prose": (_good([SYS, USER, A_TEXT, RESULT, A_CALL]), "a tool result that answers no call"),
    "two_assistants": (_good([SYS, USER, A_TEXT, A_CALL]), "two assistant turns in a row"),
    "more_results_than_calls": (_good([SYS, USER, A_CALL, RESULT, RESULT, A_TEXT]), "more tool results"),
    "call_left_unanswered": (_good([SYS, USER, A_CALL, USER, A_CALL]), "await results"),
    "unknown_role": (_good([SYS, USER, {"role": "robot", "content": "beep"}, A_CALL]), "unknown role 'robot'"),
    "message_not_object": (_good([SYS, USER, "assistant: hi", A_CALL]), "unknown role 'str'"),
    "content_not_text": (_good([SYS, {"role": "user", "content": {"q": "weather"}}, A_CALL]), "content is dict"),
    "ends_with_user": (_good([SYS, USER, A_CALL, RESULT, A_TEXT, USER]), "must end with an assistant turn"),
    "no_messages": (_good([]), "messages: not a non-empty list"),
    "messages_not_list": ({**_good(), "messages": "hi"}, "messages: not a non-empty list of turns"),
    "pair_prompt_ends_with_assistant": (_pair(prompt=[SYS, USER, A_TEXT]), "prompt ends with a assistant turn"),
    "pair_prompt_opens_with_tool": (_pair(prompt=[RESULT, USER]), "prompt messages[0]: the conversation opens"),
    # calls to tools that are not offered
    "call_not_offered": (_good([SYS, USER, {"role": "assistant", "content": "", "tool_calls": [
        _call("stock_quote", symbol="X")]}]), "function 'stock_quote' is not among the offered tools"),
    "second_call_not_offered": (_good([SYS, USER, {"role": "assistant", "content": "", "tool_calls": [
        _call(), _call("stock_quote", symbol="X")]}]), "call 1: function 'stock_quote' is not among"),
    "chosen_not_offered": (_pair(chosen={"role": "assistant", "content": "", "tool_calls": [_call("nope", a=1)]}),
                           "chosen call 0: function 'nope' is not among the offered tools"),
    "rejected_not_offered": (_pair(rejected={"role": "assistant", "content": "", "tool_calls": [
        _call("nope", a=1)]}), "rejected call to 'nope', which is not offered"),
    "rejected_not_well_formed": (_pair(rejected={"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "city_weather_now", "arguments": "city=Paris"}}]}),
                                 "not well-formed"),
    "chosen_equals_rejected": (_pair(rejected={"role": "assistant", "content": "", "tool_calls": [_call()]}),
                               "two different assistant turns"),
    "unknown_class": ({**_good(), "class": "great"}, "unknown record class 'great'"),
}


@pytest.mark.parametrize("case", sorted(GATE_CASES))
def test_invalid_record_is_quarantined_and_counted(case):
    rec, reason = GATE_CASES[case]
    gate = Gate(reference=None)
    assert gate.admit(copy.deepcopy(_good([SYS, {"role": "user", "content": "A different question?"}, A_CALL])))
    assert not gate.admit(copy.deepcopy(rec))
    cls = rec.get("class", "?")
    assert gate.summary() == {"invalid": {cls: 1}}
    (q,) = gate.quarantine
    assert q["check"] == "invalid" and reason in q["reason"], q["reason"]


# --- 5. configs: an error naming the key, at composition or validation time, before anything runs -------------------
CONFIG_CASES = {
    "model.family=gpt5": "model.family",
    "model=nope": "model/nope",
    "cluster=nope": "cluster/nope",
    "deepspeed=zero9": "deepspeed/zero9",
    "+exp=nope": "exp/nope",
    "nope=1": "nope",
    "+nope=1": "nope: unknown config key",
    "model.nope=1": "model.nope",
    "+model.nope=1": "model.nope: unknown config key",
    "+data.ratios.neutral=0.1": "data.ratios.neutral: unknown config key",
    "+model.tiny.depth=3": "model.tiny.depth: unknown config key",
    "data.ratios.good=-0.1": "data.ratios.good",
    "data.ratios.bad=nan": "data.ratios.bad",
    "data.ratios.no_tool=inf": "data.ratios.no_tool",
    "data.ratios={good:0,bad:0,no_tool:0}": "data.ratios",
    "data.ratios.good=lots": "data.ratios.good",
    "data.shapes.simple=-1": "data.shapes.simple",
    "data.no_tool_kinds.chitchat=nan": "data.no_tool_kinds.chitchat",
    "data.heldout_tool_fraction=1.0": "data.heldout_tool_fraction",
    "data.heldout_tool_fraction=-0.1": "data.heldout_tool_fraction",
    "data.n_examples=0": "data.n_examples",
    "data.holdout_per_category=-1": "data.holdout_per_category",
    "data.holdout_seed=0": "data.holdout_seed",
    "data.sources=[{format:sharegpt,path:x.jsonl}]": "data.sources.format",
    "data.sources=[{format:glaive,path:x.json,weight:2}]": "data.sources.weight",
    "data.sources=[{format:glaive,path:x.json,weight:0.7},{format:xlam,path:y.jsonl,weight:0.7}]": "data.sources",
    "data.sources=[{format:bfcl,path:x.json,weight:0.5}]": "data.sources.weight",
    "data.sources=[{format:glaive}]": "data.sources.path",
    "dpo.beta=0": "dpo.beta",
    "dpo.beta=-1": "dpo.beta",
    "dpo.beta=nan": "dpo.beta",
    "dpo.beta=inf": "dpo.beta",
    "dpo.beta=abc": "dpo.beta",
    "dpo.loss_type=kto": "dpo.loss_type",
    "dpo.warmup_ratio=-0.1": "dpo.warmup_ratio",
    "sft.warmup_ratio=1.5": "sft.warmup_ratio",
    "sft.learning_rate=0": "sft.learning_rate",
    "sft.epochs=inf": "sft.epochs",
    "sft.global_batch_size=15": "sft.global_batch_size",
    "sft.max_length=0": "sft.max_length",
    "sft.sampling=shuffled": "sft.sampling",
    "peft.method=qlora": "peft.method",
    "peft.dropout=1.0": "peft.dropout",
    "deepspeed.stage=4": "deepspeed.stage",
    "deepspeed.offload_params=true": "deepspeed.offload_params",
    "cluster.num_workers=0": "cluster.num_workers",
    "cluster.num_workers=two": "cluster.num_workers",
    "cluster.connect_timeout_s=0": "cluster.connect_timeout_s",
    "cluster.node_wait_s=-1": "cluster.node_wait_s",
    "cluster.poll_interval_s=0": "cluster.poll_interval_s",
    "tracking.mode=loud": "tracking.mode",
    "eval.categories=[nope]": "eval.categories",
    "eval.models=[rlhf]": "eval.models",
    "data.python_types=1.5": "data.python_types",
    "data.java_js=-0.1": "data.java_js",
    "data.verbose_tools=2": "data.verbose_tools",
    "eval.heldout_categories=[nope]": "eval.heldout_categories",
    "eval.backend=tgi": "eval.backend",
    "eval.limit=0": "eval.limit",
    "stages=[data,train]": "stages",
    "model.dtype=int4": "model.dtype",
    "model.tiny.vocab_size=100": "model.tiny.vocab_size",
}


# Caught by Hydra while composing, before the schema's checks: an unknown group option (MissingConfigException
# naming "<group>/<option>"), or a key the schema lacks or a value of the wrong type (ConfigCompositionException
# whose cause carries the dotted key). Every other case is the project's ConfigError.
HYDRA_MISSING = {"model=nope", "cluster=nope", "deepspeed=zero9", "+exp=nope"}
HYDRA_MERGE = {"nope=1", "model.nope=1", "data.ratios.good=lots", "dpo.beta=abc", "cluster.num_workers=two"}


@pytest.mark.parametrize("override", sorted(CONFIG_CASES))
def test_bad_config_is_an_error_naming_the_key(compose, override):
    from hydra.errors import ConfigCompositionException, MissingConfigException

    key = CONFIG_CASES[override]
    with pytest.raises(Exception) as err:
        validate(compose(["+exp=quickstart", override]))
    if override in HYDRA_MISSING:
        assert isinstance(err.value, MissingConfigException) and f"Could not find '{key}'" in str(err.value)
    elif override in HYDRA_MERGE:
        assert isinstance(err.value, ConfigCompositionException)
        assert err.value.__cause__.full_key == key
    else:
        assert isinstance(err.value, ConfigError), repr(err.value)
        assert str(err.value).startswith(key.split(":")[0] + ":")  # one line that starts with the key


# --- 6. BFCL data directories: missing or incomplete -> an error naming the file (and line) -------------------------
def _bfcl_dir(tmp_path: Path, cat: str = "simple_python") -> Path:
    root = tmp_path / "bfcl"
    (root / "possible_answer").mkdir(parents=True)
    q = [{"id": f"{cat}_{i}", "question": [[{"role": "user", "content": f"q{i}"}]], "function": [WEATHER]}
         for i in range(3)]
    a = [{"id": f"{cat}_{i}", "ground_truth": [{"city_weather_now": {"city": ["Paris"]}}]} for i in range(3)]
    (root / f"BFCL_v4_{cat}.json").write_text("".join(json.dumps(x) + "\n" for x in q))
    (root / "possible_answer" / f"BFCL_v4_{cat}.json").write_text("".join(json.dumps(x) + "\n" for x in a))
    return root


def _break(root: Path, kind: str) -> tuple[Path, str]:
    q, a = root / "BFCL_v4_simple_python.json", root / "possible_answer" / "BFCL_v4_simple_python.json"
    if kind == "dir_missing":
        return root / "nowhere", "does not exist"
    if kind == "questions_missing":
        q.unlink()
        return q, "does not exist"
    if kind == "answers_missing":
        a.unlink()
        return a, "does not exist"
    if kind == "answer_for_question_missing":
        a.write_text(a.read_text().splitlines()[0] + "\n")
        return a, "no ground truth for question id 'simple_python_1'"
    lines = q.read_text().splitlines()
    if kind == "questions_empty":
        q.write_text("")
        return q, "file is empty"
    if kind == "question_truncated":
        lines[1] = lines[1][:30]
        want = "2: invalid JSON"
    elif kind == "question_not_object":
        lines[1] = "[1, 2]"
        want = "2: expected a JSON object"
    elif kind == "question_missing_function":
        lines[2] = json.dumps({k: v for k, v in json.loads(lines[2]).items() if k != "function"})
        want = "3: missing key(s) function"
    elif kind == "question_latin1":
        q.write_bytes(q.read_bytes().replace(b"q1", b"\xe9t\xe9"))
        return q, "2: not UTF-8 text (byte 0xe9"
    else:
        raise AssertionError(kind)
    q.write_text("\n".join(lines) + "\n")
    return q, want


BFCL_KINDS = ("dir_missing", "questions_missing", "answers_missing", "answer_for_question_missing", "questions_empty",
              "question_truncated", "question_not_object", "question_missing_function", "question_latin1")


@pytest.mark.parametrize("kind", BFCL_KINDS)
def test_incomplete_bfcl_data_is_an_error_naming_the_file(tmp_path, kind):
    root = _bfcl_dir(tmp_path)
    assert len(load_category("simple_python", root)) == 3  # intact, it loads
    path, want = _break(root, kind)
    data_dir = path if kind == "dir_missing" else root
    with pytest.raises(BFCLDataError) as err:
        load_category("simple_python", data_dir)
    assert str(path) in str(err.value) and want in str(err.value), str(err.value)


@pytest.mark.parametrize("kind", BFCL_KINDS)
def test_preflight_finds_incomplete_bfcl_data_before_any_stage(tmp_path, compose, kind):
    """BFCL categories to evaluate: the run stops in preflight (eval.bfcl_data_dir named) before data or training
    starts."""
    from toolcall_dist import pipeline
    from toolcall_dist.preflight import PreflightError

    root = _bfcl_dir(tmp_path)
    path, want = _break(root, kind)
    data_dir = path if kind == "dir_missing" else root
    cfg = compose(["+exp=quickstart", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages",
                   "eval.categories=[simple_python]", f"eval.bfcl_data_dir={data_dir}",
                   "tracking=none"])
    with pytest.raises(PreflightError) as err:
        pipeline.run(cfg)
    assert str(err.value).startswith("eval.bfcl_data_dir: ") and want in str(err.value)
    assert not any((tmp_path / "stages").glob("*/done.json")) and not (tmp_path / "out" / "config.json").exists()


@pytest.mark.parametrize("make", ["missing", "empty_dir"])
def test_leakage_bfcl_dir_missing_or_empty_is_an_error_naming_the_key(tmp_path, compose, make):
    from toolcall_dist import pipeline
    from toolcall_dist.preflight import PreflightError

    path = tmp_path / "bfcl"
    if make == "empty_dir":
        path.mkdir()
    cfg = compose(["+exp=quickstart", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages",
                   f"data.bfcl_data_dir={path}", "stages=[data]", "tracking=none"])
    with pytest.raises(PreflightError, match=r"^data\.bfcl_data_dir: .*(does not exist|holds no BFCL_v4)"):
        pipeline.run(cfg)


# --- 7. end to end: a bad source file in a real data stage ----------------------------------------------------------
def test_rejections_of_a_loaded_file_are_counted_in_stats_json(tmp_path):
    """Truncated line, 10 MB record, schema-failing call, call to a tool not offered, duplicate tool names: each is
    one quarantine line with its reason, and stats.json counts every one (nothing dropped silently)."""
    from dataclasses import asdict

    from toolcall_dist.config import SYNTHETIC_CATEGORIES, DataConfig
    from toolcall_dist.data.builder import build
    from toolcall_dist.data.export import save

    rows = [json.dumps(_row("hermes", i)).encode() for i in range(4)]
    bad_args = _row("hermes", 10)
    bad_args["conversations"][2]["value"] = '<tool_call>{"name": "city_weather_now", "arguments": {"city": 7}}' \
                                            "</tool_call>"
    unoffered = _row("hermes", 11)
    unoffered["conversations"][2]["value"] = '<tool_call>{"name": "stock_quote", "arguments": {}}</tool_call>'
    dup = _row("hermes", 12)
    dup["conversations"][0]["value"] = "<tools>" + json.dumps([WEATHER, WEATHER]) + "</tools>"
    lines = [*rows, rows[0][:50], _huge("hermes"), *(json.dumps(r).encode() for r in (bad_args, unoffered, dup))]
    src = tmp_path / "hermes.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    d = asdict(DataConfig())
    d.update(n_examples=40, eval_examples=0, holdout_per_category=2, leakage_check=False, domains=["weather"],
             heldout_tool_fraction=0.0, sources=[{"format": "hermes", "path": str(src), "hub": None, "split": "train",
                                                  "weight": 1.0, "limit": None}])
    res = build(d, SYNTHETIC_CATEGORIES)
    stats = save(res, tmp_path / "out")
    quarantine = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    from_file = [q for q in quarantine if q.get("file") == str(src) or q.get("source") == "hermes"]
    reasons = sorted(q["reason"].split(":")[0] if q["check"] == "parse" else q["reason"] for q in from_file)
    assert len(from_file) == 5, reasons
    assert sum(1 for r in reasons if r in ("line 5", "line 6")) == 2
    assert any("duplicate tool name" in r for r in reasons) and any("'stock_quote' is not among" in r for r in reasons)
    assert any("7 is not of type 'string'" in r for r in reasons)
    assert stats["gate"]["parse"]["hermes"] == 2 and stats["gate"]["invalid"]["good"] >= 3
    assert stats["quarantined"] == len(quarantine)
    assert stats["loaded"][0]["rows"] == 9 and stats["loaded"][0]["parse_failures"] == 2
    assert stats["loaded"][0]["parsed"] == 7


def test_bad_source_file_stops_the_run_before_training(tmp_path, compose):
    """A UTF-16 source file: the data stage fails with the config entry and the file named; no stage finishes."""
    from toolcall_dist import pipeline

    src = tmp_path / "glaive.jsonl"
    src.write_bytes("\n".join(json.dumps(_row("glaive", i)) for i in range(3)).encode("utf-16"))
    cfg = compose(["+exp=quickstart", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages", "tracking=none",
                   "data.n_examples=50", f"data.sources=[{{format:glaive,path:{src},weight:0.5}}]"])
    with pytest.raises(SourceError, match=rf"^data\.sources\[0\]\.path: {src}: file is UTF-16-encoded"):
        pipeline.run(cfg)
    assert not any((tmp_path / "stages").glob("*/done.json"))
    assert not list((tmp_path / "stages").glob("sft-*")) and not list((tmp_path / "stages").glob("dpo-*"))


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_missing_or_empty_source_file_stops_the_run_in_preflight(tmp_path, compose, make):
    from toolcall_dist import pipeline
    from toolcall_dist.preflight import PreflightError

    src = tmp_path / "xlam.jsonl"
    if make == "empty":
        src.write_text("")
    cfg = compose(["+exp=quickstart", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages", "tracking=none",
                   f"data.sources=[{{format:xlam,path:{src},weight:0.5}}]"])
    with pytest.raises(PreflightError, match=rf"^data\.sources\[0\]\.path: .*({src}|{src.name})"):
        pipeline.run(cfg)
    # no stage started (preflight may have created the empty Ray storage dir it checked, <stages_dir>/ray)
    assert not any(p.name != "ray" for p in (tmp_path / "stages").glob("*"))
