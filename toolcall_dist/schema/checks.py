"""The checks every config group's ``__post_init__`` runs: each raises ``ConfigError`` naming the dotted key."""

from __future__ import annotations

import math
from dataclasses import fields

from toolcall_dist.errors import ConfigError


def check(cond: bool, key: str, msg: str) -> None:
    """Raise ``ConfigError("<key>: <msg>")`` unless ``cond``."""
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def positive(value: float, key: str) -> None:
    """``value`` is a finite number > 0."""
    check(math.isfinite(value) and value > 0, key, f"must be a finite number > 0, got {value}")


def fraction(value: float, key: str) -> None:
    """``value`` is in [0, 1]."""
    check(0 <= value <= 1, key, f"must be in [0, 1], got {value}")  # NaN fails both comparisons


def check_weights(weights, key: str) -> None:
    """Every field of the dataclass ``weights`` is >= 0 and they sum to a positive number."""
    values = {f.name: getattr(weights, f.name) for f in fields(weights)}
    for name, v in values.items():
        check(math.isfinite(v) and v >= 0, f"{key}.{name}", f"must be a finite number >= 0, got {v}")
    check(sum(values.values()) > 0, key, f"must sum to a positive number, got {sum(values.values())}")
