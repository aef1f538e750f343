"""Generation that survives being stopped: completions are appended to a journal as they finish, and a rerun of the
same stage generates only what the journal lacks.

An evaluation of three model stages on every BFCL category takes tens of minutes a model on a CPU; without a
journal, a stop in its last minute throws all of it away. The journal lives in the stage's own directory (a stage's
key fixes its model, prompts and settings, so an index names the same prompt on every run). Each line holds the
prompt's index, a hash of the prompt and the completion; a line whose hash does not match the prompt now at that
index, or a line cut short by the stop, is generated again (and counted in the log), never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from toolcall_dist import preempt

log = logging.getLogger(__name__)

CHUNK_BATCHES = 16  # batches generated between two journal writes (~256 prompts at eval.batch_size 16)


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def read(path: Path, prompts: dict[int, str]) -> tuple[dict[int, str], int]:
    """The completions in the journal at ``path`` that belong to ``prompts``, and how many lines did not (a torn
    last line, or a prompt that changed)."""
    done: dict[int, str] = {}
    stale = 0
    if not path.exists():
        return done, stale
    # a stop can cut the last line inside a multi-byte character: that line is then unusable, not the file
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            i, h, text = int(row["i"]), row["hash"], row["text"]
        except (ValueError, KeyError, TypeError):
            stale += 1
            continue
        if i in prompts and prompt_hash(prompts[i]) == h:
            done[i] = text
        else:
            stale += 1
    return done, stale


def generate(generate_fn: Callable, spec: dict, prompts: dict[int, str], batches: list[list[int]], path: Path,
             chunk_batches: int = CHUNK_BATCHES, overall_progress: bool = False) -> dict[int, str]:
    """``generate_fn(spec, prompts, batches)``, run ``chunk_batches`` batches at a time with each chunk's completions
    appended to ``path`` (flushed to disk) before the next starts; completions already there are not generated
    again. Returns every completion, as one uninterrupted call would. ``overall_progress``: each chunk's spec
    carries ``progress`` (done so far, total), so in-process generation reports one progress line over the
    chunks."""
    done, stale = read(path, prompts)
    todo = [[i for i in b if i not in done] for b in batches]
    todo = [b for b in todo if b]
    if done or stale:
        log.info("%s: %d completion(s) from the journal, %d line(s) not usable, %d batch(es) to generate",
                 spec.get("label", "generation"), len(done), stale, len(todo))
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        with path.open("a") as f:  # the stop cut the last line short: it stays a line of its own, not usable
            f.write("\n")
    total = len(done) + sum(map(len, todo))
    with path.open("a") as f:
        for k in range(0, len(todo), chunk_batches):
            chunk = todo[k:k + chunk_batches]
            part = {**spec, "progress": [len(done), total]} if overall_progress else spec
            ids = [i for b in chunk for i in b]
            try:
                texts = generate_fn(part, {i: prompts[i] for i in ids}, chunk)
            except preempt.Preempted as stop:  # the chunk's batches that finished before the stop are kept
                _append(f, prompts, [i for i in ids if i in stop.partial], stop.partial, done)
                raise
            _append(f, prompts, ids, texts, done)
    return done


def _append(f, prompts: dict[int, str], ids: list[int], texts: dict[int, str], done: dict[int, str]) -> None:
    """Write the completions of ``ids`` to the open journal ``f`` (on disk before this returns) and into ``done``."""
    for i in ids:
        f.write(json.dumps({"i": i, "hash": prompt_hash(prompts[i]), "text": texts.get(i, "")},
                           ensure_ascii=False) + "\n")
        done[i] = texts.get(i, "")
    f.flush()
    os.fsync(f.fileno())
