"""Samplers and schema helpers for structured arguments: objects (dicts), nested objects and arrays of objects.

They follow the sampler protocol of ``vocab``: ``sampler(rng, ref) -> (value, surface)`` and
``sampler.surfaces(value, ref) -> [wordings]``, so a structured argument is grounded in the user's words exactly as
a scalar one is ("2 nights in Paris and 3 nights in Rome" -> ``[{"city": "Paris", "nights": 2}, ...]``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from typing import Any

from .toolspec import render
from .vocab import join_words

_SLOT = re.compile(r"\{(\w+)\}")
_MAX_SURFACES = 512  # wordings listed per value; enough for the grounding checks, bounded for long lists


def obj_prop(description: str, properties: dict, required: list[str] | None = None, **extra) -> dict:
    """JSON-Schema object with fixed properties; ``required`` defaults to all of them."""
    return {"type": "object", "description": description, "properties": properties,
            "required": list(properties) if required is None else list(required), **extra}


def array_of(items: dict, description: str, **extra) -> dict:
    """JSON-Schema array whose items follow ``items`` (an object or a scalar schema)."""
    return {"type": "array", "items": items, "description": description, **extra}


class ObjectOf:
    """A dict argument: one sampler per field, said through ``template`` (optional fields in ``[...]``)."""

    def __init__(self, fields: dict[str, Any], template: str, optional: tuple[str, ...] = (),
                 p_optional: float = 0.5):
        self.fields, self.template, self.optional, self.p_optional = dict(fields), template, optional, p_optional
        missing = set(self.fields) - set(_SLOT.findall(template))
        if missing:
            raise ValueError(f"object template {template!r} does not say fields {sorted(missing)}")

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[dict, str]:
        value, said = {}, {}
        for name, sampler in self.fields.items():
            if name in self.optional and rng.random() >= self.p_optional:
                continue
            value[name], said[name] = sampler(rng, ref)
        return value, render(self.template, said)

    def surfaces(self, value: dict, ref: dt.date) -> list[str]:
        """Wordings that map to ``value`` (every combination of its fields' wordings, bounded)."""
        names = [n for n in self.fields if n in value]
        options = [self.fields[n].surfaces(value[n], ref) for n in names]
        combos = itertools.islice(itertools.product(*options), _MAX_SURFACES)
        return [render(self.template, dict(zip(names, combo, strict=True))) for combo in combos]


class ListOf:
    """A list argument of ``lo``..``hi`` items from ``item`` (e.g. an ``ObjectOf``), said as "a, b and c".

    ``distinct`` names a field whose values must differ between items (two legs of a trip in two cities).
    """

    def __init__(self, item: Any, lo: int = 2, hi: int = 3, distinct: str | None = None):
        self.item, self.lo, self.hi, self.distinct = item, lo, hi, distinct

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[list, str]:
        values, said, seen = [], [], set()
        target = rng.randint(self.lo, self.hi)
        for _ in range(10 * target):
            if len(values) == target:
                break
            v, s = self.item(rng, ref)
            key = repr(v[self.distinct]) if self.distinct and isinstance(v, dict) else repr(v)
            if key in seen:
                continue
            seen.add(key)
            values.append(v)
            said.append(s)
        return values, join_words(said)

    def surfaces(self, value: list, ref: dt.date) -> list[str]:
        """Wordings that map to ``value`` (bounded)."""
        options = [self.item.surfaces(v, ref) for v in value]
        combos = itertools.islice(itertools.product(*options), _MAX_SURFACES)
        return [join_words(list(c)) for c in combos]


class Matrix:
    """A square matrix of small integers (array of arrays), said in bracket notation "[[1, 2], [3, 4]]"."""

    def __init__(self, sizes: tuple[int, ...] = (2, 3), lo: int = -9, hi: int = 9):
        self.sizes, self.lo, self.hi = sizes, lo, hi

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[list, str]:
        n = rng.choice(self.sizes)
        rows = [[rng.randint(self.lo, self.hi) for _ in range(n)] for _ in range(n)]
        return rows, self.surfaces(rows, ref)[0]

    def surfaces(self, value: list, ref: dt.date) -> list[str]:
        """Wordings that map to ``value``."""
        return ["[" + ", ".join("[" + ", ".join(str(x) for x in row) + "]" for row in value) + "]"]
