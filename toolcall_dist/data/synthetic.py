"""Synthetic records of the three classes (good calls, no-tool replies, bad-call DPO pairs) plus "when" DPO pairs.

All functions are pure given the ``random.Random`` they receive; records are JSON-serialisable dicts following the
Hugging Face chat convention (assistant ``tool_calls[].function.arguments`` is a dict, not a JSON string).

Record layout (every record has ``id``, ``class``, ``source`` and ``tools``):
good ``{shape, messages}``; no_tool ``{kind, messages}``; bad and when ``{kind, pair_kind, prompt, chosen, rejected}``
with ``pair_kind`` one of precision (bad), format or relevance (when). Records share their tool schemas with the
library, and pairs share turns with the records they come from: treat records as read-only (``copy_json`` first).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import random

from . import phrasing
from .corrupt import corrupt
from .multistep import KIND as STEP_KIND
from .multistep import make_multi_step, step_pair
from .negatives import ARITHMETIC_DOMAINS, COMPUTING_DOMAINS, arithmetic_turn, computation_turn, followup_turn
from .pairs import PAIR_KINDS, clarification, fake_arguments, narration
from .tools import SPEC_BY_NAME, SPECS, copy_json, get_spec, related, specs_in_domain
from .toolspec import ToolSpec
from .vocab import weekday_name

SHAPES = ("simple", "multiple", "parallel", "parallel_multiple", "multi_step")
NO_TOOL_KINDS = ("chitchat", "knowledge", "arithmetic", "irrelevant", "followup", "computation")
WHEN_KINDS = ("call_over_prose", "call_over_clarification", "prose_over_call")
SYNTHETIC = "synthetic"
_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False) without per-call setup


@functools.lru_cache(maxsize=64)
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
    tool_calls = [{"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                  for c in calls]
    return {"role": "assistant", "content": "", "tool_calls": tool_calls}


def calls_of(message: dict) -> list[dict]:
    """[{"name", "arguments"}] of an assistant call turn."""
    return [copy_json(tc["function"]) for tc in message.get("tool_calls", [])]


def _turns(record: dict) -> list[dict]:
    return record["messages"] if "messages" in record else record["prompt"]


def user_texts(record: dict) -> list[str]:
    """Every user turn of any record class (of the prompt, for pairs), in order."""
    return [m["content"] for m in _turns(record) if m["role"] == "user"]


def user_text(record: dict) -> str:
    """The user's first words in any record class."""
    return next(m["content"] for m in _turns(record) if m["role"] == "user")


def call_index(messages: list[dict]) -> int | None:
    """Index of the first assistant turn that makes calls, or None."""
    return next((i for i, m in enumerate(messages) if m["role"] == "assistant" and m.get("tool_calls")), None)


def dedup_key(record: dict) -> tuple:
    """(offered tool names, user turns joined by newlines): two records with the same key are duplicates."""
    return tuple(t["name"] for t in record["tools"]), "\n".join(user_texts(record))


def _rid(cls: str, record: dict) -> str:
    # content hash: stable across runs, unique per class after dedup
    names, users = dedup_key(record)
    raw = "\x1f".join([cls, str(record.get("kind", record.get("shape"))), *names, users])
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


def make_good(rng: random.Random, reference_date: str, shape: str, specs: list[ToolSpec] | None = None
              ) -> dict | None:
    """One good conversation of ``shape``: system, user, assistant calls, tool results, final answer.

    ``specs`` restricts the tools it calls and offers (default: the whole library). ``multi_step``: two calls, the
    second using a value of the first's result (``multistep``); ``None`` when the drawn tools have no such link."""
    specs = specs or SPECS
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {SHAPES}")
    ref = parse_reference_date(reference_date)
    if shape == "multi_step":
        built = make_multi_step(rng, reference_date, specs, [system_message(reference_date)], _request,
                                call_message, _JSON)
        if built is None:
            return None
        offered = built["offered"] + (_distractors(rng, built["offered"], 1, specs) if rng.random() < 0.5 else [])
        rng.shuffle(offered)
        rec = {"class": "good", "shape": shape, "source": SYNTHETIC, "tools": [s.schema for s in offered],
               "messages": built["messages"], "link": built["link"]}
        return {"id": _rid("good", rec), **rec}
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
    messages += [{"role": "tool", "name": s.name, "content": _JSON(r)} for s, _, r in results]
    messages.append({"role": "assistant", "content": " ".join(s.final_answer(a, r) for s, a, r in results)})
    rec = {"class": "good", "shape": shape, "source": SYNTHETIC, "tools": [s.schema for s in offered],
           "messages": messages}
    return {"id": _rid("good", rec), **rec}


def make_no_tool(rng: random.Random, reference_date: str, kind: str, specs: list[ToolSpec] | None = None,
                 request_pool: list[ToolSpec] | None = None) -> dict | None:
    """A conversation that must be answered in prose although tools are offered (drawn from ``specs``).

    ``request_pool`` holds the tools whose requests may be refused as irrelevant (default: the whole library);
    None is returned when ``kind`` cannot be built from these tools.
    """
    specs = specs or SPECS
    if kind not in NO_TOOL_KINDS:
        raise ValueError(f"unknown no_tool kind {kind!r}; known: {NO_TOOL_KINDS}")
    ref = parse_reference_date(reference_date)
    head = [system_message(reference_date)]
    if kind in ("chitchat", "knowledge", "arithmetic"):
        if kind == "chitchat":
            users, replies = rng.choice(phrasing.CHITCHAT)
            text, reply = rng.choice(users), rng.choice(replies)
        elif kind == "knowledge":
            text, reply = rng.choice(phrasing.KNOWLEDGE)
        else:
            text, reply = arithmetic_turn(rng)
        pool = [s for s in specs if kind != "arithmetic" or s.domain not in ARITHMETIC_DOMAINS]
        if not pool:
            return None
        offered = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
    elif kind == "computation":  # near misses: mostly tools that compute something else
        text, reply, doers = computation_turn(rng)
        pool = [s for s in specs if s.name not in doers]
        near = [s for s in pool if s.domain in COMPUTING_DOMAINS]
        if near and rng.random() < 0.7:
            pool = near
        offered = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
    elif kind == "irrelevant":
        spec = rng.choice(request_pool or SPECS)  # the request may come from anywhere in the library...
        pool = [s for s in specs if not related(s.domain, spec.domain)]  # ...the offered tools cannot serve it
        if pool and rng.random() < 0.75:  # mostly real tool requests routed to unrelated tools: the hard case
            _, text = _request(rng, spec, ref)
            cap = spec.capability
        else:
            text, cap = rng.choice(phrasing.OUT_OF_LIBRARY)
            pool = specs
        offered = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
        reply = rng.choice(phrasing.REFUSALS).format(cap=cap)
    else:  # followup: a finished tool conversation, then a question its tool result already answers
        for _ in range(5):  # a few tools return nothing worth asking about again ({"enabled": true})
            good = make_good(rng, reference_date, "simple", specs)
            if (turn := followup_turn(rng, good["messages"])) is not None:
                break
        else:
            return None
        (text, reply), head = turn, good["messages"]
    messages = [*head, {"role": "user", "content": text}, {"role": "assistant", "content": reply}]
    tools = good["tools"] if kind == "followup" else [s.schema for s in offered]
    rec = {"class": "no_tool", "kind": kind, "source": SYNTHETIC, "tools": tools, "messages": messages}
    return {"id": _rid("no_tool", rec), **rec}


def bad_from_good(good: dict, rng: random.Random, kinds: list[str] | None = None,
                  allowed: set[str] | None = None) -> dict | None:
    """DPO pair from a good record: chosen = its calls, rejected = a corruption of them (None if none applies).

    A call rerouted to a library tool that was not offered gets that tool added to the pair's offered tools, so
    the rejected call is wrong in content, not a call to an unknown function; with ``allowed`` (tool names) a
    reroute outside it gives None, so held-out tools never reach training pairs."""
    i = call_index(good["messages"])
    if i is None:
        return None
    prompt, calls = good["messages"][:i], calls_of(good["messages"][i])
    tools = list(good["tools"])
    hit = corrupt(calls, tools, [m["content"] for m in prompt if m["role"] == "user"][-1], rng, kinds)
    if hit is None:
        return None
    kind, bad = hit
    offered = {t["name"] for t in tools}
    added = sorted({c["name"] for c in bad if c["name"] not in offered and c["name"] in SPEC_BY_NAME})
    if allowed is not None and not set(added) <= allowed:
        return None
    return bad_pair(good, kind, bad, tools + [SPEC_BY_NAME[name].schema for name in added])


def bad_pair(good: dict, kind: str, bad: list[dict], tools: list[dict] | None = None) -> dict:
    """A precision pair from a good record: its prompt, chosen = its calls, rejected = the calls ``bad``, offered
    ``tools`` (default: the record's)."""
    i = call_index(good["messages"])
    rec = {"class": "bad", "kind": kind, "pair_kind": PAIR_KINDS["bad"], "source": good.get("source", SYNTHETIC),
           "tools": list(good["tools"]) if tools is None else tools, "prompt": list(good["messages"][:i]),
           "chosen": [call_message(calls_of(good["messages"][i]))], "rejected": [call_message(bad)]}
    return {"id": _rid("bad", rec), **rec}


def make_bad(rng: random.Random, reference_date: str, shape: str, kinds: list[str] | None = None,
             specs: list[ToolSpec] | None = None) -> dict | None:
    """A fresh good conversation of ``shape`` turned into a chosen/rejected call pair (tools from ``specs``)."""
    if kinds == [STEP_KIND]:
        return make_step_pair(rng, reference_date, specs)
    good = make_good(rng, reference_date, shape, specs)
    if good is None:
        return None
    return bad_from_good(good, rng, kinds, allowed=None if specs is None else {s.name for s in specs})


def make_step_pair(rng: random.Random, reference_date: str, specs: list[ToolSpec] | None = None) -> dict | None:
    """A DPO pair at the second step of a fresh multi-step conversation: the call that uses the first result's value
    beats the same call with another value (``multistep.step_pair``)."""
    good = make_good(rng, reference_date, "multi_step", specs)
    pair = None if good is None else step_pair(good, rng, reference_date, SPEC_BY_NAME)
    if pair is None:
        return None
    rec = {"class": "bad", "kind": STEP_KIND, "pair_kind": PAIR_KINDS[STEP_KIND], "source": SYNTHETIC,
           "tools": list(good["tools"]), **pair}
    return {"id": _rid("bad", rec), **rec}


def _spurious_call(record: dict, rng: random.Random, reference_date: str) -> dict | None:
    # a follow-up is answered from the earlier result: calling again is the mistake; otherwise any offered tool
    i = call_index(record["messages"])
    if i is not None:
        return call_message(calls_of(record["messages"][i]))
    if not record["tools"]:
        return None
    tool = rng.choice(record["tools"])
    if tool["name"] in SPEC_BY_NAME:
        args, _ = get_spec(tool["name"]).sample(rng, parse_reference_date(reference_date))
    else:
        words = [w.strip(".,?!\"'") for w in user_texts(record)[-1].split() if w[:1].isupper()]
        args = fake_arguments(tool.get("parameters", {}), words, rng)
    return call_message([{"name": tool["name"], "arguments": args}])


def make_when(record: dict, rng: random.Random, reference_date: str, p_clarify: float = 0.35) -> dict | None:
    """DPO pair teaching whether to call; None when the record offers nothing to build one from.

    From a good record (format pair): its call beats narration or, with probability ``p_clarify``, a needless
    clarifying question. From a no_tool record (relevance pair): its prose reply beats a spurious call.
    """
    if record["class"] == "good":
        i = call_index(record["messages"])
        if i is None:
            return None
        prompt, chosen = record["messages"][:i], record["messages"][i]
        question = clarification(rng, chosen["tool_calls"]) if rng.random() < p_clarify else None
        kind = "call_over_clarification" if question else "call_over_prose"
        rejected = {"role": "assistant", "content": question or narration(rng, chosen["tool_calls"])}
    elif record["class"] == "no_tool":
        prompt, chosen = record["messages"][:-1], record["messages"][-1]
        kind, rejected = "prose_over_call", _spurious_call(record, rng, reference_date)
        if rejected is None:
            return None
    else:
        raise ValueError(f"'when' pairs derive from good or no_tool records, got class {record['class']!r}")
    rec = {"class": "when", "kind": kind, "pair_kind": PAIR_KINDS[kind], "source": record.get("source", SYNTHETIC),
           "tools": list(record["tools"]), "prompt": prompt, "chosen": [chosen], "rejected": [rejected]}
    return {"id": _rid("when", rec), **rec}
