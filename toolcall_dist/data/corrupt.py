"""Corruptions that turn a correct list of calls into a plausible wrong one (DPO "rejected" side).

Every corruption is a pure function ``(calls, tools, user_text, rng) -> bad_calls | None`` over calls shaped
``{"name": str, "arguments": dict}``; ``None`` means "not applicable here". Outputs are always valid JSON values:
the error is in the content (a typo, an unresolved date, a missing key...), never in the syntax.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

from .tools import SPEC_BY_NAME, copy_json, specs_in_domain
from .vocab import CURRENCIES, fmt_number

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_PHRASE = re.compile(r"the day after tomorrow|tomorrow|today|in (?:\d+|a) (?:days?|weeks?)|"
                          r"(?:next|this coming) [A-Z][a-z]+day|on [A-Z][a-z]+ \d{1,2}\b|on \d{4}-\d{2}-\d{2}")
_ENTITY = re.compile(r"[A-Za-z][A-Za-z.' -]{2,}")
# unit words a user may put after a number -> how a sloppy model glues them onto the value
_UNITS = {"km": "km", "kilometers": "km", "miles": "mi", "meters": "m", "feet": "ft", "kg": "kg",
          "kilograms": "kg", "pounds": "lb", "lbs": "lb", "grams": "g", "ounces": "oz", "minutes": "min",
          "hours": " hours", "days": " days", "nights": " nights", "guests": " guests", "percent": "%", "%": "%",
          "dollars": " dollars", "years": " years", "°C": "°C", "°F": "°F", "degrees": " degrees"}
_EXTRA_KEYS = [("language", "en"), ("verbose", True), ("timezone", "UTC"), ("format", "json"), ("limit", 10),
               ("include_details", True), ("region", "US"), ("api_version", "v2")]
_PAIR_NAMES = [("origin", "destination"), ("a", "b")]

Calls = list[dict]


def typo(word: str) -> str:
    """Deterministic plausible misspelling: y->i ("Tokyo"->"Tokio"), undouble ("Seattle"->"Seatle"), else swap."""
    if "y" in word[1:]:
        i = word.index("y", 1)
        return word[:i] + "i" + word[i + 1:]
    for i in range(len(word) - 1):
        if word[i] == word[i + 1] and word[i].isalpha():
            return word[:i] + word[i + 1:]
    m = len(word) // 2
    if len(word) >= 4 and word[m - 1] != word[m]:
        return word[:m - 1] + word[m] + word[m - 1] + word[m + 1:]
    return word + word[-1]


def _props(call: dict, tools: list[dict]) -> dict:
    tool = next((t for t in tools if t["name"] == call["name"]), None)
    return tool["parameters"].get("properties", {}) if tool else {}


def _required(call: dict, tools: list[dict]) -> list[str]:
    tool = next((t for t in tools if t["name"] == call["name"]), None)
    return tool["parameters"].get("required", []) if tool else []


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _pick(rng: random.Random, cands: list):
    return rng.choice(cands) if cands else None


def misspelled_entity(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """Typo in a named entity copied from the user's words (not an enum value, not a date)."""
    cands = [(i, k) for i, c in enumerate(calls) for k, v in c["arguments"].items()
             if isinstance(v, str) and _ENTITY.fullmatch(v) and len(v.split()) <= 3 and v in user_text
             and "enum" not in _props(c, tools).get(k, {})]
    if not (hit := _pick(rng, cands)):
        return None
    out = copy_json(calls)
    words = out[hit[0]]["arguments"][hit[1]].split(" ")
    j = max(range(len(words)), key=lambda n: len(words[n]))  # misspell the longest word: the "hard" one
    words[j] = typo(words[j])
    out[hit[0]]["arguments"][hit[1]] = " ".join(words)
    return out


def unresolved_date(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """A resolved ISO date replaced by the user's raw phrase ("tomorrow", "next Friday", "December 3")."""
    slots = [(i, k) for i, c in enumerate(calls) for k, v in c["arguments"].items() if isinstance(v, str)
             and _ISO.match(v)]
    phrases = [m.group(0).removeprefix("on ") for m in _DATE_PHRASE.finditer(user_text)]
    if not slots or not phrases:
        return None
    # dates are mentioned in call order, so the i-th phrase belongs to the i-th date argument
    pairs = list(zip(slots, phrases, strict=True)) if len(slots) == len(phrases) else [(s, phrases[0]) for s in slots]
    pairs = [(s, p) for s, p in pairs if p != calls[s[0]]["arguments"][s[1]]]
    if not (hit := _pick(rng, pairs)):
        return None
    (i, k), phrase = hit
    out = copy_json(calls)
    out[i]["arguments"][k] = phrase
    return out


def dropped_required(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """One required argument omitted."""
    cands = [(i, k) for i, c in enumerate(calls) for k in _required(c, tools) if k in c["arguments"]]
    if not (hit := _pick(rng, cands)):
        return None
    out = copy_json(calls)
    del out[hit[0]]["arguments"][hit[1]]
    return out


def _as_text(v) -> str:
    # how a sloppy model stringifies a value: "true", "30", "a, b", or a JSON blob for structured values
    if isinstance(v, bool):
        return str(v).lower()
    if _is_num(v):
        return fmt_number(v)
    if isinstance(v, dict) or any(isinstance(x, (dict, list)) for x in v):
        return json.dumps(v, ensure_ascii=False)
    return ", ".join(fmt_number(x) if _is_num(x) else str(x) for x in v)


def wrong_type(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """A number, boolean, array or object passed as a string (30 -> "30", True -> "true", [a, b] -> "a, b",
    {"min": 1} -> '{"min": 1}')."""
    cands = [(i, k) for i, c in enumerate(calls) for k, v in c["arguments"].items()
             if _is_num(v) or isinstance(v, (bool, list, dict))]
    if not (hit := _pick(rng, cands)):
        return None
    out = copy_json(calls)
    out[hit[0]]["arguments"][hit[1]] = _as_text(out[hit[0]]["arguments"][hit[1]])
    return out


def _unit_for(call: dict, value, user_text: str) -> str | None:
    codes = [v for v in call["arguments"].values() if isinstance(v, str) and v in CURRENCIES]
    if codes:
        return " " + codes[0]
    pattern = rf"(?<![\d.]){re.escape(fmt_number(value))}\s*(%|°[CF]|[A-Za-z]+)"
    return next((_UNITS[m.group(1)] for m in re.finditer(pattern, user_text) if m.group(1) in _UNITS), None)


def unit_glued(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """A number with its unit glued on, as a string: 30 -> "30 USD", 5 -> "5km"."""
    cands = [(i, k, u) for i, c in enumerate(calls) for k, v in c["arguments"].items()
             if _is_num(v) and (u := _unit_for(c, v, user_text))]
    if not (hit := _pick(rng, cands)):
        return None
    i, k, unit = hit
    out = copy_json(calls)
    out[i]["arguments"][k] = fmt_number(out[i]["arguments"][k]) + unit
    return out


def wrong_function(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """A call routed to another offered tool, or (one tool offered) to a same-domain sibling from the library."""
    i = rng.randrange(len(calls)) if calls else None
    if i is None:
        return None
    name = calls[i]["name"]
    others = [t["name"] for t in tools if t["name"] != name]
    if not others and name in SPEC_BY_NAME:
        others = [s.name for s in specs_in_domain(SPEC_BY_NAME[name].domain) if s.name != name]
    if not others:
        return None
    out = copy_json(calls)
    out[i]["name"] = rng.choice(others)
    return out


def extra_argument(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """A hallucinated key that is not in the schema."""
    if not calls:
        return None
    i = rng.randrange(len(calls))
    known = set(_props(calls[i], tools)) | set(calls[i]["arguments"])
    cands = [kv for kv in _EXTRA_KEYS if kv[0] not in known]
    if not (kv := _pick(rng, cands)):
        return None
    out = copy_json(calls)
    out[i]["arguments"][kv[0]] = kv[1]
    return out


def _similar(k1: str, k2: str, props: dict) -> bool:
    # swaps a model plausibly makes: same enum, from_x/to_x, origin/destination
    p1, p2 = props.get(k1, {}), props.get(k2, {})
    if "enum" in p1 and p1.get("enum") == p2.get("enum"):
        return True
    if k1.split("_", 1)[-1] == k2.split("_", 1)[-1] and {k1.split("_")[0], k2.split("_")[0]} == {"from", "to"}:
        return True
    return (k1, k2) in _PAIR_NAMES or (k2, k1) in _PAIR_NAMES


def swapped_arguments(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """Two same-typed arguments with different values swapped (origin <-> destination), preferring look-alikes."""
    cands, strong = [], []
    for i, c in enumerate(calls):
        items, props = list(c["arguments"].items()), _props(c, tools)
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                (k1, v1), (k2, v2) = items[a], items[b]
                if type(v1) is type(v2) and v1 != v2 and not isinstance(v1, (dict, list)):
                    cands.append((i, k1, k2))
                    if _similar(k1, k2, props):
                        strong.append((i, k1, k2))
    if not (hit := _pick(rng, strong or cands)):
        return None
    i, k1, k2 = hit
    out = copy_json(calls)
    args = out[i]["arguments"]
    args[k1], args[k2] = args[k2], args[k1]
    return out


def invalid_enum(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """An enum value replaced by a near miss outside the enum ("premium_economy" -> "premium economy")."""
    cands = [(i, k, p["enum"]) for i, c in enumerate(calls) for k, v in c["arguments"].items()
             if isinstance(v, str) and v in (p := _props(c, tools).get(k, {})).get("enum", [])]
    if not (hit := _pick(rng, cands)):
        return None
    i, k, enum = hit
    v = calls[i]["arguments"][k]
    variant = next(x for x in (v.replace("_", " "), v.title(), v.upper(), v + "s") if x != v and x not in enum)
    out = copy_json(calls)
    out[i]["arguments"][k] = variant
    return out


def missing_parallel_call(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """One call of a parallel set dropped."""
    if len(calls) < 2:
        return None
    out = copy_json(calls)
    del out[rng.randrange(len(out))]
    return out


def extra_call(calls: Calls, tools: list[dict], user_text: str, rng: random.Random) -> Calls | None:
    """One call made twice: the over-calling a model learns when it is only ever told it made too few calls.

    Not among ``CORRUPTIONS`` (the data stage's precision pairs): it is used by the mining stage's anchor pairs."""
    if not calls:
        return None
    out = copy_json(calls)
    i = rng.randrange(len(out))
    out.insert(i + 1, copy_json(out[i]))
    return out


CORRUPTIONS: dict[str, Callable[..., Calls | None]] = {
    "misspelled_entity": misspelled_entity, "unresolved_date": unresolved_date,
    "dropped_required": dropped_required, "wrong_type": wrong_type, "unit_glued": unit_glued,
    "wrong_function": wrong_function, "extra_argument": extra_argument, "swapped_arguments": swapped_arguments,
    "invalid_enum": invalid_enum, "missing_parallel_call": missing_parallel_call,
}


def corrupt(calls: Calls, tools: list[dict], user_text: str, rng: random.Random,
            kinds: list[str] | None = None) -> tuple[str, Calls] | None:
    """Apply the first applicable corruption, trying ``kinds`` (default: all) in an rng-shuffled order.

    Returns ``(kind, bad_calls)`` with ``bad_calls != calls``, or None if no kind applies.
    """
    order = list(CORRUPTIONS) if kinds is None else list(kinds)
    unknown = [k for k in order if k not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruption kinds {unknown}; known: {sorted(CORRUPTIONS)}")
    rng.shuffle(order)
    for kind in order:
        bad = CORRUPTIONS[kind](calls, tools, user_text, rng)
        if bad is not None and bad != calls:
            return kind, bad
    return None
