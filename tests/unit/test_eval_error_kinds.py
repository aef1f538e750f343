"""Failures sorted into kinds of mistake (``eval.error_kinds``): hand-written replies to a hand-written entry, judged
by the project's BFCL checker, then classified."""

import pytest

from toolcall_dist.eval.checker import check_entry
from toolcall_dist.eval.error_kinds import ERROR_TYPES, error_counts, error_kind

pytestmark = pytest.mark.unit

WEATHER = {"name": "get_weather", "description": "Weather in a city.",
           "parameters": {"type": "dict", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                          "required": ["city"]}}
TIME = {"name": "get_time", "description": "Local time in a city.",
        "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
SIMPLE = {"id": "s0", "function": [WEATHER, TIME], "ground_truth": [{"get_weather": {"city": ["Tokyo"],
                                                                                     "unit": ["", "celsius"]}}]}
PARALLEL = {"id": "p0", "function": [WEATHER], "ground_truth": [{"get_weather": {"city": ["Tokyo"], "unit": [""]}},
                                                                 {"get_weather": {"city": ["Paris"], "unit": [""]}}]}


def _kind(calls, entry, category):
    verdict = check_entry(calls, entry, category)
    assert not verdict["valid"]
    return error_kind(verdict["error_type"], calls, entry, category)


@pytest.mark.parametrize(("calls", "kind"), [
    ([{"name": "get_weather", "arguments": {"city": "Tokio"}}], "wrong_value"),
    ([{"name": "get_weather", "arguments": {"unit": "celsius"}}], "missing_required"),
    ([{"name": "get_weather", "arguments": {"city": "Tokyo", "when": "tomorrow"}}], "unexpected_argument"),
    ([{"name": "get_time", "arguments": {"city": "Tokyo"}}], "wrong_function"),
    ([{"name": "get_weather", "arguments": {"city": "Tokyo"}}] * 2, "wrong_count"),
    ([], "no_call"),
])
def test_each_kind_of_mistake_on_a_simple_entry(calls, kind):
    assert _kind(calls, SIMPLE, "simple_python") == kind


def test_a_parallel_miss_is_named_by_what_was_wrong_with_the_unmatched_call():
    """BFCL says only "cannot find a match"; the kind comes from the call to the same function."""
    tokio = [{"name": "get_weather", "arguments": {"city": "Tokyo"}},
             {"name": "get_weather", "arguments": {"city": "Pari"}}]
    assert check_entry(tokio, PARALLEL, "parallel")["error_type"].endswith("cannot_find_match")
    assert _kind(tokio, PARALLEL, "parallel") == "wrong_value"
    assert _kind(tokio[:1], PARALLEL, "parallel") == "wrong_count"


def test_any_call_on_an_irrelevance_entry_is_one_not_needed():
    entry = {"id": "i0", "function": [WEATHER], "ground_truth": None}
    assert _kind([{"name": "get_weather", "arguments": {"city": "Tokyo"}}], entry, "irrelevance") == "call_not_needed"


def test_undecodable_replies_are_no_call_and_counts_cover_every_kind():
    failures = [("ast_decoder:decoder_failed", None, SIMPLE, "simple_python"),
                ("value_error:string", [{"name": "get_weather", "arguments": {"city": "Tokio"}}], SIMPLE,
                 "simple_python"),
                ("irrelevance:call_produced", [{"name": "get_weather", "arguments": {}}], SIMPLE, "irrelevance")]
    counts = error_counts(failures)
    assert list(counts) == list(ERROR_TYPES)
    assert counts == {**dict.fromkeys(ERROR_TYPES, 0), "no_call": 1, "wrong_value": 1, "call_not_needed": 1}
