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
from toolcall_dist.eval.checker import check_entry
from toolcall_dist.eval.prompts import UNDERSCORE_TO_DOT
from toolcall_dist.eval.verdicts import bfcl_verdict, jsonable, judge
from toolcall_dist.formats import get_format
from toolcall_dist.formats.bfcl_decode import Decoded
from toolcall_dist.formats.jsonscan import cut_at

SHAPE_CATEGORY = {"simple": "simple_python", "multiple": "multiple", "parallel": "parallel",
                  "parallel_multiple": "parallel_multiple"}
NO_TOOL = "no_tool"
GROUPS = (*SHAPE_CATEGORY, NO_TOOL)  # the prompt shapes mined and balanced
ERROR_TYPES = ("wrong_value", "missing_required", "unexpected_argument", "wrong_function", "wrong_count",
               "call_not_needed", "no_call")
# BFCL error type (the part after the colon) -> ours; type_error, value_error and the dict checkers are wrong values.
_BY_SUFFIX = {"wrong_count": "wrong_count", "wrong_func_name": "wrong_function",
              "function_not_found": "wrong_function", "missing_required": "missing_required",
              # an argument the answer needs though the schema calls it optional: the reply still left it out
              "missing_optional": "missing_required", "unexpected_param": "unexpected_argument"}


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
    """The failure's kind among ``ERROR_TYPES``, from BFCL's error type and the decoded calls.

    A parallel reply BFCL rejects as "cannot find a match" is looked at again: the first answer call no reply call
    matches is compared with the reply calls to the same function, which names what was wrong with them.
    """
    if item["group"] == NO_TOOL:
        return "call_not_needed"
    if not calls or bfcl_type.startswith("ast_decoder"):  # no call, or none BFCL's handler can read
        return "no_call"
    if bfcl_type.endswith("cannot_find_match"):
        return _unmatched_error(calls, item)
    return _BY_SUFFIX.get(bfcl_type.rpartition(":")[2], "wrong_value")


def _unmatched_error(calls: list[dict], item: dict) -> str:
    entry, matched = item["entry"], set()
    for answer in entry["ground_truth"]:  # greedy, in the answer's order, as BFCL matches parallel calls
        name = next(iter(answer))
        func = next((f for f in entry["function"] if f["name"] == name), None)
        if func is None:
            return "wrong_function"
        one = {"id": entry["id"], "function": [func], "ground_truth": [answer]}
        verdicts = {j: check_entry([c], one, "simple_python", underscore_to_dot=UNDERSCORE_TO_DOT)
                    for j, c in enumerate(calls) if j not in matched}
        hit = next((j for j, v in verdicts.items() if v["valid"]), None)
        if hit is not None:
            matched.add(hit)
            continue
        same = [j for j in verdicts if calls[j].get("name") == name]
        if not same:
            return "wrong_function"
        return error_type(verdicts[same[0]]["error_type"], [calls[same[0]]], {**item, "group": "simple"})
    return "wrong_value"  # every answer call matched one: BFCL would not have failed the reply
