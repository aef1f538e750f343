"""glaive-function-calling-v2: ``{"system": "SYSTEM: ... -\\n{function JSON}...", "chat": "..."}`` where the chat
is ``USER: ...``, ``ASSISTANT: <functioncall> {"name": ..., "arguments": '{...}'} <|endoftext|>``,
``FUNCTION RESPONSE: {...}``, ``ASSISTANT: ...`` turns separated by blank lines.

The call's arguments are a single-quoted JSON string inside otherwise JSON text, so the call is read with a pattern
rather than a JSON parser.
"""

from __future__ import annotations

import json
import re

from .common import SYSTEM, RecordError, call_message, check_call, json_objects, make_record, parse_loose, unwrap_tool

_TURN = re.compile(r"(?:^|\n)\s*(USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):", re.MULTILINE)
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_ARGS = re.compile(r'"arguments"\s*:\s*\'(.*)\'\s*}\s*$', re.DOTALL)
_END = "<|endoftext|>"


def _call(text: str) -> dict:
    body = text.split("<functioncall>", 1)[1].replace(_END, "").strip()
    try:
        return check_call(json.loads(body))  # some rows write the arguments as a JSON object
    except (json.JSONDecodeError, RecordError):
        pass
    name, args = _NAME.search(body), _ARGS.search(body)
    if not name or not args:
        raise RecordError(f"unreadable <functioncall>: {body[:80]!r}")
    return check_call({"name": name.group(1), "arguments": parse_loose(args.group(1))})


def parse(row: dict) -> dict:
    """One glaive row -> a good or no_tool record; RecordError with the reason otherwise."""
    system, chat = row.get("system"), row.get("chat")
    if not isinstance(system, str) or not isinstance(chat, str):
        raise RecordError("row needs 'system' and 'chat' strings")
    tools = [unwrap_tool(t) for t in json_objects(system)]
    parts = _TURN.split(chat)
    messages, last_call = [dict(SYSTEM)], None
    for role, text in zip(parts[1::2], parts[2::2], strict=True):
        text = text.replace(_END, "").strip()
        if role == "USER":
            messages.append({"role": "user", "content": text})
        elif role == "ASSISTANT" and "<functioncall>" in text:
            last_call = _call(text)
            messages.append(call_message([last_call]))
        elif role == "ASSISTANT":
            messages.append({"role": "assistant", "content": text})
        elif role == "FUNCTION RESPONSE":
            if last_call is None:
                raise RecordError("function response without a preceding call")
            messages.append({"role": "tool", "name": last_call["name"], "content": text})
    return make_record("glaive", tools, messages)
