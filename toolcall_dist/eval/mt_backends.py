"""BFCL's simulated APIs for the multi-turn categories, driven without executing any text as code.

BFCL's multi-turn backends (``GorillaFileSystem``, ``TwitterAPI``, ``MathAPI``, ``MessageAPI``, ``TicketAPI``,
``TradingBot``, ``TravelAPI``, ``VehicleControlAPI``) are plain Python classes in the installed ``bfcl-eval``
package; they are imported from there, one instance per involved class, each loaded with the entry's
``initial_config`` (``long_context`` for the long-context category) as BFCL loads them. A method name maps to the
instance of the last involved class that has it, as in BFCL's own lookup.

BFCL runs each call string with ``eval``. Here a call is never evaluated: a ground-truth string is parsed with
``ast.parse`` and only a plain ``name(literal, key=literal)`` shape is accepted (each argument read with
``ast.literal_eval``); a model's decoded call is already a name and a dict of arguments. The method is looked up by
name among the public methods of the entry's instances and called with those values. A call that does not parse,
names no public method, or whose arguments the method rejects becomes an error text (``Error during execution:
...``), the result the model reads back, as BFCL reports a call that raised. Where BFCL's ``eval`` would have run
something else (a builtin such as ``len``, an attribute chain, nested calls) the result here is an error too.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import keyword
from typing import Any

PACKAGE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
# class -> (module under PACKAGE, function-doc file under data/multi_turn_func_doc/)
CLASSES: dict[str, tuple[str, str]] = {
    "GorillaFileSystem": ("gorilla_file_system", "gorilla_file_system.json"),
    "MathAPI": ("math_api", "math_api.json"),
    "MessageAPI": ("message_api", "message_api.json"),
    "TwitterAPI": ("posting_api", "posting_api.json"),
    "TicketAPI": ("ticket_api", "ticket_api.json"),
    "TradingBot": ("trading_bot", "trading_bot.json"),
    "TravelAPI": ("travel_booking", "travel_booking.json"),
    "VehicleControlAPI": ("vehicle_control", "vehicle_control.json"),
}
STATELESS = frozenset({"MathAPI"})  # loaded with no scenario, as BFCL does
BLOCKED = frozenset({"kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run"})  # BFCL refuses these
ERROR_PREFIX = "Error during execution: "


class CallError(ValueError):
    """A call that cannot be dispatched: it does not parse, has an unsafe shape, or names no method."""


def parse_call(text: str) -> tuple[str, list, dict]:
    """``(name, positional values, keyword values)`` of a call string such as ``"mv(source='a', destination='b')"``.

    Only ``identifier(literal, ..., key=literal, ...)`` is accepted: no attribute access, no nested call, no names,
    no ``*``/``**`` unpacking, no underscore-led name. ``CallError`` says what was wrong; nothing is evaluated.
    """
    if not isinstance(text, str):
        raise CallError(f"a call must be text, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CallError(f"not a call: {type(exc).__name__}") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise CallError(f"not a call: {type(node).__name__}")
    if not isinstance(node.func, ast.Name):
        raise CallError(f"only a plain function name may be called, not a {type(node.func).__name__}")
    args = []
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise CallError("argument unpacking is not allowed")
        args.append(_literal(arg))
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise CallError("argument unpacking is not allowed")
        kwargs[kw.arg] = _literal(kw.value)
    check_name(node.func.id)
    return node.func.id, args, kwargs


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise CallError(f"argument is not a literal value: {ast.dump(node)[:80]}") from None


def check_name(name: Any) -> str:
    """``name`` if it can name a public method; ``CallError`` otherwise (dunders and private names included)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise CallError(f"{name!r} is not a function name")
    if name.startswith("_"):
        raise CallError(f"{name!r} is private")
    if name in BLOCKED:
        raise CallError(f"Function call {name} is not allowed.")
    return name


def result_text(value: Any) -> str:
    """A method's return value as the text the model reads, as BFCL writes it (a dict as JSON where it can be)."""
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class Backends:
    """The involved classes of one entry, loaded with its initial state; state persists across calls and turns."""

    def __init__(self, involved_classes: list[str], initial_config: dict, long_context: bool = False):
        self.instances: dict[str, Any] = {}
        self.methods: dict[str, Any] = {}
        for name in involved_classes:
            if name not in CLASSES:
                raise CallError(f"unknown BFCL backend class {name!r}; known: {', '.join(CLASSES)}")
            module = importlib.import_module(f"{PACKAGE}.{CLASSES[name][0]}")
            instance = getattr(module, name)()
            if name not in STATELESS:
                instance._load_scenario(copy.deepcopy(initial_config.get(name, {})), long_context=long_context)
            self.instances[name] = instance
            for method_name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not method_name.startswith("_"):
                    self.methods[method_name] = method

    def call(self, name: Any, args: list | tuple = (), kwargs: dict | None = None) -> str:
        """Run one call; any failure (unknown method, bad arguments, the method raising) is an error text."""
        try:
            method = self.methods.get(check_name(name))
            if method is None:
                raise CallError(f"name {name!r} is not defined")
            if kwargs is not None and not isinstance(kwargs, dict):
                raise CallError(f"arguments must be an object, got {type(kwargs).__name__}")
            for key in kwargs or {}:
                if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
                    raise CallError(f"{key!r} is not an argument name")
                if key.startswith("__"):
                    raise CallError(f"{key!r} is not an argument name")
            return result_text(method(*args, **(kwargs or {})))
        except Exception as exc:  # noqa: BLE001 - any error of the call is what the model reads back, as in BFCL
            return ERROR_PREFIX + str(exc)

    def run_string(self, text: str) -> str:
        """Run a call written as text (BFCL's ground truth): parsed, never evaluated."""
        try:
            name, args, kwargs = parse_call(text)
        except CallError as exc:
            return ERROR_PREFIX + str(exc)
        return self.call(name, args, kwargs)

    def run_decoded(self, call: dict) -> str:
        """Run a decoded model call ``{"name", "arguments"}``."""
        return self.call(call.get("name"), (), call.get("arguments"))

    def state(self) -> dict[str, dict]:
        """Public attributes of each instance: what BFCL's state check compares."""
        return {name: {k: v for k, v in vars(inst).items() if not k.startswith("_")}
                for name, inst in self.instances.items()}
