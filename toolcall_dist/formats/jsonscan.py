"""Reading JSON out of model text without trusting it: the shared pieces of every family's parser.

Calls are located by decoding one JSON value at a position (``json.JSONDecoder.raw_decode``), never by matching
closing tags or braces with a regex, so a delimiter or a brace inside a JSON string cannot cut a call short. Nothing
here raises on any input string.
"""

from __future__ import annotations

import json
import re

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"
_OBJECT_START = re.compile(r'\{[ \t\r\n]*(?:"|\}|$)')


def decode_at(text: str, pos: int):
    """``(value, end)`` for the JSON value starting at ``text[pos:]`` after whitespace, or ``None``."""
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    if pos >= len(text) or text[pos] not in "[{":
        return None
    if text[pos] == "{" and not _OBJECT_START.match(text, pos):
        return None  # cannot be an object; cheap to rule out here (a decode error's message costs O(pos))
    try:
        return _DECODER.raw_decode(text, pos)
    except (ValueError, RecursionError):
        return None


def to_call(obj, arg_keys: tuple[str, ...] = ("arguments", "parameters")) -> dict | None:
    """``{"name", "arguments"}`` from a decoded call object, or ``None`` when it is not a call.

    A call has a string ``name`` and an object of arguments under one of ``arg_keys`` (missing means no
    arguments); arguments given as a JSON string holding an object are decoded, as some models emit them so.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not obj["name"]:
        return None
    key = next((k for k in arg_keys if k in obj), None)
    args = obj[key] if key else {}
    if isinstance(args, str):
        found = decode_at(args, 0)
        if found is None or args[found[1]:].strip():
            return None
        args = found[0]
    return {"name": obj["name"], "arguments": args} if isinstance(args, dict) else None


def calls_in_value(value, arg_keys: tuple[str, ...] = ("arguments", "parameters")) -> list[dict] | None:
    """A call object or a list of call objects as calls; ``None`` when any element is not a call."""
    items = value if isinstance(value, list) else [value]
    calls = [to_call(v, arg_keys) for v in items]
    return None if not items or any(c is None for c in calls) else calls


def cut_at(text: str, stops: tuple[str, ...]) -> str:
    """``text`` up to the first of ``stops`` (what follows an end-of-turn token was never part of the turn)."""
    cut = min((i for s in stops if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class Finder:
    """``find(marker, pos)`` over one text for a scan that only moves forward: each marker's next position is
    remembered, so a long text full of candidate openers is scanned in linear time, not once per candidate."""

    def __init__(self, text: str):
        self.text = text
        self._next: dict[str, int] = {}

    def find(self, marker: str, pos: int) -> int:
        """Index of the first ``marker`` at or after ``pos`` (``pos`` never decreasing between calls), or -1."""
        i = self._next.get(marker)
        if i is None or 0 <= i < pos:
            i = self.text.find(marker, pos)
            self._next[marker] = i
        return i
