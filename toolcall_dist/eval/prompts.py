"""BFCL entries as model prompts: written as BFCL's handler writes them, or rendered by the family's chat template.

BFCL's function-calling mode for open-weight models (its ``QwenFCHandler``, ``LlamaHandler_3_1``,
``MistralFCHandler``, ``PhiFCHandler``) puts the entry's function docs, as they are in the data file, into the
family's chat template, after one pre-processing step (``_func_doc_language_specific_pre_processing``): a language
hint is appended to each description and, for Java and JavaScript, every parameter becomes a ``"string"`` whose
description names the language type (the model must write Java/JS source text). Function names keep their dots and
the checker compares them exactly (``underscore_to_dot`` is false for those models). ``bfcl_tools`` does the same.

``prompt="bfcl"`` then writes the text BFCL's handler for the family sends (``formats.bfcl_prompt``: for Qwen the
bare ``json.dumps(function)`` lines, no default system line); ``prompt="template"`` renders the same docs with the
chat template, as a serving stack would show them. The project's held-out synthetic set is always rendered with the
template, with the JSON-Schema tools its training data used (``to_tool``).
"""

from __future__ import annotations

import copy
import json

from toolcall_dist.eval.checker import language_of
from toolcall_dist.formats.bfcl_prompt import bfcl_prompt

PROMPTS = ("bfcl", "template")

UNDERSCORE_TO_DOT = False  # names are offered with their dots, so the checker expects them verbatim

_HINTS = {"java": " Note that the provided function is in Java 8 SDK syntax.",
          "javascript": " Note that the provided function is in JavaScript syntax.",
          "python": " Note that the provided function is in Python 3 syntax."}
_LANGUAGE_NAME = {"java": "Java", "javascript": "JavaScript"}

# BFCL writes parameter types in Python/Java/JavaScript terms; the training data's tools are JSON Schema.
_JSON_TYPES = {
    "dict": "object", "object": "object", "HashMap": "object", "Hashtable": "object",
    "float": "number", "double": "number", "number": "number",
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "Bigint": "integer",
    "tuple": "array", "list": "array", "array": "array", "ArrayList": "array", "Array": "array", "Queue": "array",
    "Stack": "array",
    "boolean": "boolean", "bool": "boolean",
    "string": "string", "String": "string", "char": "string", "any": "string", "Any": "string",
}


def _as_source_text(prop: dict, language: str) -> None:
    """A Java / JavaScript parameter rewritten in place as BFCL rewrites it: a string holding source text."""
    name, kind = _LANGUAGE_NAME[language], prop.get("type")
    desc = prop.get("description", "")
    if kind == "any":
        desc += f" This parameter can be of any type of {name} object in string representation."
    else:
        desc += f" This is {name} {kind} type parameter in string representation."
    if kind in (("ArrayList", "Array") if language == "java" else ("array",)) and "items" in prop:
        desc += f" The list elements are of type {prop['items'].get('type')}; they are not in string representation."
        del prop["items"]
    if language == "javascript" and kind == "dict" and "properties" in prop:
        desc += (" The dictionary entries have the following schema; they are not in string representation. "
                 + json.dumps(prop["properties"]))
        del prop["properties"]
    prop["description"] = desc
    prop["type"] = "string"


def bfcl_tools(functions: list[dict], category: str) -> list[dict]:
    """The entry's function docs as BFCL's function-calling mode offers them (a deep copy; the entry is unchanged)."""
    language = language_of(category)
    tools = copy.deepcopy(functions)
    for tool in tools:
        tool["description"] = tool.get("description", "") + _HINTS[language]
        if language in _LANGUAGE_NAME:
            for prop in ((tool.get("parameters") or {}).get("properties") or {}).values():
                _as_source_text(prop, language)
    return tools


def _schema(node):
    # Only string values of "type" keys are rewritten; a parameter *named* "type" maps to a dict and is recursed into.
    if isinstance(node, dict):
        out = {k: _schema(v) for k, v in node.items()}
        if isinstance(node.get("type"), str):
            out["type"] = _JSON_TYPES.get(node["type"], "string")
        return out
    if isinstance(node, list):
        return [_schema(v) for v in node]
    return node


def to_tool(function: dict) -> dict:
    """A BFCL-format function doc as the JSON-Schema tool the training data offered (for the held-out set)."""
    return {"name": function["name"], "description": function.get("description", ""),
            "parameters": _schema(function.get("parameters", {"type": "dict", "properties": {}}))}


def entry_prompt(fmt, tokenizer, entry: dict, bfcl: bool = True, prompt: str = "template") -> str:
    """The generation prompt of a single-turn entry (its first turn) with its functions offered as tools.

    ``bfcl``: offer them as BFCL's function-calling mode does (``bfcl_tools``), in BFCL's handler's own text when
    ``prompt`` is ``"bfcl"`` and through the chat template when it is ``"template"``; else (the held-out set) as
    the training data did, through the template.
    """
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {PROMPTS}, got {prompt!r}")
    messages = list(entry["question"][0])
    functions = entry["function"]
    if not bfcl:
        return fmt.render_prompt(tokenizer, messages, [to_tool(f) for f in functions])
    tools = bfcl_tools(functions, entry["category"])
    if prompt == "bfcl":
        return bfcl_prompt(fmt.family, messages, tools)
    return fmt.render_prompt(tokenizer, messages, tools)
