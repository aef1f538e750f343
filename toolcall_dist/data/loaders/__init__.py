"""Loaders for public tool-calling datasets: local JSON / JSON Lines / Parquet files, or a hub name.

``load_source(source)`` returns the records a source yields plus a quarantine entry (with the reason, the file and
the line or row) for every row that could not be read; nothing is dropped silently. A file that cannot be read at
all (missing, empty, not UTF-8 text, a JSON document cut short) raises ``SourceError`` naming the file and, where it
applies, the line and column. A row longer than ``MAX_ROW_BYTES`` is quarantined unread.

Formats: ``glaive`` (glaive-function-calling-v2), ``xlam``
(APIGen / xLAM function-calling-60k), ``hermes`` (Hermes function-calling, ShareGPT) and ``bfcl`` (BFCL question
files with their possible answers; evaluation only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import bfcl, glaive, hermes, xlam
from .common import RecordError, SourceError

PARSERS = {"glaive": glaive.parse, "xlam": xlam.parse, "hermes": hermes.parse, "bfcl": bfcl.parse}
EVAL_ONLY = frozenset({"bfcl"})
FORMATS = tuple(PARSERS)
MAX_ROW_BYTES = 1 << 20  # a tool-calling conversation is kilobytes; a megabyte row is a scraping accident
_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
         b"\xfe\xff": "UTF-16"}


@dataclass
class Loaded:
    """What one source yielded: records, quarantined rows (``{check, reason, source, row | line, raw}``: ``row``
    counts readable rows from 0, ``line`` is the file line of text that is not JSON), rows read."""

    records: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    rows: int = 0


def _json_lines(raw: bytes, errors: list, limit: int | None) -> list:
    # line by line from bytes: one undecodable, oversized or cut-off line is quarantined, the rest still load
    rows = []
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        if limit is not None and len(rows) + len(errors) >= limit:
            break
        if len(line) > MAX_ROW_BYTES:
            errors.append((n, f"line {n}: {len(line)} bytes, over the {MAX_ROW_BYTES}-byte limit of one row",
                           line[:500].decode("utf-8", "replace")))
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            errors.append((n, f"line {n}: not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1})",
                           line[:500].decode("utf-8", "replace")))
            continue
        try:
            rows.append(json.loads(text))
        except (json.JSONDecodeError, RecursionError) as e:
            msg = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            errors.append((n, f"line {n}: invalid JSON ({msg})", text[:500]))
    return rows


def _decode(raw: bytes, path: Path) -> str:
    """The file's text; SourceError naming the file (and the line) when it is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise SourceError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); convert the file to UTF-8"
                          ) from None


def _read_file(p: Path, errors: list, limit: int | None) -> list:
    if p.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(p).to_pylist()
        except (pa.ArrowException, OSError) as e:
            raise SourceError(f"{p}: not a readable Parquet file ({e})") from None
    raw = p.read_bytes()
    if not raw.strip():
        raise SourceError(f"{p}: file is empty")
    for bom, name in _BOMS.items():
        if raw.startswith(bom):
            raise SourceError(f"{p}: file is {name}-encoded; convert it to UTF-8")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    first = raw.lstrip()[:1]
    head = raw.split(b"\n", 1)[0]
    if p.suffix == ".json":
        text = _decode(raw, p)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            # One document (an array, or an object over several lines) that does not parse cannot be read at all;
            # a file whose first line is a whole JSON value is JSON Lines under a .json name (as BFCL ships them).
            if first == b"[" or (first == b"{" and not _is_json(head)):
                raise SourceError(f"{p}:{e.lineno}:{e.colno}: invalid JSON ({e.msg}); the file is one JSON "
                                  "document, so nothing in it can be read") from None
            return _json_lines(raw, errors, limit)
        except RecursionError:
            raise SourceError(f"{p}: JSON nested too deeply to read") from None
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        return data if isinstance(data, list) else [data]
    return _json_lines(raw, errors, limit)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except (ValueError, RecursionError):
        return False


def read_rows(path: str | None = None, hub: str | None = None, split: str = "train", limit: int | None = None
              ) -> tuple[list, list[tuple[int, str, str]]]:
    """Rows of a local ``.json`` (an array, an object holding one, or JSON Lines), ``.jsonl`` or ``.parquet``
    file, else of hub dataset ``hub``; and ``(line, reason, raw)`` for lines that are not JSON. ``limit`` caps the
    rows read (unreadable lines included)."""
    errors: list = []
    if path is not None and Path(path).is_file():
        rows = _read_file(Path(path), errors, limit)
        if not rows and not errors:
            raise SourceError(f"{path}: holds no rows")
    elif hub is not None:
        from datasets import load_dataset  # a hub is reachable only where the machine has network access

        rows = list(load_dataset(hub, split=split))
    else:
        raise SourceError(f"{path}: no such file, and no hub name given")
    return (rows if limit is None else rows[:limit]), errors


def _with_answers(rows: list, path: str | None) -> list:
    # BFCL keeps ground truth in possible_answer/<same file name>; merge it in by id when it is there
    answers = Path(path).parent / "possible_answer" / Path(path).name if path else None
    if answers is None or not answers.is_file():
        return rows
    truth = {}
    for line in _decode(answers.read_bytes(), answers).splitlines():
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
    where = source.get("path") or source.get("hub")
    out.quarantine = [{"check": "parse", "reason": reason, "source": fmt, "file": where, "line": n, "raw": raw}
                      for n, reason, raw in errors]
    for i, row in enumerate(rows):
        try:
            if not isinstance(row, dict):
                raise RecordError(f"row is {type(row).__name__}, not an object")
            if (size := len(json.dumps(row, ensure_ascii=False, default=str))) > MAX_ROW_BYTES:
                raise RecordError(f"row is {size} characters, over the {MAX_ROW_BYTES} limit of one row")
            out.records.append(PARSERS[fmt](row))
        except (RecordError, RecursionError) as e:
            reason = str(e) if isinstance(e, RecordError) else "row nested too deeply to read"
            out.quarantine.append({"check": "parse", "reason": reason, "source": fmt, "file": where, "row": i,
                                   "raw": json.dumps(row, ensure_ascii=False, default=str)[:2000]})
    return out


__all__ = ["EVAL_ONLY", "FORMATS", "MAX_ROW_BYTES", "Loaded", "RecordError", "SourceError", "load_source",
           "read_rows"]
