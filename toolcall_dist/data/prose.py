"""Prose-only conversations: what a typical small instruct model does when handed tools (the "base" behaviour).

Used to warm up the tiny base model, so that its BFCL score before SFT means what it means for a real instruct model:
asked a tool-eligible question, it narrates and hedges instead of emitting a call.
"""

from __future__ import annotations

import random

# Replies that restate the request's details: an instruct model understands the question, it just will not call.
_DETAIL_HEDGES = (
    "I'm not able to look that up directly for {details}. You could check a dedicated website or app.",
    "I don't have access to live information about {details}, so I can't answer that precisely.",
    "Sorry, I can't retrieve {details} for you right now. Would you like some general tips instead?",
    "To answer that I would need an external service for {details}, which I can't use at the moment.",
)
_HEDGES = (
    "I'm not able to look that up directly. You could check a dedicated website or app for the latest details.",
    "I don't have access to live information, so I can't answer that precisely. Is there anything else I can do?",
    "Sorry, I can't retrieve that for you right now. Would you like some general tips instead?",
    "That's a good question! I would need to check an external service for it, which I can't do at the moment.",
    "I'm afraid I can't help with that request directly, but a quick search online should give you the answer.",
    "Let me think about that. Unfortunately I don't have up-to-date data, so please verify with an official source.",
)


def _value_text(v) -> str:
    return ", ".join(str(x) for x in v) if isinstance(v, list) else str(v)


def _details(calls: list[dict]) -> str:
    values = []
    for call in calls:
        for v in call["function"]["arguments"].values():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v) not in values:
                values.append(str(v))
    return ", ".join(values[:4])


def prose_reply(rng: random.Random, calls: list[dict] | None = None) -> str:
    """A hedging prose answer of the kind an untuned instruct model gives to a tool-eligible request.

    With the request's ``calls`` (never emitted) the reply restates their argument values in prose.
    """
    details = _details(calls or [])
    if details and rng.random() < 0.75:
        return rng.choice(_DETAIL_HEDGES).format(details=details)
    return rng.choice(_HEDGES)


# Narration: the reply names the function it would use and the argument values, in words, and still makes no call
# (the "narrates instead of calling" habit of small instruct models; BFCL's decoders find no call in it).
_NARRATIONS = (
    "I can't run tools myself, but this needs {calls}.",
    "To answer this I would use {calls}. I'm not able to call it from here, though.",
    "You could get this with {calls}; I can't run that for you right now.",
)


def narration(rng: random.Random, calls: list[dict]) -> str:
    """A prose reply that narrates ``calls`` (HF-style tool_calls) by function name and argument values."""
    parts = []
    for call in calls:
        f = call["function"]
        args = [f"{k} {_value_text(v)}" for k, v in f["arguments"].items() if v not in (None, "", [])]
        parts.append(f"{f['name']} with {', '.join(args)}" if args else f["name"])
    return rng.choice(_NARRATIONS).format(calls=" and ".join(parts))


_EXTRACT_ASKS = (
    "List the key details of this request, separated by commas: {text}",
    "What are the specifics in this message? Answer with just the values. {text}",
    "Pull out the names, numbers and dates from: {text}",
)
_ECHO_ASKS = ("Repeat after me: {text}", "Please say this back to me exactly: {text}")


def reading_drills(records: list[dict], seed: int, per_request: int = 1) -> list[dict]:
    """Short tool-free chats that ask for the details of a request back in prose, or for the request verbatim.

    An instruct model can restate what a user asked for; these drills give the tiny base that reading skill (copying
    names and numbers, resolving "tomorrow" against the date in the system turn) without ever showing it a call.
    """
    rng = random.Random(seed)
    out = []
    for rec in [r for r in records if r["class"] == "good"] * per_request:
        system, user = rec["messages"][0], rec["messages"][1]
        calls = next(m["tool_calls"] for m in rec["messages"] if m.get("tool_calls"))
        details = _details(calls)
        if details and rng.random() < 0.7:
            ask, reply = rng.choice(_EXTRACT_ASKS).format(text=user["content"]), details + "."
        else:
            ask, reply = rng.choice(_ECHO_ASKS).format(text=user["content"]), user["content"]
        out.append({"messages": [system, {"role": "user", "content": ask}, {"role": "assistant", "content": reply}],
                    "tools": []})
    return out


_ECHO_WORDS = (*_ECHO_ASKS, "Echo this: {text}")


def copy_drills(records: list[dict], n: int, seed: int) -> list[dict]:
    """``n`` tool-free "repeat after me" chats, the reading pretraining of the tiny base.

    Half repeat a request's user text; half repeat a random string of the requests' own words and of random numbers,
    which no prior can predict: only copying from the prompt lowers their loss, so the model learns to copy (the
    skill a real instruct model brings to a tool call's arguments) in a few hundred steps instead of memorising the
    training values.
    """
    rng = random.Random(seed)
    texts = [m["content"] for r in records for m in r["messages"] if m["role"] == "user"]
    words = sorted({w.strip(".,?!") for t in texts for w in t.split()} - {""})
    system = next(m for r in records for m in r["messages"] if m["role"] == "system")

    def number() -> str:
        k = rng.random()
        if k < 0.4:
            return str(rng.randint(0, 100))
        return str(rng.randint(100, 999999)) if k < 0.7 else f"{rng.randint(0, 9999)}.{rng.randint(0, 99)}"

    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            text = rng.choice(texts)
        else:
            text = " ".join(number() if rng.random() < 0.35 else rng.choice(words) for _ in range(rng.randint(3, 12)))
        out.append({"messages": [system, {"role": "user", "content": rng.choice(_ECHO_WORDS).format(text=text)},
                                 {"role": "assistant", "content": text}], "tools": []})
    return out


def prose_only(records: list[dict], seed: int, narrate: float = 0.0) -> list[dict]:
    """``{"messages", "tools"}`` conversations whose assistant turns are all prose.

    Good-call records keep their system and user turns and get a hedging reply, a ``narrate`` share of them a
    narration of the call they should have made; no-tool records are kept as is, except follow-ups, whose history
    holds a call.
    """
    rng = random.Random(seed)
    out = []
    for rec in records:
        if rec["class"] == "no_tool":
            if not any(m.get("tool_calls") for m in rec["messages"]):  # a follow-up's history holds a call
                out.append({"messages": rec["messages"], "tools": rec["tools"]})
        elif rec["class"] == "good":
            head = [m for m in rec["messages"] if m["role"] in ("system", "user")][:2]
            calls = next(m["tool_calls"] for m in rec["messages"] if m.get("tool_calls"))
            reply = narration(rng, calls) if narrate and rng.random() < narrate else prose_reply(rng, calls)
            out.append({"messages": [*head, {"role": "assistant", "content": reply}],
                        "tools": rec["tools"]})
    return out
