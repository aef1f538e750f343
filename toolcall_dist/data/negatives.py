"""No-tool negatives beyond chit-chat and trivia: arithmetic a model does itself, and follow-up questions answered
from a tool result already in the conversation. Both keep tools in context; the right reply is prose."""

from __future__ import annotations

import json
import random

from .vocab import fmt_number

# Domains whose tools could do the arithmetic themselves; arithmetic negatives never offer them.
ARITHMETIC_DOMAINS = frozenset({"math"})

_ARITH_ASKS = ("What's {a} {op} {b}?", "Quick one: {a} {op} {b}?", "How much is {a} {op} {b}?",
               "Can you tell me what {a} {op} {b} is?", "what is {a} {op} {b}")
_FOLLOWUP_ASKS = ("Sorry, what was the {label} again?", "Can you remind me of the {label}?",
                  "Just to confirm, what {label} did you get?", "Wait, what was the {label}?")
_FOLLOWUP_REPLIES = ("The {label} was {value}.", "It was {value}, going by the result I got earlier.",
                     "According to the earlier result, the {label} is {value}.")


def arithmetic_turn(rng: random.Random) -> tuple[str, str]:
    """(question, worked answer) for small-number arithmetic: no tool needed."""
    op = rng.choice(["plus", "minus", "times", "divided by"])
    if op == "divided by":
        b = rng.randint(2, 12)
        a = b * rng.randint(2, 30)
        result, sym = a // b, "/"
    else:
        a, b = rng.randint(2, 400), rng.randint(2, 99 if op == "times" else 400)
        result, sym = {"plus": (a + b, "+"), "minus": (a - b, "-"), "times": (a * b, "x")}[op]
    question = rng.choice(_ARITH_ASKS).format(a=a, op=op, b=b)
    return question, f"{a} {sym} {b} = {result}."


def _label(key: str) -> str:
    return key.replace("_", " ")


def followup_turn(rng: random.Random, messages: list[dict]) -> tuple[str, str] | None:
    """(follow-up question, prose answer) about one field of the first tool result in ``messages``; None if the
    result has no field worth asking about."""
    tool = next((m for m in messages if m["role"] == "tool"), None)
    if tool is None:
        return None
    try:
        result = json.loads(tool["content"])
    except (TypeError, json.JSONDecodeError):
        return None
    if not isinstance(result, dict):
        return None
    fields = [(k, v) for k, v in result.items()
              if isinstance(v, (str, int, float)) and not isinstance(v, bool) and len(k) > 2 and str(v)]
    if not fields:
        return None
    key, value = rng.choice(fields)
    shown = fmt_number(value) if isinstance(value, (int, float)) else value
    return (rng.choice(_FOLLOWUP_ASKS).format(label=_label(key)),
            rng.choice(_FOLLOWUP_REPLIES).format(label=_label(key), value=shown))
