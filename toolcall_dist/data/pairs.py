"""Rejected replies of the "when to call" DPO pairs.

Format pairs (tool prompt): the call is chosen; rejected is prose narration that restates the request without acting
on it, a hedge naming the capability, or a needless clarifying question about a value the user already gave.
Relevance pairs (no-tool prompt): the prose reply is chosen; rejected is a spurious call to an offered tool.
"""

from __future__ import annotations

import random

from .phrasing import HEDGES
from .prose import prose_reply
from .tools import SPEC_BY_NAME

FORMAT_KINDS = ("call_over_prose", "call_over_clarification")
RELEVANCE_KINDS = ("prose_over_call",)
PAIR_KINDS = {"bad": "precision", "ignored_result": "precision",  # ignored_result: data/multistep.py
              "call_over_prose": "format", "call_over_clarification": "format",
              "prose_over_call": "relevance"}

_CLARIFY = ("Sure! Before I do that, could you tell me the {label}?", "Which {label} do you mean?",
            "Could you confirm the {label} you want first?", "Happy to help. What {label} should I use?")


def narration(rng: random.Random, tool_calls: list[dict]) -> str:
    """Prose that talks about the request instead of making the call (a hedge naming the capability, or a
    restatement of the argument values)."""
    names = [tc["function"]["name"] for tc in tool_calls]
    spec = SPEC_BY_NAME.get(names[0]) if names else None
    if spec is not None and rng.random() < 0.4:
        return rng.choice(HEDGES).format(cap=spec.capability)
    return prose_reply(rng, tool_calls)


def clarification(rng: random.Random, tool_calls: list[dict]) -> str | None:
    """A clarifying question about an argument the user already stated; None when the calls have no arguments."""
    keys = [k for tc in tool_calls for k in tc["function"]["arguments"]]
    if not keys:
        return None
    return rng.choice(_CLARIFY).format(label=rng.choice(keys).replace("_", " "))


def _fake_value(schema: dict, words: list[str], rng: random.Random):
    if "enum" in schema and schema["enum"]:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        return rng.randint(1, 10)
    if kind == "number":
        return float(rng.randint(1, 100))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [_fake_value(schema.get("items", {"type": "string"}), words, rng)]
    if kind == "object":
        return fake_arguments(schema, words, rng)
    return rng.choice(words) if words else "example"


def fake_arguments(parameters: dict, words: list[str], rng: random.Random) -> dict:
    """Schema-shaped arguments for a tool with no sampler (a loaded tool): required keys only, values drawn from
    ``words`` (the user's words) or typed placeholders."""
    props = parameters.get("properties", {})
    return {k: _fake_value(props.get(k, {}), words, rng) for k in parameters.get("required", []) if k in props}
