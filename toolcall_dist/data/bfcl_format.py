"""BFCL v4's file format for synthetic records: questions with ``"type": "dict"`` schemas, and possible answers that
list every acceptable value of each parameter ("" = may be omitted)."""

from __future__ import annotations

import json

from .synthetic import SHAPES, calls_of
from .tools import copy_json


def _bfcl_value(value, prop: dict, top: bool = True):
    # BFCL types JSON "number" as float: write 30 as 30.0 so the checker does not mistake it for a variable.
    # A top-level object lists acceptable values per key, as BFCL's dict checker reads them; deeper levels are
    # compared literally, as in BFCL.
    kind = BFCL_TYPE_NAMES.get(prop.get("type"), prop.get("type"))
    if kind == "float" and type(value) is int:
        return float(value)
    if kind == "array" and isinstance(value, list):
        return [_bfcl_value(v, prop.get("items", {}), top) for v in value]
    if kind == "dict" and isinstance(value, dict):
        props = prop.get("properties", {})
        if not top:
            return {k: _bfcl_value(v, props.get(k, {}), False) for k, v in value.items()}
        return _acceptable(value, props, set(prop.get("required", [])))
    return value


def _acceptable(args: dict, props: dict, required: set[str]) -> dict:
    """``{key: [acceptable values]}`` for the keys of one object ("" = may be omitted)."""
    out = {}
    for name, prop in props.items():
        if name in args:
            out[name] = [_bfcl_value(args[name], prop, top=False)]
            if "default" in prop and prop["default"] == args[name]:
                out[name].append("")
        elif name in required:
            raise ValueError(f"object lacks required key {name!r}")
        else:
            out[name] = ([_bfcl_value(prop["default"], prop, top=False)] if "default" in prop else []) + [""]
    return out


def bfcl_ground_truth(call: dict, tool: dict) -> dict:
    """``{name: {param: [acceptable values]}}`` for one call, BFCL style ("" = may be omitted)."""
    params = tool["parameters"]
    props, required = params.get("properties", {}), set(params.get("required", []))
    args = call["arguments"]
    extra = set(args) - set(props)
    if extra:
        raise ValueError(f"call to {call['name']} has arguments not in its schema: {sorted(extra)}")
    missing = sorted(required - set(args))
    if missing:
        raise ValueError(f"call to {call['name']} lacks required argument {missing[0]!r}")
    out = {}
    for name, prop in props.items():
        if name in args:
            out[name] = [_bfcl_value(args[name], prop)]
            if "default" in prop and prop["default"] == args[name]:
                out[name].append("")
        else:
            out[name] = ([_bfcl_value(prop["default"], prop)] if "default" in prop else []) + [""]
    return {call["name"]: out}


# JSON Schema's type names as BFCL's Python-category functions write them (eval.checker.PYTHON_TYPE_ALIASES reads
# them back the same way; its PYTHON_TYPES maps BFCL's names to Python classes).
BFCL_TYPE_NAMES = {"object": "dict", "number": "float"}


def default_sentence(value) -> str:
    """A parameter's default as BFCL's descriptions state it: "Default is 'km'.", "Default is 20."."""
    shown = f"'{value}'" if isinstance(value, str) else json.dumps(value)
    return f"Default is {shown}."


def _python_typed(schema: dict) -> dict:
    out = dict(schema)
    if out.get("type") in BFCL_TYPE_NAMES:
        out["type"] = BFCL_TYPE_NAMES[out["type"]]
    if "properties" in out:
        out["properties"] = {k: _python_typed(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _python_typed(out["items"])
    if "default" in out and "default" not in out.get("description", "").lower():
        out["description"] = f"{out.get('description', '').rstrip()} {default_sentence(out['default'])}".lstrip()
    return out


def python_typed(tool: dict) -> dict:
    """``tool`` written as BFCL writes its Python functions: ``"dict"`` for objects (the parameters too), ``"float"``
    for numbers, and each default restated in its description ("Default is 'celsius'."). The calls it accepts are the
    same."""
    out = copy_json(tool)
    out["parameters"] = _python_typed(out["parameters"])
    return out


def bfcl_function(tool: dict) -> dict:
    """A tool schema as BFCL writes it: top-level parameters ``"type": "dict"``."""
    out = copy_json(tool)
    out["parameters"]["type"] = "dict"
    return out


def to_bfcl(records: list[dict], category: str) -> tuple[list[dict], list[dict]]:
    """BFCL v4 (questions, answers) for good records and irrelevant no_tool records; others are skipped.

    Irrelevant records produce a question but no answer, as in BFCL's irrelevance category.
    """
    questions, answers = [], []
    for rec in records:
        good = rec.get("class") == "good" and rec.get("shape") in SHAPES and rec.get("shape") != "multi_step"
        if not (good or (rec.get("class") == "no_tool" and rec.get("kind") == "irrelevant")):
            continue
        qid = f"{category}_{len(questions)}"
        system, user = copy_json(rec["messages"][0]), copy_json(rec["messages"][1])
        functions = [bfcl_function(t) for t in rec["tools"]]
        questions.append({"id": qid, "question": [[system, user]], "function": functions})
        if good:
            by_name = {t["name"]: t for t in rec["tools"]}
            answers.append({"id": qid, "ground_truth": [bfcl_ground_truth(c, by_name[c["name"]])
                                                        for c in calls_of(rec["messages"][2])]})
    return questions, answers
