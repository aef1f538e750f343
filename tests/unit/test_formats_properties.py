"""Property tests: rendering calls in a family's template and parsing the text back gives the same calls, for
arbitrary names, nested arguments, unicode and parallel calls; and no text makes a parser raise."""

import pytest
from formats_cases import SYSTEM, TOOLS, USER
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from toolcall_dist.formats import get_format
from toolcall_dist.models.tiny import train_tokenizer

pytestmark = pytest.mark.unit

FAMILIES = ("qwen2_5", "llama3", "mistral", "phi4")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Function names: letters of any script, digits, "_", "." and "-" (templates write names into JSON unescaped).
names = st.text(st.characters(categories=("L", "Nd"), include_characters="_.-"), min_size=1, max_size=24)
scalars = (st.none() | st.booleans() | st.integers(-(10**12), 10**12)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                           max_size=3), max_leaves=10)
arguments = st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=4)
calls = st.lists(st.fixed_dictionaries({"name": names, "arguments": arguments}), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def tokenizers():
    """A small tokenizer per family (rendering needs its special tokens and template, not a trained vocabulary)."""
    return {f: train_tokenizer(["a tiny corpus of plain text"] * 4, 300, f) for f in FAMILIES}


def _markers(fmt) -> tuple[str, ...]:
    return (*fmt.special_tokens, "<|endoftext|>", "<|end_of_text|>", "```", "<think>", "</think>", "[THINK]")


@pytest.mark.parametrize("family", FAMILIES)
@SETTINGS
@given(generated=calls)
def test_render_then_parse_gives_the_calls_back(tokenizers, family, generated):
    fmt = get_format(family)
    text_parts = [generated[0]["name"], repr(generated)]
    assume(not any(m in part for m in _markers(fmt) for part in text_parts))  # a real model would stop or switch
    reply = {"role": "assistant", "content": "",
             "tool_calls": [{"type": "function", "function": c} for c in generated]}
    completion = fmt.render_completion(tokenizers[family], [SYSTEM, USER], reply, TOOLS)
    assert fmt.parse(completion) == generated


@pytest.mark.parametrize("family", FAMILIES)
@SETTINGS
@given(generated=calls)
def test_full_conversations_parse_back_from_their_assistant_span(tokenizers, family, generated):
    """The masked span of a call turn is exactly what the model must generate: it parses to the calls."""
    fmt = get_format(family)
    assume(not any(m in repr(generated) for m in _markers(fmt)))
    reply = {"role": "assistant", "content": "",
             "tool_calls": [{"type": "function", "function": c} for c in generated]}
    results = [{"role": "tool", "name": c["name"], "content": '{"ok": true}'} for c in generated]
    conv = [SYSTEM, USER, reply, *results, {"role": "assistant", "content": "Done."}]
    text, spans = fmt.assistant_spans(tokenizers[family], conv, TOOLS)
    assert len(spans) == 2
    assert fmt.parse(text[spans[0][0]: spans[0][1]]) == generated
    assert fmt.parse(text[spans[1][0]: spans[1][1]]) == []


def _noise(fmt):
    pieces = st.sampled_from([*_markers(fmt), "{", "}", "[", "]", '"', ":", ",", " ", "\n", '"name"', '"arguments"',
                              '"parameters"', "[ARGS]", "functools", ".call(", ")", "\\", "null", "1e999"])
    return st.lists(pieces | st.text(max_size=8), max_size=40).map("".join)


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_parse_never_raises_and_returns_calls_only(family, data):
    fmt = get_format(family)
    text = data.draw(st.text(max_size=200) | _noise(fmt))
    found = fmt.parse(text)
    assert isinstance(found, list)
    assert all(set(c) == {"name", "arguments"} and isinstance(c["name"], str) and isinstance(c["arguments"], dict)
               for c in found)


@pytest.mark.parametrize("family", FAMILIES)
def test_parse_survives_pathological_nesting_quickly(family):
    import time

    fmt = get_format(family)
    t0 = time.perf_counter()
    for body in ("[" * 100_000, "{" * 50_000 + "}" * 50_000, '{"name": "f", "arguments": ' + "[" * 100_000):
        for opener in ("", *fmt.special_tokens):
            assert fmt.parse(opener + body) == []
    assert time.perf_counter() - t0 < 10  # linear scans: a long run of openers is not quadratic
