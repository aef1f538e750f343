"""canitoolcall's parser cases (raw model text and the calls a correct parser returns), replayed through our parsers.

Every case of the families we serve runs: qwen3-hermes (Qwen2.5 and Qwen3 share the Hermes-style format), the
Llama 3 JSON cases, and every Mistral case (v3 JSON lists, which Mistral-7B-v0.3 emits, and the compact v11+
syntax, which the parser reads too). Not applicable, and so not run: Llama 4's pythonic calls (``x-llama-pythonic``:
another model generation's syntax, not Llama 3.1/3.2's). canitoolcall has no Phi cases. Cases with
``expected_error`` (cut-off or malformed output) pass when the parser returns no call, which is what both of their
non-exception outcomes mean for a parser that returns calls only.
"""

import glob
import json
import os

import pytest
from conftest import require

from toolcall_dist.formats import get_format

pytestmark = pytest.mark.unit

FAMILIES = {"qwen3-hermes": "qwen2_5", "llama": "llama3", "mistral": "mistral"}
NOT_APPLICABLE_TAGS = {"llama": "x-llama-pythonic"}
# Cases we fail on purpose, by id, with the reason. Empty: every applicable case passes.
KNOWN_FAILURES: dict[str, str] = {}


def _fixtures_dir() -> str:
    return os.path.join(require("canitoolcall"), "_data", "fixtures")


def _cases(slug: str) -> tuple[list[dict], int]:
    """The applicable cases of ``slug`` and how many were left out as not applicable."""
    cases, skipped = [], 0
    for path in sorted(glob.glob(os.path.join(_fixtures_dir(), slug, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                case = json.loads(line)
                if NOT_APPLICABLE_TAGS.get(slug) in case["tags"]:
                    skipped += 1
                else:
                    cases.append(case)
    return cases, skipped


def same_json(a, b) -> bool:
    """JSON equality as canitoolcall judges it: 1 == 1.0, but true != 1 and "3" != 3."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def verdict(fmt, case: dict) -> bool:
    calls = fmt.parse(case["raw_output"])
    if "expected_error" in case:
        return calls == []  # no_tool_calls / content_passthrough; returning a cut-off call is never accepted
    expected = [{"name": c["name"], "arguments": c["arguments"]} for c in case["expected"]["tool_calls"]]
    return same_json(calls, expected)


def test_same_json_is_strict_about_types():
    assert same_json({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not same_json({"a": True}, {"a": 1}) and not same_json(["3"], [3]) and not same_json({"a": 1}, {"b": 1})


@pytest.mark.parametrize("slug", sorted(FAMILIES))
def test_canitoolcall_cases_parse_as_expected(slug, capsys):
    fmt = get_format(FAMILIES[slug])
    cases, skipped = _cases(slug)
    assert cases, f"no canitoolcall cases found for {slug}"
    failed = [c["id"] for c in cases if not verdict(fmt, c)]
    unexpected = [i for i in failed if i not in KNOWN_FAILURES]
    passed = len(cases) - len(failed)
    with capsys.disabled():
        print(f"\ncanitoolcall {slug} -> {FAMILIES[slug]}: {passed}/{len(cases)} passed "
              f"({len(failed) - len(unexpected)} known failures, {skipped} not applicable)")
    assert not unexpected, f"{slug}: unexpected failures {unexpected}"
    assert not [i for i in KNOWN_FAILURES if i.startswith(slug + "/") and i not in failed], "stale known failure"
