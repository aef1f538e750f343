"""Leakage check against BFCL: training prompts must not repeat BFCL questions, and training tools must not share
(or nearly share) a BFCL function's name.

BFCL's files are read from a directory (default: the ``data`` folder of the installed ``bfcl-eval`` package, located
without importing it). "Nearly" means within one edit (insertion, deletion, substitution or adjacent swap) after
lower-casing and dropping everything but letters and digits, for names of six characters or more. Questions are
compared after normalisation (case, punctuation, spaces); utterances under four words ("hi", "how are you") are
not identifying and are not compared.
"""

from __future__ import annotations

import importlib.util
import json
import re
import string
from pathlib import Path

from toolcall_dist.errors import ConfigError

_NON_ALNUM = re.compile(r"[^a-z0-9]")
_PUNCT = str.maketrans(string.punctuation, " " * len(string.punctuation))
MIN_NEAR_LEN = 6  # shorter names must match exactly: one edit away from "add" is too many ordinary words
MIN_QUESTION_WORDS = 4  # "hi" and "how are you" are in BFCL too; utterances this short identify no test item


def bfcl_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """``data_dir`` if it exists, else the installed ``bfcl_eval`` package's data folder, else None."""
    if data_dir is not None:
        return Path(data_dir) if Path(data_dir).is_dir() else None
    spec = importlib.util.find_spec("bfcl_eval")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / "data").is_dir():
            return Path(loc) / "data"
    return None


def name_key(name: str) -> str:
    """Comparable form of a function name: lower case, letters and digits only ("math.factorial" ->
    "mathfactorial")."""
    return _NON_ALNUM.sub("", name.lower())


def name_keys(name: str) -> set[str]:
    """The comparable forms of a name: whole, and its last dotted part ("math.factorial" -> also "factorial")."""
    return {name_key(name), name_key(name.rsplit(".", 1)[-1])} - {""}


def _variants(key: str) -> set[str]:
    # the key and its single-character deletions: two keys within one edit share a variant
    return {key} | ({key[:i] + key[i + 1:] for i in range(len(key))} if len(key) >= MIN_NEAR_LEN else set())


def normalise_text(text: str) -> str:
    """Lower case, punctuation to spaces, whitespace collapsed: "Hi,  there!" -> "hi there"."""
    return " ".join(text.lower().translate(_PUNCT).split())


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"data.bfcl_data_dir: {path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    for line in text.splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:  # a few BFCL files are not JSON Lines; they hold no questions we need
            continue


class BFCLReference:
    """BFCL question texts (normalised) and function names, with a near-name index."""

    def __init__(self, questions: dict[str, str], names: set[str]):
        self.questions = questions  # normalised text -> question id
        self.names = names
        self._index: dict[str, str] = {}
        for name in sorted(names):
            for key in name_keys(name):
                for v in _variants(key):
                    self._index.setdefault(v, name)
        self._cache: dict[str, str | None] = {}

    @classmethod
    def load(cls, data_dir: str | Path | None = None) -> BFCLReference | None:
        """Read BFCL's question files and function docs; None when no BFCL data is installed (and none is given:
        a ``data_dir`` that does not exist is a ConfigError, never a silently skipped check)."""
        root = bfcl_data_dir(data_dir)
        if root is None and data_dir is not None:
            raise ConfigError(f"data.bfcl_data_dir: {str(data_dir)!r} does not exist (null: the installed package)")
        if root is None:
            return None
        questions, names = {}, set()
        for path in sorted(root.glob("BFCL_v4_*.json")):
            for row in _lines(path):
                if not isinstance(row, dict):
                    continue
                for turn in row.get("question") or []:
                    for msg in turn if isinstance(turn, list) else []:
                        if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str):
                            questions.setdefault(normalise_text(msg["content"]), str(row.get("id")))
                names |= {f["name"] for f in row.get("function") or [] if isinstance(f, dict) and "name" in f}
        for path in sorted((root / "multi_turn_func_doc").glob("*.json")):
            names |= {f["name"] for f in _lines(path) if isinstance(f, dict) and "name" in f}
        return cls({q: i for q, i in questions.items() if len(q.split()) >= MIN_QUESTION_WORDS}, names)

    def name_match(self, name: str) -> str | None:
        """The BFCL function name that ``name`` equals or nearly equals, or None."""
        if name not in self._cache:
            hits = sorted({self._index[v] for key in name_keys(name) for v in _variants(key) if v in self._index})
            self._cache[name] = hits[0] if hits else None
        return self._cache[name]

    def question_match(self, text: str) -> str | None:
        """Id of the BFCL question whose normalised text equals ``text``'s, or None."""
        return self.questions.get(normalise_text(text))

    def leak(self, rec: dict, users: list[str]) -> str | None:
        """Why ``rec`` leaks BFCL (its user turns ``users``), or None."""
        for text in users:
            if qid := self.question_match(text):
                return f"leakage: user turn repeats BFCL question {qid}"
        for tool in rec["tools"]:
            if hit := self.name_match(tool["name"]):
                return f"leakage: tool {tool['name']!r} (nearly) equals BFCL function {hit!r}"
        return None
