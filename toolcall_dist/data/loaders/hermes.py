"""Hermes function-calling (ShareGPT): ``{"conversations": [{"from": "system"|"human"|"gpt"|"tool", "value"}],
"tools"?}``; the system turn lists tools inside ``<tools>...</tools>``, calls are ``<tool_call>{...}</tool_call>``
and results ``<tool_response>{...}</tool_response>``; the payloads are JSON or Python literals."""

from __future__ import annotations

import re

from .common import SYSTEM, RecordError, call_message, check_call, make_record, parse_loose, unwrap_tool

_TOOLS = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_RESPONSE = re.compile(r"<tool_response>(.*?)</tool_response>", re.DOTALL)
_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "tool": "tool"}


def _tools(row: dict, system: str) -> list[dict]:
    raw = row.get("tools")
    listed = [t.strip() for t in _TOOLS.findall(system) if t.strip()]  # the prompt also says "<tools></tools>"
    if raw in (None, "") and listed:
        raw = listed[0]
    if raw in (None, ""):
        return []
    parsed = parse_loose(raw) if isinstance(raw, str) else raw
    return [unwrap_tool(t) for t in (parsed if isinstance(parsed, list) else [parsed])]


def parse(row: dict) -> dict:
    """One Hermes row -> a good or no_tool record; RecordError with the reason otherwise."""
    turns = row.get("conversations")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        raise RecordError("row needs a 'conversations' list of {from, value} turns")
    system = next((t.get("value", "") for t in turns if t.get("from") == "system"), "")
    tools = _tools(row, system)
    messages, pending = [dict(SYSTEM)], []
    for turn in turns:
        role, value = _ROLES.get(turn.get("from")), turn.get("value")
        if turn.get("from") == "system":
            continue
        if role is None or not isinstance(value, str):
            raise RecordError(f"turn from {turn.get('from')!r} is not a known role with text")
        if role == "assistant" and (found := _CALL.findall(value)):
            calls = [check_call(parse_loose(c.strip())) for c in found]
            messages.append(call_message(calls, _CALL.sub("", value).strip()))
            pending = [c["name"] for c in calls]
        elif role == "tool":
            for body in _RESPONSE.findall(value) or [value]:
                payload = body.strip()
                name = pending.pop(0) if pending else None
                try:
                    obj = parse_loose(payload)
                    name = obj.get("name", name) if isinstance(obj, dict) else name
                except RecordError:
                    pass
                if name is None:
                    raise RecordError("tool response without a preceding call")
                messages.append({"role": "tool", "name": name, "content": payload})
        else:
            messages.append({"role": role, "content": value.strip()})
    return make_record("hermes", tools, messages)
