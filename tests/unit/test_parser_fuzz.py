"""Fuzzing every family's tool-call parser: at least 10,000 arbitrary and adversarial texts per parser (unbalanced
tags, huge numbers, deep nesting, lone surrogates and other invalid unicode, JSON bombs, cut-off and spliced calls).

No text makes a parser raise, and what comes back is bounded by what went in: only calls, and their JSON no larger
than a small multiple of the text. Time and memory are bounded with resource limits (RLIMIT_CPU / RLIMIT_AS in a
child process fed multi-megabyte bombs) and with tracemalloc's peak, not with wall-clock timers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from toolcall_dist.formats import families, get_format

pytestmark = pytest.mark.unit

# One entry per distinct parser: qwen3 is the qwen2_5 class (same parser); smollm2 subclasses it and is fuzzed too.
PARSERS = sorted({type(get_format(f)).__name__: f for f in families() if f != "qwen3"}.values())
EXAMPLES = 10_000

# Every code point, lone surrogates (U+D800-U+DFFF, invalid as text) and private-use ones included.
any_char = st.characters(codec=None, categories=None, exclude_categories=())
NUMBERS = ["1" * 5000, "-" + "9" * 4300, "1e999999", "-1e-999999", "1E+308", "4.9e-324", "NaN", "Infinity",
           "-Infinity", "0" * 400 + "1", "1." + "0" * 5000, "-0", "0x1F", "1_000"]
ESCAPES = ['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\uZZZZ"', '"\\', '"\\x41"', '"\u202e"', '"\ufffe"',
           '"\x00"', '"\udcff"']


def _markers(fmt) -> list[str]:
    return [*fmt.special_tokens, "<|endoftext|>", "<|end_of_text|>", "```", "```json", "<think>", "</think>",
            "[THINK]", "[/THINK]", "[ARGS]", "[CALL_ID]", "functools", ".call(", "<|python_tag|>"]


def _call_texts(fmt) -> list[str]:
    """Well-formed calls in the family's own syntax: the raw material that mutations break."""
    body = '{"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2], "opts": {"u": "c"}}}'
    llama = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    return [f"<tool_call>\n{body}\n</tool_call>", f"[TOOL_CALLS] [{body}]", "[TOOL_CALLS]get_weather[ARGS]{}",
            f"<|tool_call|>[{body}]<|/tool_call|>", f"functools[{body}]", llama, f"{llama}; {llama}",
            '<|python_tag|>brave_search.call(query="x", n=3)', "<|python_tag|>wolfram_alpha.call(q=(1, [2, {3: 4}]))"]


def _texts(fmt):
    markers = _markers(fmt)
    json_bits = ["{", "}", "[", "]", '"', ":", ",", " ", "\n", "\\", '"name"', '"arguments"', '"parameters"',
                 '"name": "f"', '"arguments": {', "null", "true", "1", "{}", "[]", '"a": ', *NUMBERS, *ESCAPES]
    pieces = st.sampled_from(markers + json_bits) | st.text(any_char, max_size=6)
    soup = st.lists(pieces, max_size=60).map("".join)
    arbitrary = st.text(any_char, max_size=400)
    depth = st.integers(1, 1200)  # past the decoder's recursion limit (1000); megabyte depths: BOMBS below
    nesting = st.tuples(st.sampled_from(markers + [""]), depth, st.sampled_from(["[", "{", '{"a":', '{"name": "f", '
                                                                                 '"arguments": ', "[{", "(", "{(["]),
                        st.booleans()).map(lambda t: t[0] + t[2] * t[1] + ("]}" * t[1] if t[3] else ""))
    bomb = st.tuples(st.sampled_from(markers + [""]), st.integers(1, 1500),
                     st.sampled_from(['"a": 1, ', '"name": "f", ', '1, ', '"x" , ', '{"name": "f"}, '])).map(
        lambda t: t[0] + '{"name": "f", "arguments": {' + t[2] * t[1] + '"z": 0}}'
        if t[2].startswith('"') else t[0] + "[" + t[2] * t[1] + "1]")

    @st.composite
    def mutated(draw):
        text = draw(st.sampled_from(_call_texts(fmt)))
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(text)))
            op = draw(st.sampled_from(["cut", "insert", "delete", "repeat", "swap"]))
            if op == "cut":
                text = text[:i]
            elif op == "insert":
                text = text[:i] + draw(pieces) + text[i:]
            elif op == "delete":
                text = text[:i] + text[i + draw(st.integers(1, 8)):]
            elif op == "repeat":
                text = text[:i] * draw(st.integers(1, 50)) + text[i:]
            else:
                text = text[i:] + text[:i]
        return text

    return st.one_of(arbitrary, soup, nesting, bomb, mutated())


def _check_output(calls, text: str) -> None:
    assert isinstance(calls, list)
    for c in calls:
        assert isinstance(c, dict) and set(c) == {"name", "arguments"}
        assert isinstance(c["name"], str) and c["name"] and isinstance(c["arguments"], dict)
    # Output comes only from the text: its JSON is at most a small multiple of it (number spelling such as
    # 1e15 -> 1000000000000000.0, separator spaces), never the amplification a bomb would need.
    assert len(json.dumps(calls, ensure_ascii=False)) <= 8 * len(text) + 64


@pytest.mark.parametrize("family", PARSERS)
def test_parser_survives_10000_adversarial_texts(family):
    fmt = get_format(family)
    seen = {"n": 0, "calls": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(text=_texts(fmt))
    def run(text):
        seen["n"] += 1
        calls = fmt.parse(text)
        seen["calls"] += len(calls)
        _check_output(calls, text)

    run()
    assert seen["n"] >= EXAMPLES
    assert seen["calls"] > 0  # the mutations keep some calls intact: the fuzzing reaches the decoding paths


BOMBS = {  # name -> text builder; every family's markers are prefixed in turn
    "deep_list": lambda: "[" * 100_000,
    "deep_object": lambda: '{"a":' * 50_000,
    "deep_call_args": lambda: '{"name": "f", "arguments": ' + '{"a": [' * 30_000,
    "deep_calls": lambda: '{"name": "f", "arguments": ' * 20_000,
    "closed_deep_list": lambda: "[" * 50_000 + "]" * 50_000,
    "wide_args": lambda: '{"name": "f", "arguments": {' + ", ".join(f'"k{i}": {i}' for i in range(30_000)) + "}}",
    "huge_number": lambda: '{"name": "f", "arguments": {"n": ' + "9" * 100_000 + "}}",
    "huge_string": lambda: '{"name": "f", "arguments": {"s": "' + "x" * 500_000 + '"}}',
    "many_openers": lambda: "<tool_call>[TOOL_CALLS]<|tool_call|>functools<|python_tag|>{" * 10_000,
    "many_small_calls": lambda: '{"name": "f", "parameters": {}}; ' * 5_000,
    "python_tag_parens": lambda: "<|python_tag|>f.call(a=" + "(" * 50_000,
    "surrogate_soup": lambda: "\ud800\udfff\udbff" * 50_000,
}


@pytest.mark.parametrize("family", PARSERS)
def test_memory_is_linear_in_the_text(family):
    """tracemalloc's peak while parsing each bomb stays within a linear bound of the text's size."""
    fmt = get_format(family)
    for name, build in BOMBS.items():
        for prefix in ("", fmt.special_tokens[2]):
            text = prefix + build()
            tracemalloc.start()
            try:
                calls = fmt.parse(text)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            _check_output(calls, text)
            assert peak <= 64 * len(text) + (4 << 20), f"{family}/{name}: peak {peak} bytes for {len(text)} chars"


CHILD = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))     # 2 GiB of address space, no more
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))            # CPU seconds: SIGXCPU kills a runaway parser
    from toolcall_dist.formats import get_format
    fams = sys.argv[1:]
    bombs = [
        "[" * 5_000_000,
        '{"a":' * 1_000_000,
        '{"name": "f", "arguments": {"s": "' + "x" * 10_000_000,
        '{"name": "f", "arguments": {' + ",".join('"k%d": [1, 2, 3]' % i for i in range(200_000)) + "}}",
        "<tool_call>" * 500_000,
        '{"name": "f", "parameters": {}}; ' * 100_000,
        "1" * 10_000_000,
    ]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {}
    for fam in fams:
        fmt = get_format(fam)
        n = 0
        for b in bombs:
            for prefix in ("", fmt.special_tokens[2]):
                n += len(fmt.parse(prefix + b))
        out[fam] = n
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    print(json.dumps({"calls": out, "rss_growth_kb": grew, "cpu_s": cpu}))
""")


def test_multi_megabyte_bombs_under_resource_limits():
    """A child with RLIMIT_AS = 2 GiB and RLIMIT_CPU = 120 s parses 10 MB bombs with every parser: it finishes
    (not killed by the limits, no exception) and its peak RSS grows by less than 1 GiB."""
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", CHILD, *PARSERS], capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rss_growth_kb"] < (1 << 20), report
    assert set(report["calls"]) == set(PARSERS)


LONG_CALLS = {  # family -> call text builder; the argument is longer than the decoder's first window
    "qwen2_5": lambda a: f'<tool_call>\n{{"name": "write_file", "arguments": {a}}}\n</tool_call>',
    "smollm2": lambda a: f'<tool_call>\n{{"name": "write_file", "arguments": {a}}}\n</tool_call>',
    "llama3": lambda a: f'{{"name": "write_file", "parameters": {a}}}',
    "mistral": lambda a: f'[TOOL_CALLS] [{{"name": "write_file", "arguments": {a}}}]',
    "phi4": lambda a: f'<|tool_call|>[{{"name": "write_file", "arguments": {a}}}]<|/tool_call|>',
}


@pytest.mark.parametrize("family", PARSERS)
@pytest.mark.parametrize("size", [4090, 4096, 4100, 100_000])
def test_calls_longer_than_the_decode_window_are_read_whole(family, size):
    from toolcall_dist.formats.jsonscan import WINDOW

    for content in ("x" * size, "\\n{[\\\"" * (size // 6), "é" * size):
        args = {"path": "a.txt", "content": json.loads(f'"{content}"'), "n": [1] * (size // 50)}
        text = LONG_CALLS[family](json.dumps(args, ensure_ascii=False))
        assert len(text) > WINDOW - 10
        assert get_format(family).parse(text) == [{"name": "write_file", "arguments": args}]
