"""APIGen / xLAM function-calling-60k: ``{"id", "query", "tools": JSON string, "answers": JSON string}``.

Tools describe parameters Python-style (``{"n": {"type": "int", "description": ..., "default": ...}}``, "str,
optional"); they are converted to JSON Schema, a parameter being required unless its type says optional.
"""

from __future__ import annotations

from .common import SYSTEM, RecordError, call_message, check_call, make_record, parse_loose, py_type_schema


def _schema(params: dict) -> dict:
    if params.get("type") == "object" and isinstance(params.get("properties"), dict):
        return params  # already JSON Schema
    props, required = {}, []
    for name, spec in params.items():
        if not isinstance(spec, dict):
            raise RecordError(f"parameter {name!r} is not described by an object")
        prop, optional = py_type_schema(str(spec.get("type", "")))
        prop["description"] = str(spec.get("description", ""))
        props[name] = prop
        if not optional:
            required.append(name)
    return {"type": "object", "properties": props, "required": required}


def _tool(raw) -> dict:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise RecordError(f"tool without a name: {str(raw)[:80]!r}")
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise RecordError(f"tool {raw['name']}: parameters are not an object")
    return {"name": raw["name"], "description": str(raw.get("description", "")), "parameters": _schema(params)}


def parse(row: dict) -> dict:
    """One xLAM row -> a good record; RecordError with the reason otherwise."""
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RecordError("row needs a non-empty 'query'")
    tools, answers = parse_loose(row.get("tools", "[]")), parse_loose(row.get("answers", "[]"))
    if not isinstance(tools, list) or not isinstance(answers, list):
        raise RecordError("'tools' and 'answers' must be JSON lists")
    if not answers:
        raise RecordError("no answer: the row has neither a call nor a prose reply to learn")
    calls = [check_call(a) for a in answers]
    messages = [dict(SYSTEM), {"role": "user", "content": query}, call_message(calls)]
    return make_record("xlam", [_tool(t) for t in tools], messages)
