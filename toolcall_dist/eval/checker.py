"""BFCL's AST checking rules for single-turn categories, reimplemented as pure functions.

Behaviour follows ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (Java / JavaScript values are first converted
by ``typed_values``), including its quirks, so scores are comparable with the leaderboard. Where BFCL would crash
(unsupported types, malformed ground truth) we return a failed verdict instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

from toolcall_dist.eval.typed_values import JAVA_TYPES, JS_TYPES, convert_java, convert_js

PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}  # fmt: skip
# Not in BFCL (it would crash): JSON-schema spellings that synthetic schemas may use.
PYTHON_TYPE_ALIASES = {"number": "float", "object": "dict", "list": "array", "bool": "boolean", "str": "string"}
_COLLECTIONS_WITH_ITEMS = {"Array", "ArrayList", "array"}  # Java/JS types whose items are converted too

_STRIP_CHARS = re.compile(r"[ ,./\-_*^]")


class _Fail(Exception):
    """A failed check; carries BFCL's error type."""

    def __init__(self, error_type: str, error: str):
        super().__init__(error)
        self.error_type, self.error = error_type, error


def normalize_string(text: str) -> str:
    """BFCL's string standardisation: drop spaces and ``,./-_*^``, lowercase, single quotes to double quotes."""
    return _STRIP_CHARS.sub("", text).lower().replace("'", '"')


def language_of(category: str) -> str:
    """``"java"``, ``"javascript"`` or ``"python"``, decided from the category name as BFCL does."""
    if "javascript" in category:
        return "javascript"
    return "java" if "java" in category else "python"


# ---------------------------------------------------------------- value checks
def _seq(acc: Any) -> list:
    """Acceptable values as a list; BFCL iterates strings character by character, so we do too."""
    return list(acc) if isinstance(acc, (list, tuple, str)) else [acc]


def _omittable(acc: Any) -> bool:
    """``""`` among the acceptable values means the parameter may be left out (substring test on a str, as BFCL)."""
    return "" in acc if isinstance(acc, (list, tuple, str)) else acc == ""


def _norm(value: Any) -> Any:
    return normalize_string(value) if type(value) is str else value


def _answer_type(acc: Any) -> type | None:
    """Type of the first non-empty acceptable value: when it differs from the schema type, the answer is a variable."""
    return next((type(a) for a in _seq(acc) if a != ""), None)


def _type_check(param: str, value: Any, acc: Any, expected: type, item: type | None) -> bool:
    """Raise on a type error; return whether the ground truth is a variable name (so no structured comparison)."""
    answer_type = _answer_type(acc)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if item is None:
            return is_variable
        for option in _seq(acc):
            if type(option) is not list:
                return is_variable  # BFCL only checks item types against list-shaped answers
            option_type = _answer_type(option)
            if all(type(v) is item or (option_type is not None and type(v) is option_type) for v in value):
                return is_variable
        # BFCL falls through to its variable test here, which keeps "nested" only when the value's type is the
        # answers' type and otherwise reports a simple type error; either way the entry fails.
        kind = "type_error:nested" if answer_type is not None and type(value) is answer_type else "type_error:simple"
        raise _Fail(kind, f"{param!r}: items of {value!r} are not {item.__name__}")
    if answer_type is not None and type(value) is answer_type:
        return True
    raise _Fail("type_error:simple", f"{param!r}: expected {expected.__name__}, got {type(value).__name__} {value!r}")


def _check_dict(param: str, value: Any, acc: Any) -> None:
    """One-level dict match against any acceptable dict; nested values compare literally (as in BFCL)."""
    last = _Fail("dict_checker:unclear", f"{param!r}: no acceptable dict for {value!r}")
    for option in _seq(acc):
        if option == "":
            continue
        try:
            if not isinstance(option, dict) or not isinstance(value, dict):
                raise _Fail("dict_checker:unclear", f"{param!r}: cannot compare {value!r} with {option!r}")
            for key, val in value.items():
                if key not in option:
                    raise _Fail("value_error:dict_key", f"{param!r}: unexpected key {key!r}")
                if _norm(val) not in [_norm(a) for a in _seq(option[key])]:
                    raise _Fail("value_error:dict_value", f"{param!r}[{key!r}]: {val!r} not in {option[key]!r}")
            for key, opts in option.items():
                if key not in value and not _omittable(opts):
                    raise _Fail("value_error:dict_key", f"{param!r}: missing key {key!r}")
            return
        except _Fail as fail:
            last = fail
    raise last


def _check_list_of_dicts(param: str, value: list, acc: Any) -> None:
    last = _Fail("list_dict_checker:unclear", f"{param!r}: no acceptable list of dicts")
    for option in _seq(acc):
        if not isinstance(option, (list, str)):
            continue
        if len(value) != len(option):
            last = _Fail("value_error:list_dict_count", f"{param!r}: wrong number of dicts")
            continue
        try:
            for got, want in zip(value, option, strict=True):
                _check_dict(param, got, [want])
            return
        except _Fail as fail:
            last = fail
    raise last


def _check_param(param: str, value: Any, schema: dict, acc: Any, language: str) -> None:
    type_name = schema.get("type")
    item_name = (schema.get("items") or {}).get("type")
    table = {"java": JAVA_TYPES, "javascript": JS_TYPES}.get(language, {})
    if type_name in table:
        expected = table[type_name]
        item = table.get(item_name) if type_name in _COLLECTIONS_WITH_ITEMS else None
        if type(value) is not str:  # Java / JavaScript values must arrive as source text
            kind = "java" if language == "java" else "js"
            raise _Fail(f"type_error:{kind}", f"{param!r}: expected a string, got {type(value).__name__}")
        value = (convert_java if language == "java" else convert_js)(value, type_name, item_name)
    else:
        type_name = PYTHON_TYPE_ALIASES.get(type_name, type_name)
        if type_name not in PYTHON_TYPES:
            raise _Fail("type_error:unsupported_schema_type", f"{param!r}: unsupported schema type {type_name!r}")
        expected = PYTHON_TYPES[type_name]
        item_name = PYTHON_TYPE_ALIASES.get(item_name, item_name)
        item = PYTHON_TYPES.get(item_name) if type_name in ("array", "tuple") else None
        if type_name == "float" and type(value) is int:
            value = float(value)  # Python promotes int to float; the reverse is a type error
    if isinstance(value, tuple):
        value = list(value)
    if not _type_check(param, value, acc, expected, item):
        if expected is dict:
            return _check_dict(param, value, acc)
        if expected is list and item is dict:
            return _check_list_of_dicts(param, value, acc)
        if expected is str:
            if normalize_string(value) not in [normalize_string(a) for a in _seq(acc) if type(a) is str]:
                raise _Fail("value_error:string", f"{param!r}: {value!r} not in {acc!r} (normalised)")
            return None
        if expected is list:
            options = [[_norm(x) for x in a] for a in _seq(acc) if isinstance(a, (list, tuple, str))]
            if [_norm(x) for x in value] not in options:
                raise _Fail("value_error:list/tuple", f"{param!r}: {value!r} not in {acc!r} (order matters)")
            return None
    if value not in _seq(acc):
        raise _Fail("value_error:others", f"{param!r}: {value!r} not in {acc!r}")
    return None


# ---------------------------------------------------------------- call checks
def _name_ok(got: str, func_name: str, underscore_to_dot: bool | None) -> bool:
    # Models whose API forbids "." emit it as "_"; BFCL compares against the converted name for those models.
    converted = func_name.replace(".", "_")
    if underscore_to_dot is None:
        return got in (func_name, converted)
    return got == (converted if underscore_to_dot else func_name)


def _check_call(call: tuple[str, dict], func: dict, answer: dict, language: str, u2d: bool | None) -> None:
    name, args = call
    if not _name_ok(name, func["name"], u2d):
        raise _Fail("simple_function_checker:wrong_func_name", f"expected {func['name']!r}, got {name!r}")
    expected = next(iter(answer.values()))
    params = func.get("parameters") or {}
    props = params.get("properties") or {}
    for param in params.get("required") or []:
        if param not in args:
            raise _Fail("simple_function_checker:missing_required", f"missing required parameter {param!r}")
    for param, value in args.items():
        if param not in props or param not in expected:
            raise _Fail("simple_function_checker:unexpected_param", f"unexpected parameter {param!r}")
        _check_param(param, value, props[param], expected[param], language)
    for param, acc in expected.items():
        if param not in args and not _omittable(acc):
            raise _Fail("simple_function_checker:missing_optional", f"parameter {param!r} omitted but expected")


def _find_function(functions: list[dict], name: str) -> dict:
    for func in functions:
        if func.get("name") == name:
            return func
    raise _Fail("checker:function_not_found", f"ground-truth function {name!r} is not among the entry's functions")


def _decode_calls(calls: Any) -> list[tuple[str, dict]] | None:
    """``[(name, arguments)]``, or ``None`` when ``calls`` is not a list of well-formed calls."""
    if not isinstance(calls, list):
        return None
    decoded = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
            return None
        args = call.get("arguments")
        if isinstance(args, str):  # OpenAI-style JSON-encoded arguments
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                return None
        args = {} if args is None else args
        if not isinstance(args, dict):
            return None
        decoded.append((call["name"], args))
    return decoded


def _check(decoded: list[tuple[str, dict]], entry: dict, category: str, u2d: bool | None) -> None:
    functions, truth, language = entry["function"], entry.get("ground_truth"), language_of(category)
    if not truth:
        raise ValueError(f"entry {entry.get('id')!r} has no ground truth; cannot check category {category!r}")
    if "parallel" in category:
        if len(decoded) != len(truth):
            raise _Fail("parallel_function_checker_no_order:wrong_count", f"{len(decoded)} calls for {len(truth)}")
        # Greedy, as BFCL: each ground-truth call takes the first still-unmatched model call that passes.
        matched: set[int] = set()
        for i, answer in enumerate(truth):
            func = _find_function(functions, next(iter(answer)))
            for j, call in enumerate(decoded):
                if j not in matched and _passes(call, func, answer, language, u2d):
                    matched.add(j)
                    break
            else:
                raise _Fail("parallel_function_checker_no_order:cannot_find_match", f"no model call matches #{i}")
    elif "multiple" in category:
        if len(decoded) != len(truth):
            raise _Fail("multiple_function_checker:wrong_count", f"{len(decoded)} calls, expected {len(truth)}")
        _check_call(decoded[0], _find_function(functions, next(iter(truth[0]))), truth[0], language, u2d)
    else:
        if len(decoded) != 1:
            raise _Fail("simple_function_checker:wrong_count", f"{len(decoded)} calls, expected 1")
        if not functions:
            raise _Fail("checker:function_not_found", "the entry offers no function")
        _check_call(decoded[0], functions[0], truth[0], language, u2d)


def _passes(call: tuple[str, dict], func: dict, answer: dict, language: str, u2d: bool | None) -> bool:
    try:
        _check_call(call, func, answer, language, u2d)
    except _Fail:
        return False
    return True


def check_entry(
    calls: list[dict], entry: dict, category: str | None = None, *, underscore_to_dot: bool | None = None
) -> dict:
    """Judge a model's calls for one BFCL entry with BFCL's AST rules.

    ``calls`` is ``[{"name": str, "arguments": dict | JSON str}]``; ``entry`` a ``load_category`` entry;
    ``category`` defaults to ``entry["category"]``. ``underscore_to_dot``: ``True`` expects dotted function
    names written with ``_`` (BFCL's setting for OpenAI-style models), ``False`` the exact name, ``None``
    (default) accepts either. Returns ``{"valid": bool, "error_type": str, "error": str}``.
    """
    category = category or entry["category"]
    decoded = _decode_calls(calls)
    produced = bool(decoded)  # malformed or empty output counts as "no call", as in BFCL
    if "irrelevance" in category:
        if produced:
            return _verdict(_Fail("irrelevance:call_produced", f"{len(decoded)} call(s) produced, expected none"))
        return _verdict(None)
    if "relevance" in category:
        return _verdict(None if produced else _Fail("relevance:no_call", "no well-formed call produced"))
    if decoded is None:
        return _verdict(_Fail("ast_decoder:decoder_wrong_output_format", "calls are not a list of name/arguments"))
    try:
        _check(decoded, entry, category, underscore_to_dot)
    except _Fail as fail:
        return _verdict(fail)
    return _verdict(None)


def _verdict(fail: _Fail | None) -> dict:
    if fail is None:
        return {"valid": True, "error_type": "", "error": ""}
    return {"valid": False, "error_type": fail.error_type, "error": fail.error}
