"""Training progress from the rank-0 worker to the driver's console, through a small file in the trainer directory.

``Progress`` (a TrainerCallback body, rank 0 only) rewrites ``progress.json`` at every optimizer step: the step, the
total, and the last logged loss and token count. It also appends each logged training loss to ``steps.jsonl``, which
no attempt, restart or resumed run truncates: the stage's record of which steps ran how often. ``Watcher`` (a
thread in the driver, around ``fit()``) reads ``progress.json`` and logs a progress record
(``extra={"progress": ...}``, see ``console.py``) whenever the step moved, with tokens/s and the ETA measured from its
own first reading, so a resumed run's rate is its own.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

FILE = "progress.json"
STEPS = "steps.jsonl"
log = logging.getLogger(__name__)


class Progress:
    def __init__(self, path: Path):
        self.path, self.loss, self.tokens, self.tokens_at = path, None, None, None
        self.steps = path.with_name(STEPS)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        self.loss = logs.get("loss", self.loss)
        if "loss" in logs:  # a training step's record, appended by every attempt and every resumed run of the stage
            with self.steps.open("a") as f:
                f.write(json.dumps({"step": state.global_step, "loss": logs["loss"], "pid": os.getpid(),
                                    "at": time.time()}) + "\n")
        if "num_tokens" in logs:
            self.tokens, self.tokens_at = logs["num_tokens"], time.time()

    def on_step_end(self, args, state, control, **kwargs):
        # Every optimizer step, so no fsync (atomic.write_json syncs file and directory): a display file lost in a
        # crash costs nothing. The rename still keeps the reader from seeing half a file.
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"step": state.global_step, "max_steps": state.max_steps, "loss": self.loss,
                                   "num_tokens": self.tokens, "tokens_at": self.tokens_at, "at": time.time()}))
        os.replace(tmp, self.path)


class Watcher:
    """Polls ``path`` every ``every`` seconds while running; ``label`` names the stage on the console."""

    def __init__(self, path: Path, label: str, every: float = 2.0):
        self.path, self.label, self.every = path, label, every
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"progress-{label}", daemon=True)
        self.first: dict | None = None  # the first reading, and the first with a logged token count
        self.first_tokens: dict | None = None
        self.last_step = None

    def __enter__(self):
        self.path.unlink(missing_ok=True)  # a file left by an earlier attempt is not this run's progress
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=5)
        self._poll()  # the last step, if the thread missed it

    def _run(self) -> None:
        while not self.stop_event.wait(self.every):
            self._poll()

    def _poll(self) -> None:
        try:
            p = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if p["step"] == self.last_step:
            return
        self.last_step = p["step"]
        if self.first is None:
            self.first = p
        rec = {"label": self.label, "done": p["step"], "total": p["max_steps"], "unit": "steps", "loss": p["loss"]}
        secs = p["at"] - self.first["at"]
        if secs > 0 and p["step"] > self.first["step"]:
            rec["eta_s"] = (p["max_steps"] - p["step"]) * secs / (p["step"] - self.first["step"])
        # The first logged token count, or the first of an attempt restarted from a checkpoint after a fault (its
        # count starts again from the checkpoint's, and before its first log it has none: tokens_at is None)
        if p["num_tokens"] and (self.first_tokens is None or p["num_tokens"] < self.first_tokens["num_tokens"]):
            self.first_tokens = p
        f = self.first_tokens
        if f is not None and p["tokens_at"] is not None and p["tokens_at"] > f["tokens_at"]:  # two logged counts
            rec["tokens_per_s"] = (p["num_tokens"] - f["num_tokens"]) / (p["tokens_at"] - f["tokens_at"])
        log.info("[%s] step %d/%d loss %s", self.label, p["step"], p["max_steps"], p["loss"], extra={"progress": rec})
