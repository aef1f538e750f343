"""Prose-only conversations: what a typical small instruct model does when handed tools (the "base" behaviour).

Used to warm up the tiny base model, so that its BFCL score before SFT means what it means for a real instruct model:
asked a tool-eligible question, it narrates and hedges instead of emitting a call.
"""

from __future__ import annotations

import random

_HEDGES = (
    "I'm not able to look that up directly. You could check a dedicated website or app for the latest details.",
    "I don't have access to live information, so I can't answer that precisely. Is there anything else I can do?",
    "Sorry, I can't retrieve that for you right now. Would you like some general tips instead?",
    "That's a good question! I would need to check an external service for it, which I can't do at the moment.",
    "I'm afraid I can't help with that request directly, but a quick search online should give you the answer.",
    "Let me think about that. Unfortunately I don't have up-to-date data, so please verify with an official source.",
)


def prose_reply(rng: random.Random) -> str:
    """A hedging prose answer of the kind an untuned instruct model gives to a tool-eligible request."""
    return rng.choice(_HEDGES)


def prose_only(records: list[dict], seed: int) -> list[dict]:
    """``{"messages", "tools"}`` conversations whose assistant turns are all prose.

    Good-call records keep their system and user turns and get a hedging reply; no-tool records are kept as is.
    """
    rng = random.Random(seed)
    out = []
    for rec in records:
        if rec["class"] == "no_tool":
            out.append({"messages": rec["messages"], "tools": rec["tools"]})
        elif rec["class"] == "good":
            head = [m for m in rec["messages"] if m["role"] in ("system", "user")][:2]
            out.append({"messages": [*head, {"role": "assistant", "content": prose_reply(rng)}],
                        "tools": rec["tools"]})
    return out
