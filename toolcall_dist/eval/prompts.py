"""BFCL entries as model prompts: BFCL's function docs turned into JSON-Schema tools, rendered in the family format."""

from __future__ import annotations

# BFCL writes parameter types in Python/Java/JavaScript terms; chat templates expect JSON Schema.
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
    """A BFCL function doc as a JSON-Schema tool; dots in names become underscores, as BFCL does for FC models."""
    tool = {"name": function["name"].replace(".", "_"), "description": function.get("description", ""),
            "parameters": _schema(function.get("parameters", {"type": "dict", "properties": {}}))}
    return tool


def entry_prompt(fmt, tokenizer, entry: dict) -> str:
    """The generation prompt of a single-turn BFCL entry (its first turn) with its functions offered as tools."""
    messages = list(entry["question"][0])
    return fmt.render_prompt(tokenizer, messages, [to_tool(f) for f in entry["function"]])
