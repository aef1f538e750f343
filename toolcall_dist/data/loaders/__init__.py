"""Loaders for public tool-calling datasets: local JSON / JSON Lines / Parquet files, or a hub name.

``load_source(source)`` returns the records a source yields plus a quarantine entry (with the reason) for every row
that could not be read; nothing is dropped silently. Formats: ``glaive`` (glaive-function-calling-v2), ``xlam``
(APIGen / xLAM function-calling-60k), ``hermes`` (Hermes function-calling, ShareGPT) and ``bfcl`` (BFCL question
files with their possible answers; evaluation only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import bfcl, glaive, hermes, xlam
from .common import RecordError

PARSERS = {"glaive": glaive.parse, "xlam": xlam.parse, "hermes": hermes.parse, "bfcl": bfcl.parse}
EVAL_ONLY = frozenset({"bfcl"})
FORMATS = tuple(PARSERS)


@dataclass
class Loaded:
    """What one source yielded: records, quarantined rows (``{check, reason, source, row | line, raw}``: ``row``
    counts readable rows from 0, ``line`` is the file line of text that is not JSON), rows read."""

    records: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    rows: int = 0


def _json_lines(text: str, errors: list, limit: int | None) -> list:
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if limit is not None and len(rows) + len(errors) >= limit:
            break
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append((n, f"line {n}: invalid JSON ({e.msg})", line[:500]))
    return rows


def read_rows(path: str | None = None, hub: str | None = None, split: str = "train", limit: int | None = None
              ) -> tuple[list, list[tuple[int, str, str]]]:
    """Rows of a local ``.json`` (an array, an object holding one, or JSON Lines), ``.jsonl`` or ``.parquet``
    file, else of hub dataset ``hub``; and ``(line, reason, raw)`` for lines that are not JSON. ``limit`` caps the
    rows read (unreadable lines included)."""
    errors: list = []
    if path is not None and Path(path).is_file():
        p = Path(path)
        if p.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(p).to_pylist()
        else:
            text = p.read_text(encoding="utf-8")
            try:
                data = json.loads(text) if p.suffix == ".json" else None
            except json.JSONDecodeError:
                data = None
            if isinstance(data, dict):
                data = next((v for v in data.values() if isinstance(v, list)), [data])
            rows = data if isinstance(data, list) else _json_lines(text, errors, limit)
    elif hub is not None:
        from datasets import load_dataset  # a hub is reachable only where the machine has network access

        rows = list(load_dataset(hub, split=split))
    else:
        raise FileNotFoundError(f"data.sources: no file at {path!r} and no hub name given")
    return (rows if limit is None else rows[:limit]), errors


def _with_answers(rows: list, path: str | None) -> list:
    # BFCL keeps ground truth in possible_answer/<same file name>; merge it in by id when it is there
    answers = Path(path).parent / "possible_answer" / Path(path).name if path else None
    if answers is None or not answers.is_file():
        return rows
    truth = {}
    for line in answers.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            truth[row["id"]] = row["ground_truth"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return [{**r, "ground_truth": truth.get(r.get("id"))} if isinstance(r, dict) else r for r in rows]


def load_source(source: dict) -> Loaded:
    """Read and parse one ``data.sources`` entry (``format``, ``path`` or ``hub``, ``split``, ``limit``)."""
    fmt = source["format"]
    if fmt not in PARSERS:
        raise ValueError(f"data.sources: unknown format {fmt!r}; known: {FORMATS}")
    rows, errors = read_rows(source.get("path"), source.get("hub"), source.get("split", "train"),
                             source.get("limit"))
    if fmt == "bfcl":
        rows = _with_answers(rows, source.get("path"))
    out = Loaded(rows=len(rows) + len(errors))
    out.quarantine = [{"check": "parse", "reason": reason, "source": fmt, "line": n, "raw": raw}
                      for n, reason, raw in errors]
    for i, row in enumerate(rows):
        try:
            if not isinstance(row, dict):
                raise RecordError(f"row is {type(row).__name__}, not an object")
            out.records.append(PARSERS[fmt](row))
        except RecordError as e:
            out.quarantine.append({"check": "parse", "reason": str(e), "source": fmt, "row": i,
                                   "raw": json.dumps(row, ensure_ascii=False, default=str)[:2000]})
    return out


__all__ = ["EVAL_ONLY", "FORMATS", "Loaded", "RecordError", "load_source", "read_rows"]
