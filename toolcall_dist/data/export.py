"""Write a ``builder.BuildResult`` to the data stage directory.

Layout::

    train/{good,no_tool,bad,when}.jsonl   records as built (the SFT and DPO stages read these)
    eval/{good,no_tool,bad,when}.jsonl    evaluation split (held-out tools; loaded BFCL records)
    hf/sft        DatasetDict train/eval: id, class, kind, source, messages, tools      (conversational SFT)
    hf/dpo        DatasetDict train/eval: id, kind, pair_kind, source, prompt, chosen, rejected, tools
    hf/heldout    DatasetDict, one split per BFCL category: id, question, function, ground_truth
    quarantine.jsonl, stats.json, stats.md

Conversation fields (``messages``, ``prompt``, ``chosen``, ``rejected``) and ``tools`` are Arrow JSON values
(``datasets.Json``) that decode to lists of dicts, so every row keeps exactly its own keys: heterogeneous tool
schemas and call arguments are not merged into one struct padded with nulls.
"""

from __future__ import annotations

import json
from pathlib import Path

from toolcall_dist.atomic import atomic_open, write_json, write_text

from .stats import describe, markdown
from .tools import SPEC_BY_NAME

SFT_CLASSES, DPO_CLASSES = ("good", "no_tool"), ("bad", "when")
_JSON = json.JSONEncoder(ensure_ascii=False).encode


class _Encoder:
    """JSON text of a record's list fields, each encoded once and shared by the JSONL line and the Arrow column.

    Library tool schemas are encoded once per run (a record holds the library's own schema objects)."""

    def __init__(self):
        self._tools: dict[str, str] = {}

    def tool(self, tool: dict) -> str:
        spec = SPEC_BY_NAME.get(tool["name"])
        if spec is None or (tool is not spec.schema and tool != spec.schema):  # a loaded schema: no cache
            return _JSON(tool)
        if tool["name"] not in self._tools:
            self._tools[tool["name"]] = _JSON(tool)
        return self._tools[tool["name"]]

    def record(self, rec: dict, lists: tuple[str, ...]) -> dict[str, str]:
        """``{field: JSON text of the list}`` for the list fields of ``rec``."""
        return {k: "[" + ", ".join(self.tool(t) for t in rec[k]) + "]" if k == "tools" else _JSON(rec[k])
                for k in lists}


def _line(rec: dict, encoded: dict[str, str]) -> str:
    # the record's JSON, assembled from the already encoded list fields
    return "{" + ", ".join(f'"{k}": ' + (encoded[k] if k in encoded else _JSON(v)) for k, v in rec.items()) + "}\n"


def _dataset(scalars: dict[str, list], json_columns: dict[str, list[str]]):
    """A Dataset whose ``json_columns`` hold JSON text, typed ``datasets.Json`` (decoded to Python on access)."""
    import pyarrow as pa
    from datasets import Dataset

    cols = {k: pa.array(v, pa.string()) for k, v in scalars.items()}
    cols.update({k: pa.ExtensionArray.from_storage(pa.json_(), pa.array(v, pa.string()))
                 for k, v in json_columns.items()})
    return Dataset(pa.table(cols))


def _split(recs_by_class: dict[str, list[dict]], classes: tuple[str, ...], out: Path, enc: _Encoder):
    """Write the JSONL files of ``classes`` under ``out`` and return their (SFT or DPO) Dataset."""
    lists = ("messages", "tools") if classes == SFT_CLASSES else ("prompt", "chosen", "rejected", "tools")
    scalars = {k: [] for k in (("id", "class", "kind", "source") if classes == SFT_CLASSES
                               else ("id", "kind", "pair_kind", "source"))}
    columns = {k: [] for k in lists}
    out.mkdir(parents=True, exist_ok=True)
    for cls in classes:
        with atomic_open(out / f"{cls}.jsonl") as f:
            for rec in recs_by_class.get(cls, []):
                encoded = enc.record(rec, lists)
                f.write(_line(rec, encoded))
                for k in scalars:
                    scalars[k].append(str(rec.get(k) or rec.get("shape") or "") if k == "kind" else rec.get(k))
                for k in lists:
                    columns[k].append(encoded[k])
    return _dataset(scalars, columns)


def heldout_dataset(heldout: dict[str, tuple[list, list]]):
    """The BFCL-format held-out set as a DatasetDict, one split per category."""
    from datasets import DatasetDict

    out = {}
    for cat, (questions, answers) in heldout.items():
        truth = {a["id"]: a["ground_truth"] for a in answers}
        out[cat] = _dataset({"id": [q["id"] for q in questions]},
                            {"question": [_JSON(q["question"]) for q in questions],
                             "function": [_JSON(q["function"]) for q in questions],
                             "ground_truth": [_JSON(truth.get(q["id"])) for q in questions]})
    return DatasetDict(out)


def save(res, out_dir: str | Path, tokenizer: str | None = None) -> dict:
    """Write ``res`` under ``out_dir`` (layout in the module docstring); returns the stats report."""
    from .builder import gc_paused

    with gc_paused():
        return _save(res, Path(out_dir), tokenizer)


def _save(res, out: Path, tokenizer: str | None) -> dict:
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # one bar per saved split says nothing in the stage log
    try:
        enc = _Encoder()
        for name, classes in (("sft", SFT_CLASSES), ("dpo", DPO_CLASSES)):
            splits = {split: _split(recs, classes, out / split, enc) for split, recs in (("train", res.train),
                                                                                        ("eval", res.eval))}
            datasets.DatasetDict(splits).save_to_disk(str(out / "hf" / name))
        heldout_dataset(res.heldout).save_to_disk(str(out / "hf" / "heldout"))
    finally:
        if bars:
            datasets.enable_progress_bars()
    with atomic_open(out / "quarantine.jsonl") as f:
        for q in res.gate.quarantine:
            f.write(json.dumps(q, ensure_ascii=False, default=str) + "\n")
    stats = describe(res, tokenizer)
    stats["seconds"] = {k: round(v, 2) for k, v in res.seconds.items()}
    write_json(out / "stats.json", stats, indent=1, ensure_ascii=False)
    write_text(out / "stats.md", markdown(stats))
    return stats
