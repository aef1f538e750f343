"""Evaluate one model: BFCL entries -> prompts in the family format -> generation -> parsed calls -> AST verdicts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from toolcall_dist import atomic
from toolcall_dist.eval.bfcl import load_category
from toolcall_dist.eval.checker import check_entry
from toolcall_dist.eval.prompts import entry_prompt
from toolcall_dist.eval.scoring import score
from toolcall_dist.formats import get_format

log = logging.getLogger(__name__)

SAMPLE_ROWS = 8  # generations per category kept for the W&B samples table


def evaluate(model_dir: str, family: str, e: dict, data_dir: str | None, dtype: str, out_dir: Path,
             label: str = "", trust_remote_code: bool = False) -> tuple[dict, tuple[list[str], list[list]]]:
    """Scores (see ``scoring.score``) and a samples table; every generation + verdict goes to ``generations.jsonl``."""
    from toolcall_dist.eval.generate import generate, load

    fmt = get_format(family)
    model, tok = load(model_dir, dtype, trust_remote_code=trust_remote_code)
    verdicts: dict[str, list[bool]] = {}
    called, right_fn, n_call_entries = 0, 0, 0
    columns = ["category", "id", "valid", "error_type", "output"]
    samples: list[list] = []
    with atomic.atomic_open(out_dir / "generations.jsonl") as f:
        for cat in e["categories"]:
            entries = load_category(cat, data_dir=data_dir, limit=e["limit_per_category"])
            prompts = [entry_prompt(fmt, tok, x) for x in entries]
            outputs = generate(model, tok, prompts, e["max_new_tokens"], e["batch_size"], label=f"{label}/{cat}")
            verdicts[cat] = []
            for entry, text in zip(entries, outputs, strict=True):
                calls = fmt.parse(text)
                v = check_entry(calls, entry, cat, underscore_to_dot=True)
                verdicts[cat].append(v["valid"])
                if entry["ground_truth"] is not None:  # diagnostics beyond BFCL's all-or-nothing verdict
                    n_call_entries += 1
                    called += bool(calls)
                    right_fn += _function_names(calls) == _function_names(entry["ground_truth"], truth=True)
                f.write(json.dumps({"id": entry["id"], "category": cat, "output": text, "calls": calls, **v}) + "\n")
                if len(verdicts[cat]) <= SAMPLE_ROWS:  # the category's first few entries
                    samples.append([cat, entry["id"], v["valid"], v["error_type"], text[:500]])
            log.info("eval %s/%s: %d/%d correct", label, cat, sum(verdicts[cat]), len(verdicts[cat]))
    scores = score(verdicts)
    if n_call_entries:
        scores["diagnostics"] = {"call_rate": called / n_call_entries, "right_functions": right_fn / n_call_entries,
                                 "entries": n_call_entries}
    atomic.write_json(out_dir / "scores.json", scores, indent=1)
    return scores, (columns, samples)


def _function_names(calls: list[dict], truth: bool = False) -> list[str]:
    """Sorted function names of model calls, or of a BFCL ground truth (``[{name: {param: [...]}}]``)."""
    names = [next(iter(c)) for c in calls] if truth else [c["name"] for c in calls]
    return sorted(n.replace(".", "_") for n in names)
