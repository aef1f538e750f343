"""Mined DPO pairs: the model's own wrong replies against the known answer, balanced, plus anchor pairs.

Mining a model's mistakes naively overcorrects: most of a small model's failures are of one kind (too few calls on
a parallel prompt, a call on a no-tool prompt), and DPO on them alone teaches the opposite habit everywhere (extra
calls appended to every answer). So ``mine`` balances what it keeps:

- **error pairs** (``mined:<error type>``): chosen is the gold reply (or, with ``chosen="sample"``, a correct reply
  of the model's), rejected a distinct wrong reply of the model's (at most ``max_pairs_per_prompt`` per prompt);
  no error type exceeds ``max_share_per_error`` of them (raised to 1/k when only k types occur, so a model with few
  kinds of mistakes still gets pairs, evenly), and each type's pairs are spread over the prompt shapes in turn;
- **anchor pairs** (``anchor:<corruption>``): ``anchor_share`` of the mined set, on prompts the model answers
  correctly, spread over those shapes: its correct calls (chosen) against a corruption of them from
  ``data/corrupt.py`` (rejected), extra calls included, so the shapes it gets right are held where they are.

Everything is deterministic in ``seed``; the inputs are plain dicts and so are the outputs.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable

from toolcall_dist.data.corrupt import CORRUPTIONS, extra_call
from toolcall_dist.data.synthetic import call_message
from toolcall_dist.eval.error_kinds import ERROR_TYPES
from toolcall_dist.mining.judge import GROUPS, NO_TOOL, judge_message, judge_reply, reply_content

ANCHOR_CORRUPTIONS = {**CORRUPTIONS, "extra_call": extra_call}


def mine(items: list[dict], replies: dict[str, list[str]], family: str, decode: str, m: dict, seed: int,
         check: Callable[[dict], bool] | None = None) -> tuple[list[dict], list[dict], dict]:
    """``(pairs, judged replies, stats)`` from ``replies[item id]`` (greedy reply first, then the samples).

    ``m`` is the ``mine`` config (``chosen``, ``max_pairs_per_prompt``, ``max_share_per_error``, ``anchor_share``).
    Items without replies (prompts over the context) are counted and skipped, as are items whose gold reply the
    checker rejects (it would make a wrong chosen side). ``check``, given a candidate pair (``item``, ``chosen``,
    ``rejected``), may turn it down before balancing, so the caps hold on what is kept.
    """
    rows, errors, anchors = [], [], []
    stats: dict = {"prompts": {g: 0 for g in GROUPS}, "greedy_correct": {g: 0 for g in GROUPS},
                   "any_correct": {g: 0 for g in GROUPS}, "replies": 0, "correct_replies": 0,
                   "reply_errors": dict.fromkeys(ERROR_TYPES, 0), "greedy_errors": dict.fromkeys(ERROR_TYPES, 0),
                   "skipped": {"no_reply": 0, "gold_rejected": 0, "check": 0}}
    for item in items:
        texts = replies.get(item["id"])
        if not texts:
            stats["skipped"]["no_reply"] += 1
            continue
        if not judge_message(family, item["gold"], item, decode)["correct"]:
            stats["skipped"]["gold_rejected"] += 1
            continue
        judged = [judge_reply(family, t, item, decode) for t in texts]
        rows += [{"id": item["id"], "group": item["group"], "reply": k, "text": t, **j}
                 for k, (t, j) in enumerate(zip(texts, judged, strict=True))]
        _count(stats, item["group"], judged)
        errors += _error_candidates(family, item, texts, judged, m)
        if (anchor := _anchor_candidate(item, judged, seed, family, decode)) is not None:
            anchors.append(anchor)
    if check is not None:
        passed = [c for c in errors + anchors if check(c)]
        stats["skipped"]["check"] = len(errors) + len(anchors) - len(passed)
        errors = [c for c in passed if c["pair_kind"] == "mined"]
        anchors = [c for c in passed if c["pair_kind"] == "anchor"]
    chosen_errors, chosen_anchors, balance = select(errors, anchors, m["max_share_per_error"], m["anchor_share"],
                                                    seed)
    pairs = [_pair(c) for c in chosen_errors + chosen_anchors]
    n = sum(stats["prompts"].values()) or 1  # shares of the prompts judged (0 when none were)
    stats.update(balance, pairs=len(pairs), pair_kinds=_tally(p["kind"] for p in pairs),
                 greedy_correct_share=sum(stats["greedy_correct"].values()) / n,
                 any_correct_share=sum(stats["any_correct"].values()) / n)
    return pairs, rows, stats


def _count(stats: dict, group: str, judged: list[dict]) -> None:
    stats["prompts"][group] += 1
    stats["greedy_correct"][group] += judged[0]["correct"]
    stats["any_correct"][group] += any(j["correct"] for j in judged)
    stats["replies"] += len(judged)
    stats["correct_replies"] += sum(j["correct"] for j in judged)
    for k, j in enumerate(judged):
        if not j["correct"]:
            stats["reply_errors"][j["error_type"]] += 1
            stats["greedy_errors"][j["error_type"]] += k == 0


def _error_candidates(family: str, item: dict, texts: list[str], judged: list[dict], m: dict) -> list[dict]:
    """One candidate per distinct wrong reply (greedy first), at most ``max_pairs_per_prompt``."""
    right = next((reply_content(family, t) for t, j in zip(texts, judged, strict=True) if j["correct"]), None)
    chosen = {"role": "assistant", "content": right} if m["chosen"] == "sample" and right is not None else item["gold"]
    out, seen = [], set()
    for k, (text, j) in enumerate(zip(texts, judged, strict=True)):
        content = reply_content(family, text)
        if j["correct"] or content in seen or len(out) == m["max_pairs_per_prompt"]:
            continue
        seen.add(content)
        out.append({"item": item, "group": item["group"], "error_type": j["error_type"], "rank": len(out),
                    "reply": k, "kind": f"mined:{j['error_type']}", "pair_kind": "mined", "chosen": chosen,
                    "rejected": {"role": "assistant", "content": content}})
    return out


def _anchor_candidate(item: dict, judged: list[dict], seed: int, family: str, decode: str) -> dict | None:
    """The model's first correct calls against a corruption of them that the checker rejects, or None."""
    k = next((k for k, j in enumerate(judged) if j["correct"]), None)
    if item["group"] == NO_TOOL or k is None:
        return None
    calls = [{"name": c["name"], "arguments": c["arguments"]} for c in judged[k]["calls"]]
    offered = {t["name"] for t in item["tools"]}
    user = [t["content"] for t in item["prompt"] if t["role"] == "user"][-1]
    rng = random.Random(f"{seed}:mine:anchor:{item['id']}")
    kinds = sorted(ANCHOR_CORRUPTIONS)
    rng.shuffle(kinds)
    for kind in kinds:
        bad = ANCHOR_CORRUPTIONS[kind](calls, item["tools"], user, rng)
        # a call rerouted to a tool the prompt does not offer would be wrong for a reason the prompt cannot show
        if bad is None or bad == calls or any(c["name"] not in offered for c in bad):
            continue
        rejected = call_message(bad)
        if not judge_message(family, rejected, item, decode)["correct"]:
            return {"item": item, "group": item["group"], "error_type": "", "rank": 0, "reply": k,
                    "kind": f"anchor:{kind}", "pair_kind": "anchor", "chosen": call_message(calls),
                    "rejected": rejected}
    return None


def error_quotas(available: dict[str, int], max_share: float) -> dict[str, int]:
    """Pairs to keep per error type: the largest total in which no type's share exceeds ``max_share`` (raised to
    1/k when k types have candidates), each type taking at most what it has."""
    present = {e: n for e, n in available.items() if n > 0}
    quotas = dict.fromkeys(available, 0)
    if not present:
        return quotas
    cap = max(max_share, 1 / len(present))
    for total in range(sum(present.values()), 0, -1):
        limit = math.floor(cap * total + 1e-9)
        quota = {e: min(n, limit) for e, n in present.items()}
        if sum(quota.values()) >= total:
            for _ in range(sum(quota.values()) - total):  # trim the largest first: every share stays under the cap
                quota[max(sorted(quota), key=lambda e: quota[e])] -= 1
            return {**quotas, **quota}
    return quotas


def spread(candidates: list[dict], n: int, rng: random.Random) -> list[dict]:
    """``n`` candidates taken from the prompt shapes in turn; within a shape, a prompt's first wrong reply before
    any prompt's second (``rank``), in random order."""
    by_group = {}
    for c in candidates:
        by_group.setdefault(c["group"], []).append(c)
    queues = []
    for group in [g for g in GROUPS if g in by_group]:
        bucket = by_group[group]
        rng.shuffle(bucket)
        queues.append(sorted(bucket, key=lambda c: c["rank"]))  # stable: random order within a rank
    rng.shuffle(queues)
    out = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def select(errors: list[dict], anchors: list[dict], max_share: float, anchor_share: float, seed: int
           ) -> tuple[list[dict], list[dict], dict]:
    """The error candidates kept under the per-type cap, and the anchors that make ``anchor_share`` of the whole."""
    rng = random.Random(f"{seed}:mine:balance")
    available = {e: sum(c["error_type"] == e for c in errors) for e in ERROR_TYPES}
    quotas = error_quotas(available, max_share)
    kept = [c for e in ERROR_TYPES for c in spread([c for c in errors if c["error_type"] == e], quotas[e], rng)]
    want = round(len(kept) * anchor_share / (1 - anchor_share))
    kept_anchors = spread(anchors, want, rng)
    present = sum(n > 0 for n in available.values())
    return kept, kept_anchors, {
        "error_candidates": available, "error_pairs": quotas, "anchor_candidates": _tally(a["group"] for a in anchors),
        "anchor_pairs": _tally(a["group"] for a in kept_anchors),
        "max_share_effective": max(max_share, 1 / present) if present else max_share}


def _pair(c: dict) -> dict:
    item = c["item"]
    digest = hashlib.sha1(f"{item['id']}\x1f{c['kind']}\x1f{c['reply']}\x1f{c['rejected']}".encode()).hexdigest()
    return {"id": f"mined-{digest[:12]}", "class": "mined", "kind": c["kind"], "pair_kind": c["pair_kind"],
            "source": "mined", "record_id": item["id"], "group": c["group"], "error_type": c["error_type"],
            "reply": c["reply"], "tools": item["tools"], "prompt": item["prompt"], "chosen": [c["chosen"]],
            "rejected": [c["rejected"]]}


def _tally(keys) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in keys:
        out[k] = out.get(k, 0) + 1
    return out


def rendered_ok(family: str, item: dict, chosen_text: str, rejected_text: str, decode: str) -> bool:
    """Whether a pair's sides, as the chat template renders them for DPO, are still judged right (chosen) and wrong
    (rejected) when decoded back from that text."""
    return (judge_reply(family, chosen_text, item, decode)["correct"]
            and not judge_reply(family, rejected_text, item, decode)["correct"])
