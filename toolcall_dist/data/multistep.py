"""Multi-step conversations: a call's result feeds the next call, across two user turns, on the library's own tools.

The ``multi_step`` good shape: the user asks for one tool (A); the assistant calls it, reads the fake result and
answers; in a second user turn the user asks for another tool (B) and refers to a value of A's result instead of
saying it ("... for that city", "... that total"); the assistant's call to B carries the value from A's result. With
probability ``P_SAME_TURN`` both requests come in one user turn ("..., then use its <field> for <B>") and the call
to B follows A's result in the same turn. A link is a result field of A whose value fits a parameter of B (same JSON
type, inside its enum or bounds), so B's argument is only known from the result.

``ignored_result`` DPO pairs sit at the step that needs the result: the prompt is the conversation up to the call to
B; chosen is that call, rejected is the same call with the linked argument replaced by another value of the same
type (what a model that did not read the result would write). No BFCL backend, function or question is used: the
tools are the library's, and the records pass the data gate's leakage check like every other record.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re

from . import phrasing
from .toolspec import ToolSpec, render

P_SAME_TURN = 0.4
KIND = "ignored_result"
_SLOT = re.compile(r"\{(\w+)\}")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REFER = ("that {label}", "the {label} you just got", "the same {label}", "the {label} from that result")
# A link needs a shared word beyond these (and the same unit, if either names one): "cheapest_price" -> "max_price"
_GENERIC = frozenset({"value", "result", "name", "type", "id", "date", "time", "count", "number", "max", "min", "per",
                      "total", "target", "new", "is", "of", "day"})
_UNITS = frozenset({"hours", "minutes", "days", "km", "usd", "percent", "kg", "cm"})
_THEN = ("{first}, then {second}", "{first}. After that, {second}", "{first} and then {second}")


def _label(key: str) -> str:
    return key.replace("_", " ")


def _fits(value, schema: dict) -> bool:
    """Whether a result value can stand as an argument of ``schema`` (type, enum, bounds, ISO dates)."""
    if isinstance(value, bool) or "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    if kind == "string":
        if not isinstance(value, str) or not value.strip():
            return False
        return "YYYY-MM-DD" not in schema.get("description", "") or bool(_ISO.match(value))
    if kind == "integer" and not isinstance(value, int):
        return False
    if kind == "number" and not isinstance(value, (int, float)):
        return False
    if kind not in ("string", "integer", "number"):
        return False
    return schema.get("minimum", value) <= value <= schema.get("maximum", value)


def related(field: str, param: str) -> bool:
    """Whether a result field can stand for a parameter by name: the same name, or a shared word that is neither
    generic nor a unit, with the same unit words on both sides ("cheapest_price" / "max_price": yes;
    "duration_hours" / "duration_minutes": no)."""
    if field == param:
        return True
    f, p = set(field.lower().split("_")), set(param.lower().split("_"))
    if ("id" in f) != ("id" in p) and not p & {"folder", "order"}:  # an identifier is not the thing it names
        return False
    return (f & _UNITS) == (p & _UNITS) and bool((f & p) - _GENERIC - _UNITS)


def links(result: dict, spec: ToolSpec) -> list[tuple[str, str]]:
    """``(result field, parameter of spec)`` pairs where the field is related to the parameter by name and its value
    fits the parameter's schema."""
    out = []
    for field, value in result.items():
        for p in spec.params:
            if p.name not in spec.distinct and related(field, p.name) and _fits(value, p.schema) \
                    and _templates(spec, p.name):
                out.append((field, p.name))
    return out


def _templates(spec: ToolSpec, param: str) -> list[tuple[str, bool]]:
    """``(template, is_question)`` of ``spec`` that say ``param``."""
    return [(t, True) for t in spec.questions if "{" + param + "}" in t] + \
           [(t, False) for t in spec.clauses if "{" + param + "}" in t]


def _linked_request(rng: random.Random, spec: ToolSpec, ref: dt.date, param: str, value, wording: str
                    ) -> tuple[dict, str, bool]:
    """(arguments, text, is_question) of a request for ``spec`` whose ``param`` is ``value``, said as ``wording``."""
    template, question = rng.choice(_templates(spec, param))
    args, slots = {}, {}
    for name in _SLOT.findall(template):
        if name == param:
            args[name], slots[name] = value, wording
        else:
            args[name], slots[name] = spec.param(name).sampler(rng, ref)
    text = render(template, slots)
    for doubled, single in (("the that ", "that "), ("the the ", "the "), ("The that ", "That "),
                            ("The the ", "The ")):
        text = text.replace(doubled, single)
    return args, text, question


def _other_value(rng: random.Random, spec: ToolSpec, param: str, value, ref: dt.date):
    """A value of the same parameter that differs from ``value`` (from its sampler, or a nearby number)."""
    for _ in range(20):
        other, _ = spec.param(param).sampler(rng, ref)
        if other != value and _fits(other, spec.param(param).schema):
            return other
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        other = value + rng.choice([1, 2, 10]) * rng.choice([-1, 1])
        if _fits(other, spec.param(param).schema):
            return other
    return None


def make_multi_step(rng: random.Random, reference_date: str, specs: list[ToolSpec], head: list[dict],
                    request, call_message, encode) -> dict | None:
    """Messages and offered tools of one multi-step conversation (``None`` when the draw has no link).

    ``head`` is the system turn; ``request(rng, spec, ref) -> (args, text)`` samples a request, ``call_message`` and
    ``encode`` are the good records' helpers (passed in: this module sits below ``synthetic``).
    """
    ref = dt.date.fromisoformat(reference_date)
    a = rng.choice(specs)
    a_args, a_text = request(rng, a, ref)
    a_result = a.fake_result(a_args, rng)
    candidates = [(b, f, p) for b in specs if b is not a for f, p in links(a_result, b)]
    if not candidates:
        return None
    b, field, param = rng.choice(candidates)
    wording = rng.choice(_REFER).format(label=_label(field))
    b_args, b_text, b_question = _linked_request(rng, b, ref, param, a_result[field], wording)
    b_result = b.fake_result(b_args, rng)
    a_call = call_message([{"name": a.name, "arguments": a_args}])
    b_call = call_message([{"name": b.name, "arguments": b_args}])
    a_tool = {"role": "tool", "name": a.name, "content": encode(a_result)}
    b_tool = {"role": "tool", "name": b.name, "content": encode(b_result)}
    b_answer = {"role": "assistant", "content": b.final_answer(b_args, b_result)}
    if rng.random() < P_SAME_TURN and not b_question:
        text = rng.choice(_THEN).format(first=a_text.rstrip(".?!"), second=b_text)
        messages = [*head, {"role": "user", "content": phrasing.wrap(rng, text) if text[:1].islower() else text},
                    a_call, a_tool, b_call, b_tool, b_answer]
    else:
        second = b_text if b_question else phrasing.wrap(rng, b_text)
        messages = [*head, {"role": "user", "content": a_text}, a_call, a_tool,
                    {"role": "assistant", "content": a.final_answer(a_args, a_result)},
                    {"role": "user", "content": second}, b_call, b_tool, b_answer]
    said = str(a_result[field])
    if any(said in m["content"] for m in messages if m["role"] == "user"):  # the value must come from the result
        return None
    return {"messages": messages, "offered": [a, b], "link": {"field": field, "param": param, "tool": b.name}}


def step_pair(good: dict, rng: random.Random, reference_date: str, spec_by_name: dict) -> dict | None:
    """The ``ignored_result`` pair at the linked call of a multi-step good record (``None`` where none can be made):
    ``{prompt, chosen, rejected}`` messages; the caller wraps it into a record."""
    link = good.get("link")
    if not link:
        return None
    calls = [i for i, m in enumerate(good["messages"]) if m["role"] == "assistant" and m.get("tool_calls")]
    if len(calls) < 2:
        return None
    i = calls[1]
    chosen = good["messages"][i]
    call = chosen["tool_calls"][0]["function"]
    spec = spec_by_name[link["tool"]]
    other = _other_value(rng, spec, link["param"], call["arguments"][link["param"]],
                         dt.date.fromisoformat(reference_date))
    if other is None:
        return None
    wrong = {"type": "function", "function": {"name": call["name"],
                                              "arguments": {**call["arguments"], link["param"]: other}}}
    rejected = {"role": "assistant", "content": "", "tool_calls": [wrong]}
    return {"prompt": list(good["messages"][:i]), "chosen": [chosen], "rejected": [rejected]}


def linked_value_in_result(messages: list[dict], link: dict) -> bool:
    """Whether the linked argument of the second call equals the first result's field (a consistency check)."""
    results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
    calls = [m["tool_calls"][0]["function"] for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    return len(calls) >= 2 and calls[1]["arguments"][link["param"]] == results[0][link["field"]]
