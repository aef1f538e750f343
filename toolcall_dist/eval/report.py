"""The base -> SFT -> DPO results table."""

from __future__ import annotations

_SHORT = {"simple_python": "simple", "parallel_multiple": "par_multiple", "live_irrelevance": "live_irrel"}


def markdown_table(scores: dict[str, dict]) -> str:
    """One row per model stage: every category run, then the BFCL group summaries and overall (accuracy in %)."""
    models = list(scores)
    cats = list(dict.fromkeys(c for m in models for c in scores[m]["categories"]))
    groups = [g for g in ("non_live", "live", "irrelevance", "relevance")
              if any(g in scores[m]["groups"] for m in models)]
    diag = all("diagnostics" in scores[m] for m in models)
    head = ["model", *(_SHORT.get(c, c) for c in cats), *(f"**{g}**" for g in groups), "**overall**",
            *(["calls made", "right functions"] if diag else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]

    def pct(x) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    for m in models:
        s = scores[m]
        row = [m, *(pct(s["categories"].get(c, {}).get("accuracy")) for c in cats),
               *(pct(s["groups"].get(g, {}).get("accuracy")) for g in groups), pct(s["overall"]),
               *([pct(s["diagnostics"]["call_rate"]), pct(s["diagnostics"]["right_functions"])] if diag else [])]
        lines.append("| " + " | ".join(row) + " |")
    n = {c: scores[models[0]]["categories"][c]["total"] for c in cats if c in scores[models[0]]["categories"]}
    lines.append("")
    lines.append("Entries per category: " + ", ".join(f"{c} {k}" for c, k in n.items())
                 + ". Not run: " + ", ".join(scores[models[0]]["not_run"]) + ".")
    if diag:
        lines.append("Diagnostics over the call categories (not BFCL scores): 'calls made' = entries with at least "
                     "one well-formed call; 'right functions' = entries whose called function names match the "
                     "answer's.")
    return "\n".join(lines)
