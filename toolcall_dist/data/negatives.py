"""No-tool negatives beyond chit-chat and trivia: arithmetic a model does itself, computations that none of the offered
tools performs (a triangle's area asked beside a BMI calculator, as BFCL's irrelevance entries ask), and follow-up
questions answered from a tool result already in the conversation. All keep tools in context; the right reply is
prose."""

from __future__ import annotations

import json
import random

from .vocab import fmt_number

# Domains whose tools could do the arithmetic themselves; arithmetic negatives never offer them.
ARITHMETIC_DOMAINS = frozenset({"math"})
# Domains of calculators: the offered tools of a computation negative come mostly from these, so the lesson is
# "this calculator computes something else", not "these tools are plainly off topic".
COMPUTING_DOMAINS = frozenset({"math", "units", "finance", "health"})

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


def _num(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e6 else f"{x:,.0f}"


def _computations(rng: random.Random) -> list[tuple[str, str, frozenset[str]]]:
    """(question, worked answer, library tools that could do it) for one draw of each computation."""
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    r, km, hours = rng.randint(1, 20), rng.randint(20, 900), rng.choice([2, 4, 5, 8, 10])
    nums = [rng.randint(1, 99) for _ in range(rng.randint(3, 5))]
    principal, rate, years = rng.choice([500, 1000, 2500, 8000]), rng.choice([2, 3, 4, 5, 6]), rng.randint(1, 6)
    born, later = rng.randint(1950, 2010), rng.randint(2026, 2060)
    pct, whole = rng.choice([5, 10, 15, 20, 25, 40, 75]), rng.choice([40, 80, 120, 200, 360, 1500])
    mean = sum(nums) / len(nums)
    return [
        (f"the area of a rectangle {a} m long and {b} m wide", f"{a} x {b} = {a * b} square metres.", frozenset()),
        (f"the perimeter of a rectangle with sides of {a} cm and {b} cm",
         f"2 x ({a} + {b}) = {2 * (a + b)} cm.", frozenset()),
        (f"the area of a triangle with a base of {a} units and a height of {b} units",
         f"Half of base times height: 0.5 x {a} x {b} = {_num(a * b / 2)} square units.",
         frozenset({"heron_triangle_area"})),
        (f"the circumference of a circle with radius {r}", f"2 x pi x {r} = {2 * 3.14159265 * r:.2f}.", frozenset()),
        (f"the volume of a cube whose sides are {a} cm", f"{a}^3 = {a ** 3} cubic centimetres.", frozenset()),
        (f"the average of {', '.join(map(str, nums))}",
         f"The sum is {sum(nums)} over {len(nums)} numbers, so the average is {_num(round(mean, 2))}.",
         frozenset({"compute_number_stats"})),
        (f"my average speed if I drive {km} km in {hours} hours",
         f"{km} km / {hours} h = {_num(round(km / hours, 2))} km/h.", frozenset({"route_travel_time"})),
        (f"the simple interest on ${principal} at {rate}% a year over {years} years",
         f"{principal} x {rate}% x {years} = ${_num(principal * rate * years / 100)}.",
         frozenset({"loan_payment_estimate"})),
        (f"the age in {later} of someone born in {born}", f"{later} - {born} = {later - born} years old.",
         frozenset()),
        (f"{pct}% of {whole}", f"{pct}% of {whole} is {_num(whole * pct / 100)}.",
         frozenset({"percentage_of_value"})),
    ]


_COMPUTE_ASKS = ("Calculate {what}.", "What is {what}?", "Can you work out {what}?", "Find {what}.",
                 "Tell me {what}.", "Compute {what}, please.")


def computation_turn(rng: random.Random) -> tuple[str, str, frozenset[str]]:
    """(question, worked answer, tools that could answer it) for a computation a model does in its reply."""
    what, answer, doers = rng.choice(_computations(rng))
    return rng.choice(_COMPUTE_ASKS).format(what=what), answer, doers


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
