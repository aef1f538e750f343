"""Call records rewritten as BFCL offers its Java and JavaScript functions: every parameter a ``"string"`` whose
description names the language type, and every argument value written as that language's source text.

BFCL's simple_java and simple_javascript categories ask a model for ``"true"``, ``"50"``,
``"new ArrayList<>(Arrays.asList(\\"a\\", \\"b\\"))"`` or ``"{method: 'GET'}"``, never for JSON's own values, and
its checker rejects a value that is not a string. A model trained on JSON-Schema tools alone answers those entries
with JSON values. ``java_js_share`` rewrites a share of the training call records so the model sees this form too
(BFCL's functions and answers never enter: the tools are the project's own).

The tool is typed in the language's names (``String``, ``integer``, ``double``/``float``, ``boolean``/``Boolean``,
``ArrayList``/``array``, ``HashMap``/``dict``), then rewritten by ``eval.prompts.bfcl_tools``, the function that
writes BFCL's own entries into prompts. Each value is written as source text and read back with BFCL's converters
(``eval.typed_values``); a record with any value that does not read back to what it was (a string holding a comma
inside a list, an object inside an object) is left as it is and counted, so no record teaches a value that BFCL
would read differently.
"""

from __future__ import annotations

import json
import random

from toolcall_dist.eval.prompts import bfcl_tools
from toolcall_dist.eval.typed_values import convert_java, convert_js

from .tools import copy_json

LANGUAGES = ("java", "javascript")
# JSON Schema's type names (and BFCL's Python ones) in each language's, as BFCL's Java / JavaScript functions use them.
TYPE_NAMES = {
    "java": {"string": "String", "integer": "integer", "number": "double", "float": "double", "boolean": "boolean",
             "array": "ArrayList", "object": "HashMap", "dict": "HashMap"},
    "javascript": {"string": "String", "integer": "integer", "number": "float", "float": "float",
                   "boolean": "Boolean", "array": "array", "object": "dict", "dict": "dict"},
}
_CATEGORY = {"java": "simple_java", "javascript": "simple_javascript"}
JAVA_QUOTE, JS_QUOTE = '"', "'"  # how each language's collections quote their strings here


class NotSourceText(ValueError):
    """A value that source text in the language would not carry back unchanged."""


def _scalar(value, language: str, quote: str = "") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return f"{quote}{value}{quote}"
    raise NotSourceText(f"{type(value).__name__} inside a {language} collection")


def java_text(value, type_name: str) -> str:
    """``value`` as Java source text for a parameter of Java type ``type_name``."""
    if type_name == "ArrayList":
        if not value:
            return "new ArrayList<>()"
        return f"new ArrayList<>(Arrays.asList({', '.join(_scalar(v, 'java', JAVA_QUOTE) for v in value)}))"
    if type_name == "HashMap":
        puts = " ".join(f'put("{k}", {_scalar(v, "java", JAVA_QUOTE)});' for k, v in value.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}" if value else "new HashMap<String, Object>()"
    if type_name == "double":
        return str(float(value))
    return _scalar(value, "java")


def js_text(value, type_name: str) -> str:
    """``value`` as JavaScript source text for a parameter of JavaScript type ``type_name``."""
    if type_name == "array":
        return f"[{', '.join(_scalar(v, 'javascript', JS_QUOTE) for v in value)}]"
    if type_name == "dict":
        return "{" + ", ".join(f"{k}: {_scalar(v, 'javascript', JS_QUOTE)}" for k, v in value.items()) + "}"
    return _scalar(value, "javascript")


def _typed(prop: dict, language: str) -> dict:
    """A JSON-Schema (or Python-typed) parameter typed in ``language``'s names (a list's items too)."""
    names = TYPE_NAMES[language]
    if prop.get("type") not in names:
        raise NotSourceText(f"parameter type {prop.get('type')!r} has no {language} name here")
    out = {**prop, "type": names[prop["type"]]}
    if isinstance(prop.get("items"), dict):
        out["items"] = {"type": names.get(prop["items"].get("type"), "any")}
    return out


def _text(value, prop: dict, language: str) -> str:
    """``value`` as source text for the typed parameter ``prop``, checked by reading it back as BFCL would."""
    kind, item = prop["type"], (prop.get("items") or {}).get("type")
    text = java_text(value, kind) if language == "java" else js_text(value, kind)
    back = convert_java(text, kind, item) if language == "java" else convert_js(text, kind, item)
    if back != value or isinstance(back, bool) != isinstance(value, bool):
        raise NotSourceText(f"{text!r} reads back as {back!r}, not {value!r}")
    return text


def typed_tool(tool: dict, language: str) -> dict:
    """``tool`` as a BFCL ``language`` function doc: parameters in the language's type names, defaults and enum
    values as source text (what BFCL's files hold before its prompt rewrites every parameter into a string)."""
    params = tool["parameters"]
    props = {k: _typed(p, language) for k, p in params.get("properties", {}).items()}
    for prop in props.values():
        if "default" in prop:
            prop["default"] = _text(prop["default"], prop, language)
        if "enum" in prop:
            prop["enum"] = [_text(v, prop, language) for v in prop["enum"]]
    return {**tool, "parameters": {**params, "type": "dict", "properties": props}}


def rewrite(record: dict, language: str) -> dict:
    """A call record with its tools offered as BFCL offers ``language``'s functions and every argument of its calls
    written as source text (a new record; ``record`` is unchanged). Raises ``NotSourceText`` where a value would not
    read back unchanged."""
    tools = [typed_tool(t, language) for t in record["tools"]]
    typed = {t["name"]: t["parameters"]["properties"] for t in tools}
    out = copy_json(record)
    out["tools"] = bfcl_tools(tools, _CATEGORY[language])
    for msg in out["messages"]:
        for call in msg.get("tool_calls", []):
            fn = call["function"]
            args = fn["arguments"] if isinstance(fn["arguments"], dict) else json.loads(fn["arguments"])
            props = typed[fn["name"]]
            fn["arguments"] = {k: _text(v, props[k], language) for k, v in args.items()}
    return out


def java_js_share(records: list[dict], share: float, seed: int) -> dict[str, int]:
    """Rewrite ``share`` of ``records`` (call records; chosen by ``seed``, half Java and half JavaScript) in place
    with ``rewrite``; returns the counts per language and of records whose values source text would change."""
    if not 0 <= share <= 1:
        raise ValueError(f"data.java_js must be in [0, 1], got {share}")
    rng = random.Random(f"{seed}:java_js")
    counts = {"java": 0, "javascript": 0, "not_source_text": 0}
    for k, rec in enumerate(records):
        if rng.random() >= share:
            continue
        language = LANGUAGES[rng.random() < 0.5]
        try:
            records[k] = rewrite(rec, language)
        except NotSourceText:
            counts["not_source_text"] += 1
            continue
        counts[language] += 1
    return counts
