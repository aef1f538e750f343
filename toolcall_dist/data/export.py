"""Write a ``builder.BuildResult`` to the data stage directory.

Layout::

    train/{good,no_tool,bad,when}.jsonl   records as built (the SFT and DPO stages read these)
    eval/{good,no_tool,bad,when}.jsonl    evaluation split (held-out tools; loaded BFCL records)
    hf/sft        DatasetDict train/eval: id, class, kind, source, messages, tools      (conversational SFT)
    hf/dpo        DatasetDict train/eval: id, kind, pair_kind, source, prompt, chosen, rejected, tools
    hf/heldout    DatasetDict, one split per BFCL category: id, question, function, ground_truth
    quarantine.jsonl, stats.json, stats.md

Messages and tool schemas are stored as Arrow JSON values (``datasets.Json``), so every row keeps exactly its own
keys: heterogeneous tool schemas are not merged into one struct padded with nulls.
"""

from __future__ import annotations

import json
from pathlib import Path

from .stats import describe, markdown
from .tools import SPEC_BY_NAME

SFT_CLASSES, DPO_CLASSES = ("good", "no_tool"), ("bad", "when")


class _Encoder:
    """JSON text of messages and tool schemas, each encoded once and reused by the JSONL and Arrow outputs."""

    def __init__(self):
        self._tools: dict[str, str] = {}

    @staticmethod
    def value(obj) -> str:
        return json.dumps(obj, ensure_ascii=False)

    def tool(self, tool: dict) -> str:
        spec = SPEC_BY_NAME.get(tool["name"])
        if spec is None or tool != spec.schema:  # a loaded or modified schema: no cache
            return self.value(tool)
        if tool["name"] not in self._tools:
            self._tools[tool["name"]] = self.value(tool)
        return self._tools[tool["name"]]

    def record(self, rec: dict, lists: tuple[str, ...]) -> dict[str, list[str]]:
        """``{field: [JSON of each element]}`` for the list fields of ``rec``."""
        return {k: [self.tool(t) for t in rec[k]] if k == "tools" else [self.value(x) for x in rec[k]]
                for k in lists}


def _line(rec: dict, encoded: dict[str, list[str]]) -> str:
    # the record's JSON, assembled from the already encoded list fields
    parts = [f"{json.dumps(k)}: " + ("[" + ", ".join(encoded[k]) + "]" if k in encoded else json.dumps(
        v, ensure_ascii=False)) for k, v in rec.items()]
    return "{" + ", ".join(parts) + "}\n"


def _json_lists(rows: list[list[str]]):
    import pyarrow as pa

    offsets = [0]
    for row in rows:
        offsets.append(offsets[-1] + len(row))
    values = pa.ExtensionArray.from_storage(pa.json_(), pa.array([x for row in rows for x in row], pa.string()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _dataset(scalars: dict[str, list], lists: dict[str, list[list[str]]]):
    import pyarrow as pa
    from datasets import Dataset

    cols = {k: pa.array(v, pa.string()) for k, v in scalars.items()}
    cols.update({k: _json_lists(v) for k, v in lists.items()})
    return Dataset(pa.table(cols))


def _split(recs_by_class: dict[str, list[dict]], classes: tuple[str, ...], out: Path, enc: _Encoder):
    """Write the JSONL files of ``classes`` under ``out`` and return their (SFT or DPO) Dataset."""
    lists = ("messages", "tools") if classes == SFT_CLASSES else ("prompt", "chosen", "rejected", "tools")
    scalars = {k: [] for k in (("id", "class", "kind", "source") if classes == SFT_CLASSES
                               else ("id", "kind", "pair_kind", "source"))}
    columns = {k: [] for k in lists}
    out.mkdir(parents=True, exist_ok=True)
    for cls in classes:
        with (out / f"{cls}.jsonl").open("w", encoding="utf-8") as f:
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

    enc, out = _Encoder(), {}
    for cat, (questions, answers) in heldout.items():
        truth = {a["id"]: a["ground_truth"] for a in answers}
        out[cat] = _dataset({"id": [q["id"] for q in questions]},
                            {"question": [[enc.value(t) for t in q["question"]] for q in questions],
                             "function": [[enc.value(f) for f in q["function"]] for q in questions],
                             "ground_truth": [[enc.value(g) for g in truth.get(q["id"]) or []] for q in questions]})
    return DatasetDict(out)


def save(res, out_dir: str | Path, tokenizer: str | None = None) -> dict:
    """Write ``res`` under ``out_dir`` (layout in the module docstring); returns the stats report."""
    from datasets import DatasetDict

    out, enc = Path(out_dir), _Encoder()
    sft = DatasetDict({split: _split(recs, SFT_CLASSES, out / split, enc)
                       for split, recs in (("train", res.train), ("eval", res.eval))})
    dpo = DatasetDict({split: _split(recs, DPO_CLASSES, out / split, enc)
                       for split, recs in (("train", res.train), ("eval", res.eval))})
    sft.save_to_disk(str(out / "hf" / "sft"))
    dpo.save_to_disk(str(out / "hf" / "dpo"))
    heldout_dataset(res.heldout).save_to_disk(str(out / "hf" / "heldout"))
    with (out / "quarantine.jsonl").open("w", encoding="utf-8") as f:
        for q in res.gate.quarantine:
            f.write(json.dumps(q, ensure_ascii=False, default=str) + "\n")
    stats = describe(res, tokenizer)
    stats["seconds"] = {k: round(v, 2) for k, v in res.seconds.items()}
    (out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False))
    (out / "stats.md").write_text(markdown(stats))
    return stats
