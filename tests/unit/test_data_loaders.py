"""Loaders for public tool-calling formats, on hand-written fixture rows (tests/fixtures/data), malformed ones
included: every row becomes a record or a quarantine entry with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import require

from toolcall_dist.data.loaders import FORMATS, SourceError, load_source, read_rows
from toolcall_dist.data.loaders.common import RecordError, bfcl_schema, parse_loose, py_type_schema

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def _calls(rec: dict) -> list[list[dict]]:
    return [[tc["function"] for tc in m["tool_calls"]] for m in rec["messages"] if m.get("tool_calls")]


def test_glaive():
    out = load_source({"format": "glaive", "path": str(FIX / "glaive.json")})
    assert out.rows == 7 and len(out.records) == 5
    assert [(q["row"], q["reason"].split(":")[0]) for q in out.quarantine] == [
        (3, "neither JSON nor a Python literal"), (4, "row needs 'system' and 'chat' strings")]
    good, declined, chat, missing_arg, two_turns = out.records
    assert good["class"] == "good" and good["shape"] == "simple" and good["source"] == "glaive"
    assert [t["name"] for t in good["tools"]] == ["fx_rate_convert"]
    assert good["tools"][0]["parameters"]["required"] == ["amount", "from_currency", "to_currency"]
    assert [m["role"] for m in good["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert _calls(good) == [[{"name": "fx_rate_convert",
                              "arguments": {"amount": 500, "from_currency": "USD", "to_currency": "EUR"}}]]
    assert good["messages"][3]["name"] == "fx_rate_convert"
    assert good["messages"][4]["content"] == "Sure, 500 US dollars is approximately 425.50 Euros."
    assert declined["class"] == "no_tool" and [t["name"] for t in declined["tools"]] == ["lookup_movie_facts"]
    assert chat["class"] == "no_tool" and chat["tools"] == []
    assert _calls(missing_arg) == [[{"name": "fx_rate_convert", "arguments": {"amount": 75, "from_currency": "GBP"}}]]
    assert two_turns["shape"] == "multi_turn" and len(_calls(two_turns)) == 2


def test_xlam():
    out = load_source({"format": "xlam", "path": str(FIX / "xlam.jsonl")})
    assert out.rows == 7 and len(out.records) == 4
    reasons = sorted(q["reason"].split(":")[0] for q in out.quarantine)
    assert reasons == ["line 3", "neither JSON nor a Python literal", "no answer"]
    parallel, summed, wrong_type, weather = out.records
    assert parallel["shape"] == "parallel" and [m["role"] for m in parallel["messages"]] == [
        "system", "user", "assistant"]
    # Python-style parameter types become JSON Schema; "optional" decides what is required
    assert parallel["tools"][0]["parameters"] == {"type": "object", "required": ["platform"], "properties": {
        "platform": {"type": "string", "description": "Platform, e.g. pc or steam."},
        "limit": {"type": "integer", "description": "How many to return."}}}
    assert summed["shape"] == "multiple"
    assert summed["tools"][1]["parameters"]["properties"]["numbers"]["type"] == "array"
    assert _calls(summed) == [[{"name": "sum_of_integer_list", "arguments": {"numbers": [3, 8, 21]}}]]
    assert _calls(wrong_type)[0][0]["arguments"] == {"numbers": "4, 5"}  # parsed; the gate rejects the type
    assert weather["tools"][0]["name"] == "get_weather"  # parsed; the leakage check rejects the name


def test_hermes_from_jsonl_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (FIX / "hermes.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows[:4]), tmp_path / "hermes.parquet")  # parquet needs one column type
    for path, n_rows, n_bad in ((FIX / "hermes.jsonl", 5, 2), (tmp_path / "hermes.parquet", 4, 1)):
        out = load_source({"format": "hermes", "path": str(path)})
        assert out.rows == n_rows and len(out.quarantine) == n_bad and len(out.records) == 3
        tracked, both, thanks = out.records
        assert tracked["tools"][0]["parameters"]["properties"]["carrier"]["enum"] == ["ups", "dhl", "fedex"]
        assert _calls(tracked) == [[{"name": "parcel_tracking_status",
                                     "arguments": {"tracking_number": "JD014600003828", "carrier": "dhl"}}]]
        assert [m["role"] for m in tracked["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
        assert "<tools>" not in tracked["messages"][0]["content"]
        assert both["shape"] == "parallel" and len(_calls(both)[0]) == 2
        assert thanks["class"] == "no_tool" and thanks["messages"][-1]["content"].startswith("You're welcome")


def test_bfcl_question_and_answer_files():
    out = load_source({"format": "bfcl", "path": str(FIX / "bfcl" / "BFCL_v4_simple_python.json")})
    assert out.rows == 3 and len(out.records) == 1
    assert [q["reason"] for q in out.quarantine] == [
        "multi-turn BFCL entry 'simple_python_1' is not supported",
        "entry needs 'question' (a list of turns) and 'function' (a list)"]
    rec = out.records[0]
    assert rec["split"] == "eval" and rec["bfcl_id"] == "simple_python_0" and rec["source"] == "bfcl"
    params = rec["tools"][0]["parameters"]
    assert params["type"] == "object" and params["properties"]["budget"]["type"] == "number"
    assert params["properties"]["preferences"]["type"] == "object"
    # the first acceptable value of each parameter; "" (omittable) only -> left out
    assert _calls(rec) == [[{"name": "restaurant.reserve_table", "arguments": {
        "restaurant": "Luigi's", "party_size": 4, "date": "2026-12-05", "preferences": {"window": True},
        "budget": 50.0}}]]


def test_real_bfcl_files_load_when_installed():
    from toolcall_dist.data.leakage import bfcl_data_dir

    require("bfcl_eval")
    root = bfcl_data_dir()
    out = load_source({"format": "bfcl", "path": str(root / "BFCL_v4_simple_python.json"), "limit": 40})
    assert len(out.records) + len(out.quarantine) == 40 and len(out.records) >= 35
    assert all(r["class"] == "good" and len(_calls(r)[0]) == 1 for r in out.records)


def test_read_rows_formats_and_missing_file(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"data": [{"x": 1}, {"x": 2}]}))
    (tmp_path / "b.json").write_text('{"x": 1}\n{"x": 2}\nnot json\n')
    assert read_rows(str(tmp_path / "a.json")) == ([{"x": 1}, {"x": 2}], [])
    rows, errors = read_rows(str(tmp_path / "b.json"))
    assert rows == [{"x": 1}, {"x": 2}] and [e[0] for e in errors] == [3]
    assert read_rows(str(tmp_path / "b.json"), limit=1) == ([{"x": 1}], [])
    with pytest.raises(SourceError, match="missing.jsonl: no such file"):
        read_rows(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="unknown format 'sharegpt'"):
        load_source({"format": "sharegpt", "path": str(tmp_path / "a.json")})


def test_schema_helpers():
    assert py_type_schema("str") == ({"type": "string"}, False)
    assert py_type_schema("int, optional") == ({"type": "integer"}, True)
    assert py_type_schema("List[float]") == ({"type": "array", "items": {"type": "number"}}, False)
    assert py_type_schema("Dict[str, Any]") == ({"type": "object"}, False)
    assert py_type_schema("Union[int, str]") == ({}, False)
    assert bfcl_schema({"type": "dict", "properties": {"a": {"type": "tuple", "items": {"type": "float"}},
                                                       "b": {"type": "any"}}}) == {
        "type": "object", "properties": {"a": {"type": "array", "items": {"type": "number"}}, "b": {}}}
    assert parse_loose("{'a': 1}") == {"a": 1} and parse_loose('{"a": 1}') == {"a": 1}
    with pytest.raises(RecordError):
        parse_loose("{'a': ")


def test_config_formats_match_the_loaders():
    from toolcall_dist.config import SOURCE_FORMATS

    assert SOURCE_FORMATS == FORMATS


def test_loaded_records_make_when_pairs_and_bad_pairs_like_synthetic_ones():
    import random

    from toolcall_dist.data.gates import Gate
    from toolcall_dist.data.synthetic import bad_from_good, make_when

    records = load_source({"format": "hermes", "path": str(FIX / "hermes.jsonl")}).records
    good, thanks = records[0], records[2]
    thanks = {**thanks, "tools": good["tools"]}  # the negative with a tool in context
    gate, rng = Gate(), random.Random(0)
    fmt, rel = make_when(good, rng, "2026-11-24"), make_when(thanks, rng, "2026-11-24")
    assert fmt["pair_kind"] == "format" and fmt["source"] == "hermes" and gate.admit(fmt)
    assert fmt["prompt"] == good["messages"][:2] and not fmt["rejected"][0].get("tool_calls")
    assert rel["pair_kind"] == "relevance" and gate.admit(rel)
    spurious = rel["rejected"][0]["tool_calls"][0]["function"]
    assert spurious["name"] == "parcel_tracking_status" and set(spurious["arguments"]) == {"tracking_number",
                                                                                           "carrier"}
    assert spurious["arguments"]["carrier"] in ("ups", "dhl", "fedex")  # schema-shaped, from the enum
    kinds = set()
    for seed in range(30):
        pair = bad_from_good(good, random.Random(seed))
        kinds.add(pair["kind"])
        assert pair["prompt"] == good["messages"][:2] and pair["source"] == "hermes"
        assert pair["chosen"] == [good["messages"][2]] and pair["rejected"] != pair["chosen"]
    assert {"invalid_enum", "dropped_required", "swapped_arguments", "extra_argument"} <= kinds
