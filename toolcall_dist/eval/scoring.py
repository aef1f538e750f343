"""Aggregating per-entry verdicts into BFCL-style accuracies.

Groups follow BFCL's ``eval_runner_helper``: the simple group and the non-live summary are unweighted means, the
live summary is weighted by entry count, irrelevance is the unweighted mean of its non-live and live parts and
relevance is ``live_relevance`` alone, multi-turn the unweighted mean of its four categories. BFCL's overall score
weights non-live, live, irrelevance, multi-turn and agentic 10/10/10/30/40 and leaves relevance out; the overall
here uses those weights over the groups that were run (agentic never is: its web-search part needs the internet and
its memory part is out of scope), so without multi-turn it is the unweighted mean of the first three. Categories
that were not run are left out of every mean instead of counting as 0 (BFCL counts them as 0).
"""

from __future__ import annotations

NOT_RUN = ["multi_turn", "agentic"]  # BFCL's groups this project may leave out (agentic always)
SIMPLE = ("simple_python", "simple_java", "simple_javascript")
NON_LIVE = ("simple", "multiple", "parallel", "parallel_multiple")  # "simple" is the group above
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE = ("irrelevance", "live_irrelevance")
RELEVANCE = ("live_relevance",)
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
OVERALL = ("non_live", "live", "irrelevance", "multi_turn")
OVERALL_WEIGHTS = {"non_live": 10, "live": 10, "irrelevance": 10, "multi_turn": 30}  # BFCL's (agentic: 40)
GROUP_ORDER = ("simple", "non_live", "live", "irrelevance", "relevance", "multi_turn")


def _mean(parts: list[dict], weighted: bool) -> dict:
    total = sum(p["total"] for p in parts)
    if weighted:
        accuracy = sum(p["accuracy"] * p["total"] for p in parts) / total if total else 0.0
    else:
        accuracy = sum(p["accuracy"] for p in parts) / len(parts)
    return {"accuracy": accuracy, "total": total}


def _group(scores: dict[str, dict], members: tuple[str, ...], weighted: bool) -> dict | None:
    present = [m for m in members if m in scores]
    if not present:
        return None
    return {**_mean([scores[m] for m in present], weighted), "members": present}


def score(results: dict[str, list[bool]]) -> dict:
    """Score per-category verdict lists.

    Returns ``{"categories": {cat: {"accuracy", "correct", "total"}}, "groups": {name: {"accuracy", "total",
    "members"}}, "overall": float | None, "not_run": [...]}``. Groups are ``simple``, ``non_live``, ``live``,
    ``irrelevance``, ``relevance`` and ``multi_turn``; a group appears only when one of its members was run, and
    ``members`` lists the parts that went into it; ``not_run`` names BFCL's groups that were not (agentic always).
    Categories with no verdicts count as not run. Accuracies are fractions in [0, 1].
    """
    categories: dict[str, dict] = {}
    for category, verdicts in results.items():
        if not verdicts:
            continue
        correct = sum(1 for v in verdicts if v)
        categories[category] = {"accuracy": correct / len(verdicts), "correct": correct, "total": len(verdicts)}

    groups: dict[str, dict] = {}
    # Order matters: non_live uses the simple group, overall uses the three summaries.
    for name, members, weighted in (
        ("simple", SIMPLE, False),
        ("live", LIVE, True),
        ("irrelevance", IRRELEVANCE, False),
        ("relevance", RELEVANCE, False),
        ("multi_turn", MULTI_TURN, False),
    ):
        if (group := _group(categories, members, weighted)) is not None:
            groups[name] = group
    pool = {**categories, **({"simple": groups["simple"]} if "simple" in groups else {})}
    if (non_live := _group(pool, NON_LIVE, weighted=False)) is not None:
        groups["non_live"] = non_live
    present = [g for g in OVERALL if g in groups]
    weight = sum(OVERALL_WEIGHTS[g] for g in present)
    overall = sum(groups[g]["accuracy"] * OVERALL_WEIGHTS[g] for g in present) / weight if present else None
    return {
        "categories": categories,
        "groups": {name: groups[name] for name in GROUP_ORDER if name in groups},
        "overall": overall,
        "overall_members": present,
        "not_run": [g for g in NOT_RUN if g not in groups],
    }
