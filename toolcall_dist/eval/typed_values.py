"""Conversion of Java / JavaScript argument values, written as source text, into Python values.

For the Java and JavaScript categories BFCL asks models for every argument as a string holding source code
(``"new ArrayList<>(Arrays.asList(1, 2))"``, ``"3.5f"``, ``"{key: 'v'}"``) and converts it before checking. These
functions follow BFCL's ``java_type_converter`` / ``js_type_converter`` rules, quirks included; text that does not
parse stays a string (BFCL then treats it as a variable name). Where BFCL raises (Set, Hashtable, Queue, Stack,
unknown item types) we keep the text as well.
"""

from __future__ import annotations

import re
from typing import Any

JAVA_TYPES: dict[str, type] = {
    "byte": int, "short": int, "integer": int, "float": float, "double": float, "long": int, "boolean": bool,
    "char": str, "Array": list, "ArrayList": list, "Set": set, "HashMap": dict, "Hashtable": dict,
    "Queue": list, "Stack": list, "String": str, "any": str,
}  # fmt: skip
JS_TYPES: dict[str, type] = {
    "String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool,
    "dict": dict, "array": list, "any": str,
}  # fmt: skip

_JAVA_INT = re.compile(r"-?\d+")
_JAVA_FLOAT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]")
_JAVA_DOUBLE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_JAVA_LONG = re.compile(r"-?\d+[lL]")
_JAVA_ARRAY = re.compile(r"new\s+\w+\[\]\s*\{(.*?)\}")
_JAVA_ASLIST = re.compile(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)")
_JAVA_ADDS = re.compile(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", re.DOTALL)
_JAVA_ADD = re.compile(r"add\((.+?)\)")
_JAVA_EMPTY_LIST = re.compile(r"new\s+ArrayList<\w*>\(\)")
_JAVA_MAP = re.compile(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", re.DOTALL)
_JAVA_PUT = re.compile(r"put\(\"(.*?)\",\s*(.*?)\)")
_JAVA_EMPTY_MAP = re.compile(r"new\s+HashMap<.*?>\s*\(\)")
_JS_INT = re.compile(r"-?\d+")
_JS_FLOAT = re.compile(r"-?\d+(\.\d+)?")
_JS_BIGINT = re.compile(r"-?\d+n")
_JS_ARRAY_2D = re.compile(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)")
_JS_ARRAY = re.compile(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)")
_JS_BRACKETS = re.compile(r"\[(.*?)\]")
_JS_DICT = re.compile(r"\{(.*?)\}")
_JS_PAIR = re.compile(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)")


def _java_literal(text: str) -> Any:
    """An untyped Java literal (collection element without a declared item type)."""
    if text in ("true", "false"):
        return text == "true"
    if text[:1] == '"' and text[-1:] == '"':
        return text[1:-1]
    if _JAVA_LONG.fullmatch(text):
        return int(text[:-1])
    if _JAVA_FLOAT.fullmatch(text):
        return float(text[:-1])
    return _number_or_text(text)


def _number_or_text(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def convert_java(value: str, type_name: str, item_type: str | None = None) -> Any:
    """Convert a Java value written as source text to Python, as BFCL does; unparsable text stays a string."""
    if type_name in ("byte", "short", "integer"):
        return int(value) if _JAVA_INT.fullmatch(value) else value
    if type_name == "float":
        return float(value[:-1]) if _JAVA_FLOAT.fullmatch(value) else value
    if type_name == "double":
        return float(value) if _JAVA_DOUBLE.fullmatch(value) else value
    if type_name == "long":
        return int(value[:-1]) if _JAVA_LONG.fullmatch(value) else value
    if type_name == "boolean":
        return value == "true" if value in ("true", "false") else value
    if type_name == "Array":
        match = _JAVA_ARRAY.search(value)
        if not match:
            return value
        # BFCL converts typed elements with the scalar converter, so String elements keep their quotes.
        parts = [p.strip() for p in match.group(1).split(",") if p.strip()]
        return [convert_java(p, item_type) if item_type else _java_literal(p) for p in parts]
    if type_name == "ArrayList":
        if match := _JAVA_ASLIST.search(value):
            parts = [p.strip() for p in match.group(1).split(",")]
        elif match := _JAVA_ADDS.search(value):
            parts = [p.strip() for p in _JAVA_ADD.findall(match.group(1))]
        else:
            return [] if _JAVA_EMPTY_LIST.search(value) else value
        if item_type in ("String", "char"):
            return [p[1:-1] for p in parts]  # BFCL drops the first and last character (the quotes)
        return [convert_java(p, item_type) if item_type else _java_literal(p) for p in parts]
    if type_name == "HashMap":
        if match := _JAVA_MAP.search(value):
            return {key: _java_literal(val.strip()) for key, val in _JAVA_PUT.findall(match.group(1))}
        return {} if _JAVA_EMPTY_MAP.search(value) else value
    # String, char, any; BFCL raises NotImplementedError for Set/Hashtable/Queue/Stack, we keep the text.
    return value


def _js_literal(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return text[1:-1]
    return _number_or_text(text)


def convert_js(value: str, type_name: str, item_type: str | None = None) -> Any:
    """Convert a JavaScript value written as source text to Python, as BFCL does; unparsable text stays a string."""
    if type_name == "String":
        quoted = len(value) >= 1 and value[0] == value[-1] and value[0] in "'\""
        return value[1:-1] if quoted else value
    if type_name == "integer":
        return int(value) if _JS_INT.fullmatch(value) else value
    if type_name == "float":
        return float(value) if _JS_FLOAT.fullmatch(value) else value
    if type_name == "Bigint":
        return int(value[:-1]) if _JS_BIGINT.fullmatch(value) else value
    if type_name == "Boolean":
        return value == "true" if value in ("true", "false") else value
    if type_name == "array":
        try:
            return _js_array(value.strip(), item_type)
        except ValueError:
            return value.strip()
    if type_name == "dict":
        return _js_dict(value.strip())
    return value


def _js_array(code: str, item_type: str | None) -> Any:
    if match := _JS_ARRAY_2D.match(code):
        rows = []
        for idx, inner in enumerate(_JS_BRACKETS.findall(match.group(0))):
            inner = inner.strip()
            inner = inner[1:] if idx == 0 and inner.startswith("[") else inner
            rows.append([_js_literal(e) for e in inner.split(",")])
        return rows
    match = _JS_ARRAY.match(code)
    if not match:
        return code
    body = (match.group(1) if match.group(1) is not None else match.group(2) or "").strip()
    parts = body.split(",") if body else []
    if item_type:
        if item_type not in JS_TYPES:
            raise ValueError(item_type)
        return [convert_js(p.strip(), item_type) for p in parts]
    return [_js_literal(p) for p in parts]


def _js_dict(code: str) -> Any:
    if code == "{}":
        return {}
    match = _JS_DICT.match(code)  # no DOTALL, like BFCL: a multi-line object stays a string
    if not match:
        return code
    result: dict[str, Any] = {}
    for key, val in _JS_PAIR.findall(match.group(1)):
        key, val = key.strip().strip("'\""), val.strip()
        if val.startswith("[") and val.endswith("]"):
            result[key] = _js_array(val, None)
        elif val.startswith("{") and val.endswith("}"):
            result[key] = _js_dict(val)
        else:
            result[key] = _js_literal(val.strip("'\""))
    return result
