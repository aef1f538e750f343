"""BFCL question/answer files (evaluation only): a question entry ``{"id", "question": [[turns]], "function"}``
merged with its possible answer ``{"ground_truth": [{name: {param: [acceptable values]}}]}``.

The record's call takes the first acceptable value of each parameter ("" means omittable, so the parameter is left
out when it is the only option). Entries without ground truth (irrelevance) get a refusal as their reply. Only
single-turn entries are read.
"""

from __future__ import annotations

from .common import RecordError, bfcl_schema, call_message, check_call, make_record

NO_TOOL_REPLY = "None of the available functions can help with this request."


def _first(options):
    if not isinstance(options, list):
        return options
    for value in options:
        if value != "":
            if isinstance(value, dict):
                return {k: _first(v) for k, v in value.items() if _first(v) != ""}
            return value
    return ""


def parse(row: dict) -> dict:
    """One BFCL entry (question merged with its answer) -> an eval-only record; RecordError otherwise."""
    question, functions = row.get("question"), row.get("function")
    if not isinstance(question, list) or not question or not isinstance(functions, list):
        raise RecordError("entry needs 'question' (a list of turns) and 'function' (a list)")
    if len(question) != 1 or not isinstance(question[0], list):
        raise RecordError(f"multi-turn BFCL entry {row.get('id')!r} is not supported")
    tools = []
    for f in functions:
        if not isinstance(f, dict) or "name" not in f:
            raise RecordError("function without a name")
        tools.append({"name": f["name"], "description": str(f.get("description", "")),
                      "parameters": bfcl_schema(f.get("parameters") or {"type": "dict", "properties": {}})})
    messages = [{"role": m["role"], "content": m["content"]} for m in question[0]
                if isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")]
    truth = row.get("ground_truth")
    if truth is None:
        messages.append({"role": "assistant", "content": NO_TOOL_REPLY})
    else:
        if not isinstance(truth, list) or not all(isinstance(t, dict) and len(t) == 1 for t in truth):
            raise RecordError("ground_truth must be a list of {function: {param: [values]}}")
        calls = [check_call({"name": name, "arguments": {k: v for k, opts in params.items()
                                                         if (v := _first(opts)) != ""}})
                 for t in truth for name, params in t.items()]
        messages.append(call_message(calls))
    return make_record("bfcl", tools, messages, bfcl_id=str(row.get("id")), split="eval")
