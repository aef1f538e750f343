"""Loading and writing BFCL v4 categories (the single-turn ones and the four multi-turn ones).

BFCL ships its data inside the ``bfcl-eval`` PyPI package as JSON-lines files:
``data/BFCL_v4_<category>.json`` (questions) and ``data/possible_answer/BFCL_v4_<category>.json``
(ground truth). We only read those files; the package's Python modules are never imported because
they pull in heavy dependencies at import time.

A multi-turn entry's function docs are not in its line: they are the docs of its ``involved_classes``
(``data/multi_turn_func_doc/<class file>.json``), as BFCL assembles them; in ``multi_turn_miss_func`` the docs its
``missed_function`` names are taken out of the list and kept per turn (``missed_function``: ``{turn: [docs]}``) to
be offered when that turn comes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from toolcall_dist import atomic
from toolcall_dist.eval.mt_backends import CLASSES as MULTI_TURN_CLASSES

CATEGORIES: tuple[str, ...] = (
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
# Multi-turn: several user turns against BFCL's simulated APIs (scored by eval.mt_checker, driven by eval.multi_turn)
MULTI_TURN_CATEGORIES: tuple[str, ...] = (
    "multi_turn_base",
    "multi_turn_miss_func",
    "multi_turn_miss_param",
    "multi_turn_long_context",
)
ALL_CATEGORIES: tuple[str, ...] = CATEGORIES + MULTI_TURN_CATEGORIES

# Relevance-style categories are judged on whether a call is produced at all, so they have no answers file.
NO_ANSWER_CATEGORIES: frozenset[str] = frozenset({"irrelevance", "live_irrelevance", "live_relevance"})

FILE_PREFIX = "BFCL_v4_"
ANSWER_SUBDIR = "possible_answer"
FUNC_DOC_SUBDIR = "multi_turn_func_doc"
INSTALL_HINT = "install the data with `pip install --no-deps bfcl-eval` or pass an explicit data_dir"


class BFCLDataError(ValueError):
    """Raised when BFCL data is missing or malformed."""


def _check_category(category: str) -> None:
    if category not in ALL_CATEGORIES:
        raise BFCLDataError(f"unknown BFCL category {category!r}; valid categories: {', '.join(ALL_CATEGORIES)}")


def question_path(category: str, data_dir: Path) -> Path:
    """Path of the questions file of ``category`` inside ``data_dir``."""
    return Path(data_dir) / f"{FILE_PREFIX}{category}.json"


def answer_path(category: str, data_dir: Path) -> Path:
    """Path of the possible-answers file of ``category`` inside ``data_dir``."""
    return Path(data_dir) / ANSWER_SUBDIR / f"{FILE_PREFIX}{category}.json"


def find_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return ``data_dir`` if given, else the ``data`` directory of the installed ``bfcl_eval`` package.

    Raises ``BFCLDataError`` naming the path (and how to install the package) when it does not exist.
    """
    if data_dir is not None:
        path = Path(data_dir)
        if not path.is_dir():
            raise BFCLDataError(f"BFCL data directory {str(path)!r} does not exist; {INSTALL_HINT}")
        return path
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec("bfcl_eval")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "data"
        if path.is_dir():
            return path
    where = f" (looked in {', '.join(str(Path(loc) / 'data') for loc in locations)})" if locations else ""
    raise BFCLDataError(f"BFCL data directory not found: package 'bfcl_eval' is not installed{where}; {INSTALL_HINT}")


def _read_jsonl(path: Path, required_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BFCLDataError(f"BFCL data file {str(path)!r} does not exist; {INSTALL_HINT}")
    rows = []
    raw = path.read_bytes()
    if not raw.strip():
        raise BFCLDataError(f"{path}: file is empty; {INSTALL_HINT}")
    for lineno, chunk in enumerate(raw.split(b"\n"), start=1):
        if not chunk.strip():
            continue
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BFCLDataError(f"{path}:{lineno}: not UTF-8 text (byte 0x{chunk[exc.start]:02x} at column "
                                f"{exc.start + 1})") from None
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BFCLDataError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(row, dict):
            raise BFCLDataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        missing = [key for key in required_keys if key not in row]
        if missing:
            raise BFCLDataError(f"{path}:{lineno}: missing key(s) {', '.join(missing)}")
        rows.append(row)
    return rows


def is_multi_turn(category: str) -> bool:
    """Whether ``category`` is one of BFCL's multi-turn categories."""
    return category in MULTI_TURN_CATEGORIES


def _function_docs(root: Path, classes: list[str], where: str) -> list[dict]:
    docs = []
    for name in classes:
        if name not in MULTI_TURN_CLASSES:
            raise BFCLDataError(f"{where}: involved class {name!r} is not one of the multi-turn backends "
                                f"({', '.join(MULTI_TURN_CLASSES)})")
        docs += _read_jsonl(root / FUNC_DOC_SUBDIR / MULTI_TURN_CLASSES[name][1], ("name",))
    return docs


def _multi_turn_entry(q: dict, root: Path, where: str) -> dict:
    functions = _function_docs(root, q["involved_classes"], where)
    missed: dict[str, list[dict]] = {}
    for turn, names in (q.get("missed_function") or {}).items():
        missed[str(turn)] = []
        for name in names:
            doc = next((f for f in functions if f["name"] == name), None)
            if doc is None:
                raise BFCLDataError(f"{where}: missed_function names {name!r}, which no involved class documents")
            functions.remove(doc)
            missed[str(turn)].append(doc)
    return {"initial_config": q["initial_config"], "involved_classes": list(q["involved_classes"]),
            "function": functions, "missed_function": missed}


def load_category(category: str, data_dir: str | Path | None = None, limit: int | None = None) -> list[dict]:
    """Load one BFCL category as a list of entries.

    Each entry is ``{"id", "category", "question", "function", "ground_truth"}`` where ``question`` is BFCL's
    list of turns (each a list of chat messages), ``function`` the list of function schemas and
    ``ground_truth`` the list of acceptable calls (``None`` for irrelevance / relevance categories).
    A multi-turn entry's ``ground_truth`` is a list of call strings per turn, and it also has ``initial_config``,
    ``involved_classes`` and ``missed_function`` (see the module's docstring).
    ``limit`` keeps only the first ``limit`` questions (in file order).
    """
    _check_category(category)
    root = find_data_dir(data_dir)
    multi = is_multi_turn(category)
    q_path = question_path(category, root)
    questions = _read_jsonl(q_path, ("id", "question", "initial_config", "involved_classes") if multi
                            else ("id", "question", "function"))
    if limit is not None:
        questions = questions[: max(limit, 0)]
    answers: dict[str, Any] = {}
    a_path = answer_path(category, root)
    if category not in NO_ANSWER_CATEGORIES:
        answers = {row["id"]: row["ground_truth"] for row in _read_jsonl(a_path, ("id", "ground_truth"))}
    entries = []
    for q in questions:
        ground_truth = None
        if category not in NO_ANSWER_CATEGORIES:
            if q["id"] not in answers:
                raise BFCLDataError(f"{a_path}: no ground truth for question id {q['id']!r}")
            ground_truth = answers[q["id"]]
        entry = {"id": q["id"], "category": category, "question": q["question"], "function": q.get("function"),
                 "ground_truth": ground_truth}
        if multi:
            entry.update(_multi_turn_entry(q, root, f"{q_path} (id {q['id']!r})"))
            if not isinstance(ground_truth, list) or len(ground_truth) != len(q["question"]):
                raise BFCLDataError(f"{a_path}: the ground truth of {q['id']!r} does not have one list of calls "
                                    f"per turn ({len(q['question'])} turns)")
        entries.append(entry)
    return entries


def write_category(entries: list[dict], category: str, out_dir: str | Path) -> tuple[Path, Path | None]:
    """Write ``entries`` as a BFCL-layout category under ``out_dir`` so ``load_category`` can read it back.

    Returns the questions path and the answers path (``None`` for categories without answers).
    """
    _check_category(category)
    if is_multi_turn(category):
        raise BFCLDataError(f"{category}: only single-turn categories are written (the held-out set)")
    root = Path(out_dir)
    q_path = question_path(category, root)
    a_path = None if category in NO_ANSWER_CATEGORIES else answer_path(category, root)
    q_lines, a_lines = [], []
    for entry in entries:
        for key in ("id", "question", "function"):
            if key not in entry:
                raise BFCLDataError(f"entry {entry.get('id', '?')!r} lacks {key!r}; cannot write {category}")
        q_lines.append(json.dumps({"id": entry["id"], "question": entry["question"], "function": entry["function"]}))
        if a_path is not None:
            if entry.get("ground_truth") is None:
                raise BFCLDataError(f"entry {entry['id']!r} has no ground_truth but category {category} needs one")
            a_lines.append(json.dumps({"id": entry["id"], "ground_truth": entry["ground_truth"]}))
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(q_path, "".join(line + "\n" for line in q_lines))
    if a_path is not None:
        a_path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(a_path, "".join(line + "\n" for line in a_lines))
    return q_path, a_path
