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
_ARRAY_START = re.compile(r'\[[ \t\r\n]*(?:[\[{"\-0-9tfnNI\]]|$)')
WINDOW = 4096  # characters decoded at first; most calls are far shorter
# A run of JSON openers: "[" and "{" with an optional first key. Text nested past the decoder's recursion limit is one
# such run; skipping it whole keeps a scan that tries every "{" linear.
# Possessive quantifiers: no backtracking state is kept per repetition (memory stays flat over a megabyte-long run).
_OPENER_RUN = re.compile(r'(?:[ \t\r\n,]*+(?:\{[ \t\r\n]*+"(?:[^"\\]|\\.)*+"[ \t\r\n]*+:|\[|\{))++')


def decode_at(text: str, pos: int):
    """``(value, end)`` for the JSON value starting at ``text[pos:]`` after whitespace, or ``None``."""
    try:
        return _decode(text, pos)
    except RecursionError:
        return None


def decode_or_skip(text: str, pos: int) -> tuple[object, int, str]:
    """``(value, end, "ok")`` for the JSON value at ``pos`` (see ``decode_at``), else ``(None, resume, why)`` with
    ``why`` "deep" (nested past the decoder's recursion limit) or "bad".

    ``resume`` is where a scan that tries every opener should look next: ``pos + 1`` after an ordinary failure, but
    past the whole run of openers when the value is nested deeper than the decoder's recursion limit, because every
    opener inside that run fails the same way (each attempt costs the full depth, so trying them all is quadratic).
    """
    try:
        found = _decode(text, pos)
    except RecursionError:
        run = _OPENER_RUN.match(text, pos)
        return None, max(run.end() if run else pos + 1, pos + 1), "deep"
    if found is None:
        return None, pos + 1, "bad"
    return found[0], found[1], "ok"


def _decode(text: str, pos: int):
    """``decode_at`` that lets RecursionError through (callers tell a too-deep value from a malformed one)."""
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    if pos >= len(text) or text[pos] not in "[{":
        return None
    # Cheap to rule out here what cannot start a value: a decode error's message costs O(pos).
    if not (_OBJECT_START if text[pos] == "{" else _ARRAY_START).match(text, pos):
        return None
    size = WINDOW
    while True:
        # Decode within a window first: JSONDecodeError counts the lines before its position, so a failed attempt
        # on the whole text costs O(pos), and a scan with many openers would be quadratic. A value the window cut
        # off fails at the window's end (or as an unterminated string): retry with a window twice the size.
        if pos + size >= len(text):
            try:
                return _DECODER.raw_decode(text, pos)
            except ValueError:
                return None
        chunk = text[pos: pos + size]
        try:
            value, end = _DECODER.raw_decode(chunk)
            return value, pos + end
        except json.JSONDecodeError as e:
            if e.pos < len(chunk) - 8 and not e.msg.startswith("Unterminated string"):
                return None
        except ValueError:  # a number too long to convert: not a call either way
            return None
        size *= 2


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
