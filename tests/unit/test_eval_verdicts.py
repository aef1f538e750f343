"""Verdicts on BFCL's decoding of a reply next to the lenient parser's, and how the runner records and counts them."""

import pytest

from toolcall_dist.eval.runner import _decode_counts, _judge, category_limit
from toolcall_dist.eval.verdicts import bfcl_verdict, jsonable, judge
from toolcall_dist.formats import get_format
from toolcall_dist.formats.bfcl_decode import Decoded

pytestmark = pytest.mark.unit

FN = {"name": "get_weather", "description": "Weather.",
      "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
SIMPLE = {"id": "simple_python_0", "category": "simple_python", "function": [FN],
          "ground_truth": [{"get_weather": {"city": ["Paris"]}}]}
IRRELEVANT = {"id": "irrelevance_0", "category": "irrelevance", "function": [FN], "ground_truth": None}
RELEVANT = {"id": "live_relevance_0", "category": "live_relevance", "function": [FN], "ground_truth": None}
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
GOOD = f"<tool_call>\n{CALL}\n</tool_call><|im_end|>"
UNCLOSED = f"<tool_call>\n{CALL}<|im_end|>"  # the lenient parser recovers it; BFCL's handler sees no call


@pytest.mark.parametrize(("decoded", "entry", "valid", "error_type"), [
    (Decoded(None, "not JSON"), IRRELEVANT, True, ""),  # an undecodable reply is "no call"
    (Decoded([], ""), IRRELEVANT, True, ""),
    (Decoded([{"name": "", "arguments": {}}], ""), IRRELEVANT, False, "irrelevance:call_produced"),  # still a call
    (Decoded(None, "not JSON"), RELEVANT, False, "relevance:no_call"),
    (Decoded([{"name": "x", "arguments": "?"}], ""), RELEVANT, True, ""),
    (Decoded(None, "not JSON"), SIMPLE, False, "ast_decoder:decoder_failed"),
    (Decoded([], ""), SIMPLE, False, "simple_function_checker:wrong_count"),
    (Decoded([{"name": "get_weather", "arguments": '{"city": "Paris"}'}], ""), SIMPLE, False,
     "ast_decoder:decoder_wrong_output_format"),  # a JSON string of arguments is not read as BFCL's checker reads
    (Decoded([{"name": "get_weather", "arguments": {"city": "Paris"}}], ""), SIMPLE, True, ""),
    (Decoded([{"name": "get_weather", "arguments": {"city": "Tokio"}}], ""), SIMPLE, False, "value_error:string"),
])
def test_bfcl_verdict_follows_bfcls_runner(decoded, entry, valid, error_type):
    v = bfcl_verdict(decoded, entry, entry["category"], underscore_to_dot=False)
    assert (v["valid"], v["error_type"]) == (valid, error_type)


def test_an_unclosed_block_passes_irrelevance_under_bfcl_and_fails_it_under_the_lenient_parse():
    both = judge(get_format("qwen2_5"), UNCLOSED, IRRELEVANT, "irrelevance")
    assert both["bfcl"]["calls"] == [] and both["bfcl"]["verdict"]["valid"] is True
    assert both["lenient"]["calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert both["lenient"]["verdict"]["error_type"] == "irrelevance:call_produced"


@pytest.mark.parametrize("decode", ["bfcl", "lenient"])
def test_rows_score_the_configured_reading_and_record_both(decode):
    fmt = get_format("smollm2")
    row = _judge(fmt, "sft", ("bfcl", "simple_python", SIMPLE), UNCLOSED, None, decode)
    assert row["decode"] == decode
    assert row["bfcl"] == {"calls": [], "decode_error": "", "correct": False,
                           "error_type": "simple_function_checker:wrong_count"}
    assert row["lenient"] == {"calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}], "correct": True,
                              "error_type": ""}
    assert row["correct"] is (decode == "lenient")
    assert row["parsed_calls"] == row[decode]["calls"]
    assert row["error"] == ("" if decode == "lenient" else "simple_function_checker:wrong_count: 0 calls, expected 1")


def test_decode_counts_say_which_verdicts_the_other_reading_changes():
    fmt = get_format("qwen2_5")
    items = [("bfcl", "simple_python", SIMPLE, UNCLOSED), ("bfcl", "simple_python", SIMPLE, GOOD),
             ("bfcl", "irrelevance", IRRELEVANT, UNCLOSED), ("heldout", "irrelevance", IRRELEVANT, UNCLOSED)]
    rows = [_judge(fmt, "sft", (s, c, e), text, None, "bfcl") for s, c, e, text in items]
    assert _decode_counts(rows, "bfcl", "bfcl") == {"mode": "bfcl", "other": "lenient", "entries": 3, "changed": 2,
                                                    "gained": 1, "lost": 1}
    assert _decode_counts(rows, "bfcl", "lenient")["gained"] == 1  # seen from the other side: BFCL's irrelevance pass


def test_over_length_entries_are_empty_replies_under_both_readings():
    row = _judge(get_format("llama3"), "base", ("bfcl", "simple_python", SIMPLE), "", "prompt too long", "bfcl")
    assert row["bfcl"]["calls"] is None and row["lenient"]["calls"] == []
    assert row["error"] == "prompt too long" and row["over_length"] is True and row["parsed_calls"] == []


def test_python_literals_from_the_llama_handler_are_recorded_as_json():
    assert jsonable([{"name": "f", "arguments": {"x": (1, {2}), 3: b"z", (4, 5): None}}]) == [
        {"name": "f", "arguments": {"x": [1, "{2}"], 3: "b'z'", "(4, 5)": None}}]


def test_live_categories_take_live_limit_and_the_rest_take_limit():
    e = {"limit": None, "live_limit": 200}
    assert [category_limit(e, c) for c in ("simple_python", "live_simple", "live_irrelevance")] == [None, 200, 200]
    assert category_limit({"limit": 30, "live_limit": None}, "live_simple") == 30  # unset: eval.limit for all
