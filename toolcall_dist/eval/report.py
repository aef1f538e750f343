"""The base -> SFT -> DPO progression: one row per category and BFCL group of each evaluation set, one column per
model stage, then the change each training step made (percentage points). Markdown, W&B table rows and a PNG chart
are all drawn from the same rows."""

from __future__ import annotations

from pathlib import Path

from toolcall_dist.eval.bfcl import ALL_CATEGORIES
from toolcall_dist.eval.error_kinds import ERROR_TYPES
from toolcall_dist.eval.scoring import GROUP_ORDER

SET_ORDER = ("heldout", "bfcl")
STEPS = (("sft", "base"), ("dpo", "sft"))  # (after, before): the change each training stage made


def _sets(scores: dict[str, dict]) -> list[str]:
    names = list(dict.fromkeys(s for m in scores.values() for s in m))
    return [s for s in SET_ORDER if s in names] + [s for s in names if s not in SET_ORDER]


def progression_rows(scores: dict[str, dict]) -> tuple[list[str], list[list]]:
    """Columns and rows: ``[set, kind, name, entries, over_length, <accuracy % per model>..., <change per step>...]``.

    ``kind`` is category, group, overall or diagnostic; missing values are ``None`` (one type per column, as a W&B
    table needs). Diagnostics (calls made, right functions, the share of entries whose verdict the other reading of
    the replies would change) are not BFCL scores: they show what the all-or-nothing verdict hides.
    """
    models = list(scores)
    steps = [(a, b) for a, b in STEPS if a in scores and b in scores]
    columns = ["set", "kind", "name", "entries", "over_length", *models, *(f"{a} - {b}" for a, b in steps)]
    rows = []
    for set_name in _sets(scores):
        per_model = {m: scores[m].get(set_name) or {} for m in models}
        first = next(s for s in per_model.values() if s)
        cats = [c for c in ALL_CATEGORIES if c in first["categories"]] + \
               [c for c in first["categories"] if c not in ALL_CATEGORIES]
        lines = [("category", c, lambda s, c=c: s["categories"].get(c, {}).get("accuracy"),
                  first["categories"][c]["total"], first["categories"][c].get("over_length", 0)) for c in cats]
        lines += [("group", g, lambda s, g=g: s["groups"].get(g, {}).get("accuracy"), first["groups"][g]["total"],
                   None) for g in GROUP_ORDER if g in first["groups"]]
        lines.append(("overall", "overall", lambda s: s.get("overall"), None, None))
        if "diagnostics" in first:
            for key, label in (("call_rate", "calls made"), ("right_functions", "right functions")):
                lines.append(("diagnostic", label, lambda s, k=key: s.get("diagnostics", {}).get(k),
                              first["diagnostics"]["entries"], None))
        if "decode" in first:  # scored with one reading of the replies; how often the other would disagree
            lines.append(("diagnostic", _CHANGED[first["decode"]["other"]], lambda s: _changed_share(s.get("decode")),
                          first["decode"]["entries"], None))
        if "errors" in first:  # entries failing with each kind of mistake: counts, not percentages
            for kind_name in ERROR_TYPES:
                lines.append(("errors", ERROR_LABELS[kind_name],
                              lambda s, k=kind_name: s.get("errors", {}).get(k), None, None))
        if "multi_turn_errors" in first:  # multi-turn entries failing with each of BFCL's multi-turn error types
            for kind_name in first["multi_turn_errors"]:
                lines.append(("errors", MT_ERROR_LABELS.get(kind_name, f"errors: multi-turn {kind_name}"),
                              lambda s, k=kind_name: s.get("multi_turn_errors", {}).get(k), None, None))
        for kind, name, get, entries, over in lines:
            scale = 1.0 if kind == "errors" else 100  # floats either way: one type per W&B table column
            acc = {m: (None if not per_model[m] or get(per_model[m]) is None else scale * get(per_model[m]))
                   for m in models}
            change = [None if acc[a] is None or acc[b] is None else acc[a] - acc[b] for a, b in steps]
            rows.append([set_name, kind, name, entries, over, *(acc[m] for m in models), *change])
    return columns, rows


ERROR_LABELS = {"wrong_value": "errors: wrong value", "missing_required": "errors: missing argument",
                "unexpected_argument": "errors: unexpected argument", "wrong_function": "errors: wrong function",
                "wrong_count": "errors: wrong number of calls", "call_not_needed": "errors: call where none needed",
                "no_call": "errors: no or malformed call"}
MT_ERROR_LABELS = {"force_terminated": "errors: multi-turn step limit reached",
                   "inference_error": "errors: multi-turn prompt over length",
                   "empty_turn_model_response": "errors: multi-turn turn without a call",
                   "instance_state_mismatch": "errors: multi-turn wrong backend state",
                   "execution_response_mismatch": "errors: multi-turn missing results"}
_CHANGED = {"lenient": "lenient parse: verdicts changed", "bfcl": "BFCL decoding: verdicts changed"}
_DECODE_NOTE = {"bfcl": "Replies are decoded as BFCL's handler for the model family decodes them (eval.decode=bfcl)",
                "lenient": "Replies are read by the project's lenient parser (eval.decode=lenient), not as BFCL's "
                           "handler decodes them"}
_PROMPT_NOTE = {"bfcl": "BFCL's entries are prompted with the text BFCL's handler writes (eval.prompt=bfcl)",
                "template": "BFCL's entries are prompted through the chat template (eval.prompt=template)"}


def _changed_share(decode: dict | None) -> float | None:
    return decode["changed"] / decode["entries"] if decode and decode["entries"] else None


def modes_note(scores: dict[str, dict]) -> str:
    """One sentence naming the decoding and the BFCL prompt the scores used ("" for scores that do not say)."""
    sets = [s for m in scores.values() for s in m.values() if s]
    decode = next((s["decode"]["mode"] for s in sets if "decode" in s), None)
    prompt = next((s["prompt"] for m in scores.values() for name, s in m.items() if s and name == "bfcl"
                   and "prompt" in s), None)
    parts = ([_DECODE_NOTE[decode]] if decode else []) + ([_PROMPT_NOTE[prompt]] if prompt else [])
    if not parts:
        return ""
    other = {"bfcl": "lenient", "lenient": "bfcl"}[decode] if decode else None
    tail = f"; *{_CHANGED[other]}* is the share of entries whose verdict the other reading would change" \
        if other else ""
    return "; ".join(parts) + tail + "."


def markdown_table(scores: dict[str, dict]) -> str:
    """The progression as a markdown table, with a note on what was not run and how over-length prompts count."""
    columns, rows = progression_rows(scores)
    n_models = len(scores)

    def cell(i: int, v, kind: str) -> str:
        if v is None:
            return "-"
        if kind == "errors":  # a count of entries, or its change
            return f"{v:+.0f}" if i >= 5 + n_models else f"{v:.0f}"
        return f"{v:+.1f}" if i >= 5 + n_models else f"{v:.1f}"  # accuracy, or a change in percentage points

    head = ["set", "category / group", "entries", *columns[5:]]
    out = ["| " + " | ".join(head) + " |", "|---|---|---:|" + "---:|" * (len(head) - 3)]
    for row in rows:
        name = f"**{row[2]}**" if row[1] in ("group", "overall") else (
            f"*{row[2]}*" if row[1] in ("diagnostic", "errors") else row[2])
        entries = "" if row[3] is None else (f"{row[3]} ({row[4]} over length)" if row[4] else str(row[3]))
        values = [cell(i, v, row[1]) for i, v in enumerate(row) if i >= 5]
        out.append("| " + " | ".join([row[0], name, entries, *values]) + " |")
    first = next(iter(scores.values()))
    sets = [s for s in first.values() if s]
    not_run = [g for g in (sets[0]["not_run"] if sets else []) if all(g in s["not_run"] for s in sets)]
    out += ["", f"Accuracy in %; changes in percentage points. Not run: {', '.join(not_run)}. Over-length prompts "
            "(longer than the model's context) are scored as an empty reply, as BFCL scores a failed request. "
            "*calls made* / *right functions* are diagnostics over the call categories, not BFCL scores; *errors:* "
            "rows count the failing entries by kind of mistake (BFCL's error type, grouped)."]
    if note := modes_note(scores):
        out[-1] += " " + note
    return "\n".join(out)


def plot_progression(scores: dict[str, dict], path: Path) -> Path:
    """A grouped bar chart, one bar per model stage: per set, a panel of every category, group and overall, and
    beside it a panel of the failing entries by kind of mistake."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a cluster node
    import matplotlib.pyplot as plt

    columns, rows = progression_rows(scores)
    models = list(scores)
    sets = _sets(scores)
    fig, axes = plt.subplots(len(sets), 2, figsize=(17, 3.6 * len(sets)), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / max(len(models), 1)
    for (ax, err_ax), set_name in zip(axes, sets, strict=True):
        panels = ((ax, [r for r in rows if r[0] == set_name and r[1] not in ("diagnostic", "errors")]),
                  (err_ax, [r for r in rows if r[0] == set_name and r[1] == "errors"]))
        for a, mine in panels:
            for k, m in enumerate(models):
                values = [r[5 + k] if r[5 + k] is not None else 0.0 for r in mine]
                a.bar([i + (k - (len(models) - 1) / 2) * width for i in range(len(mine))], values, width, label=m)
            a.set_xticks(range(len(mine)))
            a.set_xticklabels([r[2].removeprefix("errors: ") + (" (group)" if r[1] == "group" else "")
                               for r in mine], rotation=35, ha="right", fontsize=8)
            a.legend(fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{set_name}: BFCL AST accuracy by model stage")
        err_ax.set_ylabel("failing entries")
        err_ax.set_title(f"{set_name}: failures by kind")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
