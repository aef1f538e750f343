"""``ToolSpec``: a clean JSON-Schema tool plus the generation metadata (samplers, templates, fake results).

The metadata lives on the spec, never inside ``spec.schema``, so the schema handed to a model is plain JSON Schema.

Template syntax: ``{param}`` is replaced by the user's wording of the sampled value; a bracketed segment
``[ in {units}]`` is an optional parameter: it is either rendered (and the argument passed) or dropped entirely.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_OPT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Param:
    """One tool parameter: JSON-Schema fragment, value sampler, and whether it is required."""

    name: str
    schema: dict
    sampler: Any
    required: bool = True


@dataclass(frozen=True, eq=False)  # identity semantics: specs are unique, hashable registry entries
class ToolSpec:
    """A tool with its generation metadata. ``schema`` is the clean dict offered to the model."""

    name: str
    domain: str
    description: str
    capability: str  # verb phrase used in refusals: "none of my tools can <capability>"
    params: tuple[Param, ...]
    questions: tuple[str, ...]  # full user requests
    clauses: tuple[str, ...]  # imperative lowercase clauses, combinable for parallel requests
    result: Callable[[dict, random.Random], dict]
    answer: str  # final-answer template over args + result fields
    distinct: tuple[str, ...] = ()  # params that must take different values (origin != destination)
    schema: dict = field(init=False, repr=False, compare=False)
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        props = {p.name: dict(p.schema) for p in self.params}
        required = [p.name for p in self.params if p.required]
        schema = {"name": self.name, "description": self.description,
                  "parameters": {"type": "object", "properties": props, "required": required}}
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "_by_name", {p.name: p for p in self.params})
        for t in self.questions + self.clauses:  # fail fast on a template that cannot ground a required arg
            outside = _SLOT.findall(_OPT.sub("", t))
            missing = set(required) - set(outside)
            if missing:
                raise ValueError(f"template {t!r} of {self.name} lacks required params {sorted(missing)}")

    def param(self, name: str) -> Param:
        """Param by name."""
        return self._by_name[name]

    def sample(self, rng: random.Random, ref: dt.date, template: str | None = None,
               p_optional: float = 0.5) -> tuple[dict, str]:
        """Sample ``(arguments, rendered_text)`` for ``template`` (random question or clause if None)."""
        if template is None:
            template = rng.choice(self.questions + self.clauses)
        optional = [n for seg in _OPT.findall(template) for n in _SLOT.findall(seg)]
        chosen = {n for n in optional if rng.random() < p_optional}
        names = [p.name for p in self.params if p.required or p.name in chosen]
        for _ in range(20):
            drawn = {n: self.param(n).sampler(rng, ref) for n in names}
            vals = [repr(x) for n in self.distinct if n in drawn
                    for x in (drawn[n][0] if isinstance(drawn[n][0], list) else [drawn[n][0]])]
            if len(vals) == len(set(vals)):
                break
        args = {n: v for n, (v, _) in drawn.items()}
        return args, render(template, {n: s for n, (_, s) in drawn.items()})

    def fake_result(self, args: dict, rng: random.Random) -> dict:
        """Plausible fake tool output for ``args``."""
        return self.result(args, rng)

    def final_answer(self, args: dict, result: dict) -> str:
        """Natural-language sentence reporting ``result``."""
        return self.answer.format(**{**args, **result})


def render(template: str, slots: dict[str, str]) -> str:
    """Fill ``template``; bracketed segments survive only if all their slots are given."""
    def opt(m: re.Match) -> str:
        inner = m.group(1)
        return inner if all(n in slots for n in _SLOT.findall(inner)) else ""
    text = _OPT.sub(opt, template)
    return _SLOT.sub(lambda m: slots[m.group(1)], text)


def prop(type_: str, description: str, **extra) -> dict:
    """Small helper for a JSON-Schema property."""
    return {"type": type_, "description": description, **extra}


def enum_prop(values: list[str], description: str, **extra) -> dict:
    """String property restricted to ``values``."""
    return {"type": "string", "enum": list(values), "description": description, **extra}


def array_prop(item_type: str, description: str) -> dict:
    """Array-of-scalars property."""
    return {"type": "array", "items": {"type": item_type}, "description": description}


DATE_DESC = "Date in ISO-8601 format (YYYY-MM-DD)."
