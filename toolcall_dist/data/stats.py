"""The data stage's report: counts per class, shape, no-tool kind, corruption kind, pair kind, domain and source;
gate rejections; token-length percentiles."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

from .tools import SPEC_BY_NAME

_PIECES = re.compile(r"\w+|[^\w\s]")
PERCENTILES = (50, 90, 95, 99, 100)
SAMPLE = 2000  # records per split whose length is measured; enough for stable percentiles up to p99


def _counter(values) -> dict:
    return dict(sorted(Counter(values).items()))


def domains_of(rec: dict) -> set[str]:
    """Domains of a record's offered tools ("external" for tools outside the library)."""
    return {SPEC_BY_NAME[t["name"]].domain if t["name"] in SPEC_BY_NAME else "external" for t in rec["tools"]}


def _text(rec: dict) -> list[str]:
    # template-free text of what the model sees: tool schemas, turns, calls (for pairs: prompt + each reply)
    def turns(msgs):
        return " ".join(m.get("content") or "" for m in msgs) + " " + " ".join(
            json.dumps(tc["function"], ensure_ascii=False) for m in msgs for tc in m.get("tool_calls") or [])
    tools = json.dumps(rec["tools"], ensure_ascii=False)
    if "messages" in rec:
        return [tools + turns(rec["messages"])]
    head = tools + turns(rec["prompt"])
    return [head + turns(rec["chosen"]), head + turns(rec["rejected"])]


def _load_tokenizer(path: str | None):
    if path is None:
        return None
    from tokenizers import Tokenizer

    p = Path(path)
    return Tokenizer.from_file(str(p / "tokenizer.json" if p.is_dir() else p))


def token_lengths(records: list[dict], tokenizer=None, seed: int = 0) -> dict:
    """Length percentiles (p50 ... p100) over a seeded sample of ``records``; a pair counts its longer side.

    With ``tokenizer`` (a ``tokenizers.Tokenizer``) lengths are real token counts; without, they count word and
    punctuation pieces, a tokenizer-free estimate close to BPE counts on English text."""
    if not records:
        return {}
    sample = random.Random(seed).sample(records, min(SAMPLE, len(records)))
    texts = [_text(r) for r in sample]
    flat = [t for group in texts for t in group]
    if tokenizer is not None:
        counts = [len(e.ids) for e in tokenizer.encode_batch(flat)]
    else:
        counts = [len(_PIECES.findall(t)) for t in flat]
    lengths, i = [], 0
    for group in texts:
        lengths.append(max(counts[i:i + len(group)]))
        i += len(group)
    lengths.sort()
    return {f"p{q}": lengths[min(len(lengths) - 1, max(0, round(q / 100 * len(lengths)) - 1))] for q in PERCENTILES}


def describe(res, tokenizer: str | None = None) -> dict:
    """The stats report of a ``builder.BuildResult``."""
    tok = _load_tokenizer(tokenizer)
    tr, ev = res.train, res.eval
    n = sum(len(tr[c]) for c in ("good", "bad", "no_tool"))
    pairs = tr["bad"] + tr["when"]
    return {
        "counts": {"train": {c: len(v) for c, v in tr.items()}, "eval": {c: len(v) for c, v in ev.items()},
                   "heldout": {cat: len(q) for cat, (q, _) in res.heldout.items()}},
        "class_ratios": {c: round(len(tr[c]) / n, 4) if n else 0.0 for c in ("good", "bad", "no_tool")},
        "shapes": _counter(r["shape"] for r in tr["good"]),
        "no_tool_kinds": _counter(r["kind"] for r in tr["no_tool"]),
        "corruption_kinds": _counter(r["kind"] for r in tr["bad"]),
        "pair_kinds": _counter(r["pair_kind"] for r in pairs),
        "when_kinds": _counter(r["kind"] for r in tr["when"]),
        "domains": {c: _counter(d for r in tr[c] for d in domains_of(r)) for c in tr},
        "sources": {c: _counter(r.get("source", "synthetic") for r in tr[c]) for c in tr},
        "schema_styles": res.styles,
        "tools": {"train": len(res.tools["train"]), "eval": len(res.tools["eval"]), "eval_names": res.tools["eval"]},
        "gate": res.gate.summary(),
        "quarantined": len(res.gate.quarantine),
        "loaded": res.sources,
        "token_lengths": {"measure": tokenizer or "word/punctuation pieces",
                          "sft": token_lengths(tr["good"] + tr["no_tool"], tok),
                          "dpo": token_lengths(pairs, tok)},
    }


def markdown(stats: dict) -> str:
    """The report as a short Markdown page."""
    lines = ["# Data stage report", ""]
    for split, counts in stats["counts"].items():
        lines.append(f"- {split}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines.append(f"- quarantined: {stats['quarantined']}; gate rejections: {json.dumps(stats['gate'])}")
    lines.append(f"- tools: {stats['tools']['train']} for training, {stats['tools']['eval']} held out for eval")
    for key in ("class_ratios", "shapes", "no_tool_kinds", "corruption_kinds", "pair_kinds", "when_kinds",
                "schema_styles"):
        lines.append(f"- {key.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in stats[key].items()))
    tl = stats["token_lengths"]
    for split in ("sft", "dpo"):
        lines.append(f"- {split} length ({tl['measure']}): " + ", ".join(f"{k} {v}" for k, v in tl[split].items()))
    lines += ["", "| class | " + " | ".join(sorted({d for c in stats["domains"].values() for d in c})) + " |"]
    cols = sorted({d for c in stats["domains"].values() for d in c})
    lines.append("|---|" + "---:|" * len(cols))
    for cls, by_domain in stats["domains"].items():
        lines.append(f"| {cls} | " + " | ".join(str(by_domain.get(d, 0)) for d in cols) + " |")
    return "\n".join(lines) + "\n"
