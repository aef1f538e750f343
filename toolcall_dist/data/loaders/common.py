"""What the loaders share: the record they build, tolerant JSON parsing, schema normalisation."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from typing import Any

from toolcall_dist.errors import ConfigError

# Loaded conversations carry no reference date; the system turn stays neutral (their tools go in ``tools``).
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
_PY_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer", "float": "number",
             "number": "number", "double": "number", "bool": "boolean", "boolean": "boolean", "dict": "object",
             "object": "object", "list": "array", "array": "array", "tuple": "array", "set": "array"}
_GENERIC = re.compile(r"^(list|tuple|set|sequence|dict|mapping)\[(.*)\]$", re.IGNORECASE)


class RecordError(ValueError):
    """A source row that cannot become a record; the message is the quarantine reason."""


class SourceError(ConfigError):
    """A ``data.sources`` file that cannot be read at all; the message names the file (and line, where one is to
    blame). A ConfigError, so the command line reports it as one line, before any training starts."""


def parse_loose(text: str) -> Any:
    """JSON, or a Python literal (several public sets write dicts with single quotes); RecordError otherwise."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise RecordError(f"neither JSON nor a Python literal: {text[:80]!r} ({type(e).__name__})") from None


def json_objects(text: str) -> list[Any]:
    """Every JSON value in ``text``, one after another (glaive lists functions as consecutive objects)."""
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        start = text.find("{", i)
        if start < 0:
            return out
        try:
            obj, i = dec.raw_decode(text, start)
        except json.JSONDecodeError as e:
            raise RecordError(f"malformed JSON in function list at char {e.pos}: {e.msg}") from None
        out.append(obj)


def unwrap_tool(tool: Any) -> dict:
    """A bare ``{"name", "description", "parameters"}`` schema from the OpenAI envelope or the bare form."""
    if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        tool = tool["function"]
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
        raise RecordError(f"tool without a name: {str(tool)[:80]!r}")
    params = tool.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(params, dict):
        raise RecordError(f"tool {tool['name']}: parameters are not an object")
    return {"name": tool["name"], "description": str(tool.get("description", "")), "parameters": params}


def py_type_schema(type_text: str) -> tuple[dict, bool]:
    """JSON Schema for a Python-style type string ("int", "List[str]", "str, optional") and whether it is optional."""
    text = type_text.strip()
    optional = text.lower().endswith(", optional")
    text = text[: -len(", optional")].strip() if optional else text
    if m := _GENERIC.match(text):
        outer, inner = m.group(1).lower(), m.group(2)
        if outer in ("dict", "mapping"):
            return {"type": "object"}, optional
        return {"type": "array", "items": py_type_schema(inner.split(",")[0])[0]}, optional
    kind = _PY_TYPES.get(text.lower())
    return ({"type": kind} if kind else {}), optional  # unknown (Any, Union[...]): no type constraint


def bfcl_schema(schema: Any) -> Any:
    """BFCL's schema dialect to JSON Schema: "dict" -> "object", "float" -> "number", "tuple" -> "array",
    "any" -> unconstrained; nested properties and items are converted too."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    kind = out.get("type")
    if kind == "any":
        out.pop("type")
    elif kind in ("dict", "float", "tuple"):
        out["type"] = {"dict": "object", "float": "number", "tuple": "array"}[kind]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: bfcl_schema(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = bfcl_schema(out["items"])
    return out


def call_message(calls: list[dict], content: str = "") -> dict:
    """Assistant turn with HF-style tool calls (arguments as dicts)."""
    return {"role": "assistant", "content": content,
            "tool_calls": [{"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                           for c in calls]}


def check_call(call: Any) -> dict:
    """``{"name", "arguments"}`` with arguments decoded to a dict; RecordError otherwise."""
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
        raise RecordError(f"call without a function name: {str(call)[:80]!r}")
    args = call.get("arguments", call.get("parameters", {}))
    if isinstance(args, str):
        args = parse_loose(args) if args.strip() else {}
    if not isinstance(args, dict):
        raise RecordError(f"call to {call['name']}: arguments are {type(args).__name__}, not an object")
    return {"name": call["name"], "arguments": args}


def shape_of(messages: list[dict], n_tools: int) -> str:
    """The BFCL shape of a conversation's calls ("multi_turn" when several turns call)."""
    turns = [m["tool_calls"] for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    if len(turns) > 1:
        return "multi_turn"
    names = [tc["function"]["name"] for tc in turns[0]]
    if len(names) == 1:
        return "simple" if n_tools <= 1 else "multiple"
    return "parallel" if len(set(names)) == 1 else "parallel_multiple"


def make_record(source: str, tools: list[dict], messages: list[dict], **extra) -> dict:
    """A good (some assistant turn calls) or no_tool record; RecordError if it has no user turn or no reply."""
    if not any(m["role"] == "user" for m in messages):
        raise RecordError("conversation has no user turn")
    while messages and messages[-1]["role"] != "assistant":
        messages = messages[:-1]  # a trailing user or tool turn has no reply to learn from
    if not messages or not any(m["role"] == "user" for m in messages):
        raise RecordError("conversation has no assistant reply")
    calls = any(m.get("tool_calls") for m in messages)
    if not calls and not messages[-1].get("content"):
        raise RecordError("assistant reply is empty")
    rec = {"class": "good" if calls else "no_tool",
           **({"shape": shape_of(messages, len(tools))} if calls else {"kind": "loaded"}),
           "source": source, "tools": tools, "messages": messages, **extra}
    digest = hashlib.sha1(json.dumps(rec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    return {"id": f"{source}-{digest}", **rec}
