"""Training prompts with their known answers, and a model's replies to them judged as the eval judges them.

A good record becomes a BFCL-style entry of its shape's category (``simple`` -> ``simple_python``, ``multiple``,
``parallel``, ``parallel_multiple``) with its calls as the ground truth, exactly as the data stage writes the
held-out set; a no-tool record becomes an ``irrelevance`` entry, where any call is wrong. A reply is decoded and
checked by ``eval.verdicts.judge`` (BFCL's handler decoding or the lenient parser, as ``eval.decode`` says), and a
failure is given one of ``ERROR_TYPES``, refined from BFCL's error type.
"""

from __future__ import annotations

import random

from toolcall_dist.data.bfcl_format import bfcl_function, bfcl_ground_truth
from toolcall_dist.data.synthetic import call_index, calls_of
from toolcall_dist.eval.error_kinds import error_kind
from toolcall_dist.eval.prompts import UNDERSCORE_TO_DOT
from toolcall_dist.eval.verdicts import bfcl_verdict, jsonable, judge
from toolcall_dist.formats import get_format
from toolcall_dist.formats.bfcl_decode import Decoded
from toolcall_dist.formats.jsonscan import cut_at

SHAPE_CATEGORY = {"simple": "simple_python", "multiple": "multiple", "parallel": "parallel",
                  "parallel_multiple": "parallel_multiple"}
NO_TOOL = "no_tool"
GROUPS = (*SHAPE_CATEGORY, NO_TOOL)  # the prompt shapes mined and balanced
def prompt_items(good: list[dict], no_tool: list[dict], per_shape: int, seed: int) -> list[dict]:
    """Up to ``per_shape`` prompts of each good-call shape and of the no-tool records, drawn by ``seed``.

    Each item is ``{"id", "group", "category", "prompt", "tools", "gold", "entry"}``: ``prompt`` the turns before the
    answer, ``gold`` the answer turn (calls, or prose for a no-tool record), ``entry`` what the checker reads.
    """
    rng = random.Random(f"{seed}:mine:prompts")
    by_group: dict[str, list[dict]] = {g: [] for g in GROUPS}
    for rec in good:
        if rec.get("shape") in SHAPE_CATEGORY:
            by_group[rec["shape"]].append(rec)
    by_group[NO_TOOL] = list(no_tool)
    items = []
    for group in GROUPS:
        recs = sorted(by_group[group], key=lambda r: r["id"])  # the files' order does not decide the draw
        for rec in rng.sample(recs, min(per_shape, len(recs))):
            if (item := _item(rec, group)) is not None:
                items.append(item)
    return items


def _item(rec: dict, group: str) -> dict | None:
    messages, functions = rec["messages"], [bfcl_function(t) for t in rec["tools"]]
    if group == NO_TOOL:
        return {"id": rec["id"], "group": group, "category": "irrelevance", "prompt": messages[:-1],
                "tools": rec["tools"], "gold": messages[-1],
                "entry": {"id": rec["id"], "function": functions, "ground_truth": None}}
    i = call_index(messages)
    if i is None:
        return None
    by_name = {t["name"]: t for t in rec["tools"]}
    try:
        truth = [bfcl_ground_truth(c, by_name[c["name"]]) for c in calls_of(messages[i])]
    except (KeyError, ValueError):  # a loaded record whose call its own schema does not describe: not checkable
        return None
    return {"id": rec["id"], "group": group, "category": SHAPE_CATEGORY[group], "prompt": messages[:i],
            "tools": rec["tools"], "gold": messages[i],
            "entry": {"id": rec["id"], "function": functions, "ground_truth": truth}}


def reply_content(family: str, text: str) -> str:
    """A generated reply as an assistant turn's content: cut before its end-of-turn token (the template writes it)."""
    fmt = get_format(family)
    return cut_at(text, fmt.turn_ends or (fmt.eos,))


def judge_reply(family: str, text: str, item: dict, decode: str) -> dict:
    """``{"correct", "error_type" (ours, "" when correct), "bfcl_error_type", "error", "calls"}`` for one reply
    text, read as ``decode`` (bfcl | lenient) reads it; ``calls`` is None where BFCL's handler cannot decode it."""
    both = judge(get_format(family), text, item["entry"], item["category"], underscore_to_dot=UNDERSCORE_TO_DOT)
    reading = both[decode]
    v, calls = reading["verdict"], reading["calls"]
    kind = "" if v["valid"] else error_type(v["error_type"], calls, item)
    return {"correct": v["valid"], "error_type": kind, "bfcl_error_type": v["error_type"], "error": v["error"],
            "calls": None if calls is None else jsonable(calls)}


def judge_message(family: str, message: dict, item: dict, decode: str) -> dict:
    """``judge_reply`` for an assistant turn: its ``tool_calls`` as decoded calls, or its text content decoded."""
    if message.get("tool_calls"):
        v = bfcl_verdict(Decoded(calls_of(message)), item["entry"], item["category"], UNDERSCORE_TO_DOT)
        calls = calls_of(message)
        return {"correct": v["valid"], "error_type": "" if v["valid"] else error_type(v["error_type"], calls, item),
                "bfcl_error_type": v["error_type"], "error": v["error"], "calls": calls}
    return judge_reply(family, message.get("content") or "", item, decode)


def error_type(bfcl_type: str, calls: list[dict] | None, item: dict) -> str:
    """The failure's kind among ``ERROR_TYPES`` for a mining item (``eval.error_kinds.error_kind``; on a no-tool
    prompt any call is the mistake)."""
    return error_kind(bfcl_type, calls, item["entry"], "irrelevance" if item["group"] == NO_TOOL else "simple_python")
