"""Synthetic records of the three classes (good calls, no-tool replies, bad-call DPO pairs) plus "when" DPO pairs.

All functions are pure given the ``random.Random`` they receive; records are JSON-serialisable dicts following the
Hugging Face chat convention (assistant ``tool_calls[].function.arguments`` is a dict, not a JSON string).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random

from . import phrasing
from .corrupt import corrupt
from .tools import SPECS, copy_json, get_spec, related, specs_in_domain
from .toolspec import ToolSpec
from .vocab import weekday_name

SHAPES = ("simple", "multiple", "parallel", "parallel_multiple")
NO_TOOL_KINDS = ("chitchat", "knowledge", "irrelevant")
WHEN_KINDS = ("call_over_prose", "prose_over_call")


def parse_reference_date(reference_date: str) -> dt.date:
    """ISO date string -> ``date``; raises ValueError naming the bad value."""
    try:
        return dt.date.fromisoformat(reference_date)
    except (TypeError, ValueError):
        raise ValueError(f"reference_date must be an ISO date like 2026-11-24, got {reference_date!r}") from None


def system_message(reference_date: str) -> dict:
    """System turn stating today's date and weekday."""
    ref = parse_reference_date(reference_date)
    return {"role": "system",
            "content": f"You are a helpful assistant. Today's date is {ref.isoformat()} ({weekday_name(ref)})."}


def call_message(calls: list[dict]) -> dict:
    """Assistant turn carrying ``calls`` ([{"name", "arguments"}]) as HF-style tool_calls."""
    tool_calls = [{"type": "function", "function": {"name": c["name"], "arguments": copy_json(c["arguments"])}}
                  for c in calls]
    return {"role": "assistant", "content": "", "tool_calls": tool_calls}


def calls_of(message: dict) -> list[dict]:
    """[{"name", "arguments"}] of an assistant call turn."""
    return [copy_json(tc["function"]) for tc in message.get("tool_calls", [])]


def user_text(record: dict) -> str:
    """The user's words of any record class."""
    turns = record["messages"] if "messages" in record else record["prompt"]
    return next(m["content"] for m in turns if m["role"] == "user")


def dedup_key(record: dict) -> tuple:
    """(offered tool names, user text): two records with the same key are duplicates."""
    return tuple(t["name"] for t in record["tools"]), user_text(record)


def _rid(cls: str, record: dict) -> str:
    # content hash: stable across runs, unique per class after dedup
    raw = json.dumps([cls, record.get("kind", record.get("shape")), *dedup_key(record)], ensure_ascii=False)
    return f"{cls}-{hashlib.sha1(raw.encode()).hexdigest()[:12]}"


def _sample_distinct(rng: random.Random, spec: ToolSpec, ref: dt.date, seen: list[dict]) -> tuple[dict, str]:
    # a parallel set needs calls that differ from each other
    for _ in range(10):
        args, text = spec.sample(rng, ref, rng.choice(spec.clauses))
        if args not in seen:
            break
    return args, text


def _request(rng: random.Random, spec: ToolSpec, ref: dt.date) -> tuple[dict, str]:
    """(args, full user request) for one call of ``spec``."""
    i = rng.randrange(len(spec.questions) + len(spec.clauses))
    if i < len(spec.questions):
        return spec.sample(rng, ref, spec.questions[i])
    args, clause = spec.sample(rng, ref, spec.clauses[i - len(spec.questions)])
    return args, phrasing.wrap(rng, clause)


def _distractors(rng: random.Random, avoid: list[ToolSpec], k: int, specs: list[ToolSpec]) -> list[ToolSpec]:
    # half the time include a same-domain sibling, the hardest distractor
    pool = [s for s in specs if s not in avoid]
    out = []
    siblings = [s for s in specs_in_domain(avoid[0].domain) if s not in avoid and s in specs]
    if siblings and rng.random() < 0.5:
        out.append(rng.choice(siblings))
    rest = [s for s in pool if s not in out]
    return out + rng.sample(rest, min(len(rest), max(0, k - len(out))))


def make_good(rng: random.Random, reference_date: str, shape: str, specs: list[ToolSpec] | None = None) -> dict:
    """One good conversation of ``shape``: system, user, assistant calls, tool results, final answer.

    ``specs`` restricts the tools it calls and offers (default: the whole library)."""
    specs = specs or SPECS
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {SHAPES}")
    ref = parse_reference_date(reference_date)
    if shape in ("simple", "multiple"):
        spec = rng.choice(specs)
        args, text = _request(rng, spec, ref)
        calls, offered = [(spec, args)], [spec]
        if shape == "multiple":
            offered += _distractors(rng, [spec], rng.randint(1, 3), specs)
    elif shape == "parallel":
        spec = rng.choice(specs)
        calls, clauses = [], []
        for _ in range(rng.randint(2, 3)):
            args, clause = _sample_distinct(rng, spec, ref, [a for _, a in calls])
            calls.append((spec, args))
            clauses.append(clause)
        text, offered = phrasing.join_clauses(rng, clauses), [spec]
    else:
        used = rng.sample(specs, min(len(specs), rng.choice([2, 2, 3])))
        plan = used + ([rng.choice(used)] if len(used) == 2 and rng.random() < 0.3 else [])
        rng.shuffle(plan)
        calls, clauses = [], []
        for spec in plan:
            args, clause = _sample_distinct(rng, spec, ref, [a for s, a in calls if s is spec])
            calls.append((spec, args))
            clauses.append(clause)
        text = phrasing.join_clauses(rng, clauses)
        offered = used + (_distractors(rng, used, 1, specs) if rng.random() < 0.5 else [])
    rng.shuffle(offered)
    results = [(spec, args, spec.fake_result(args, rng)) for spec, args in calls]
    messages = [system_message(reference_date), {"role": "user", "content": text},
                call_message([{"name": s.name, "arguments": a} for s, a in calls])]
    messages += [{"role": "tool", "name": s.name, "content": json.dumps(r, ensure_ascii=False)} for s, _, r in results]
    messages.append({"role": "assistant", "content": " ".join(s.final_answer(a, r) for s, a, r in results)})
    rec = {"class": "good", "shape": shape, "tools": [copy_json(s.schema) for s in offered], "messages": messages}
    return {"id": _rid("good", rec), **rec}


def make_no_tool(rng: random.Random, reference_date: str, kind: str, specs: list[ToolSpec] | None = None) -> dict:
    """A conversation that must be answered in prose although tools are offered (drawn from ``specs``)."""
    specs = specs or SPECS
    if kind not in NO_TOOL_KINDS:
        raise ValueError(f"unknown no_tool kind {kind!r}; known: {NO_TOOL_KINDS}")
    ref = parse_reference_date(reference_date)
    if kind == "chitchat":
        users, replies = rng.choice(phrasing.CHITCHAT)
        text, reply = rng.choice(users), rng.choice(replies)
        offered = rng.sample(specs, min(len(specs), rng.randint(1, 3)))
    elif kind == "knowledge":
        text, reply = rng.choice(phrasing.KNOWLEDGE)
        offered = rng.sample(specs, min(len(specs), rng.randint(1, 3)))
    else:
        spec = rng.choice(SPECS)  # the request may come from anywhere in the library...
        pool = [s for s in specs if not related(s.domain, spec.domain)]  # ...the offered tools cannot serve it
        if pool and rng.random() < 0.75:  # mostly real tool requests routed to unrelated tools: the hard case
            _, text = _request(rng, spec, ref)
            cap = spec.capability
        else:
            text, cap = rng.choice(phrasing.OUT_OF_LIBRARY)
            pool = specs
        offered = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
        reply = rng.choice(phrasing.REFUSALS).format(cap=cap)
    messages = [system_message(reference_date), {"role": "user", "content": text},
                {"role": "assistant", "content": reply}]
    rec = {"class": "no_tool", "kind": kind, "tools": [copy_json(s.schema) for s in offered], "messages": messages}
    return {"id": _rid("no_tool", rec), **rec}


def bad_from_good(good: dict, rng: random.Random, kinds: list[str] | None = None) -> dict | None:
    """DPO pair from a good record: chosen = its calls, rejected = a corruption of them (None if none applies)."""
    calls = calls_of(good["messages"][2])
    hit = corrupt(calls, good["tools"], user_text(good), rng, kinds)
    if hit is None:
        return None
    kind, bad = hit
    rec = {"class": "bad", "kind": kind, "tools": copy_json(good["tools"]), "prompt": copy_json(good["messages"][:2]),
           "chosen": [call_message(calls)], "rejected": [call_message(bad)]}
    return {"id": _rid("bad", rec), **rec}


def make_bad(rng: random.Random, reference_date: str, shape: str, kinds: list[str] | None = None,
             specs: list[ToolSpec] | None = None) -> dict | None:
    """A fresh good conversation of ``shape`` turned into a chosen/rejected call pair."""
    return bad_from_good(make_good(rng, reference_date, shape, specs), rng, kinds)


def make_when(record: dict, rng: random.Random, reference_date: str) -> dict:
    """DPO pair teaching whether to call: from a good record (call beats hedging prose) or a no_tool record
    (prose beats a spurious call)."""
    prompt = copy_json(record["messages"][:2])
    if record["class"] == "good":
        kind, chosen = "call_over_prose", copy_json(record["messages"][2])
        cap = get_spec(chosen["tool_calls"][0]["function"]["name"]).capability
        rejected = {"role": "assistant", "content": rng.choice(phrasing.HEDGES).format(cap=cap)}
    elif record["class"] == "no_tool":
        kind, chosen = "prose_over_call", copy_json(record["messages"][2])
        spec = get_spec(rng.choice(record["tools"])["name"])
        args, _ = spec.sample(rng, parse_reference_date(reference_date))
        rejected = call_message([{"name": spec.name, "arguments": args}])
    else:
        raise ValueError(f"'when' pairs derive from good or no_tool records, got class {record['class']!r}")
    rec = {"class": "when", "kind": kind, "tools": copy_json(record["tools"]), "prompt": prompt,
           "chosen": [chosen], "rejected": [rejected]}
    return {"id": _rid("when", rec), **rec}
