"""What ``python -m toolcall_dist`` shows on the terminal, and where everything else goes.

By default the console gets one line naming the log directory, a live progress line per running stage (steps, loss,
tokens/s and ETA for training; prompts/s for generation), one line per finished or reused stage, warnings and errors
of the project's own code, and the results table last. Everything else (Ray's driver output and what it forwards
from every worker, W&B, DeepSpeed, transformers, Python warnings) goes to ``<output_dir>/logs/run.log``.

The split is made on file descriptors: stdout and stderr are pointed at the log file, so output no setting can
silence (a library's ``print``, a C extension, Ray's forwarding of worker output) lands there too, and the console
is written through a copy of the original stdout. Noise that has a switch is also silenced at its source (W&B's
banners, progress bars). ``verbose=true`` keeps stdout and stderr as they are and logs everything to both.

Which records reach the console is decided by attributes the code sets through ``logging``'s ``extra``:
``console=True`` for a line a person should see, ``progress={...}`` for a progress update (see ``progress_line``),
so modules that report progress import nothing from here.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Set for the whole process tree (Ray starts its workers with the driver's environment on a local cluster).
QUIET_ENV = {"WANDB_SILENT": "true", "TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
             "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
# Without a terminal a progress line is printed as each of these fractions is reached; the stage's own line marks
# its end.
MARKS = (0.5,)


def progress_line(p: dict) -> str:
    """``p``: ``label``, ``done``, ``total``, ``unit`` and optional ``rate`` (per second, of the unit), ``loss``,
    ``tokens_per_s``, ``eta_s``; e.g. ``[sft] 40/80 steps  loss 0.912  155 tok/s  ETA 9m40s``."""
    parts = [f"[{p['label']}] {p['done']}/{p['total']} {p['unit']}"]
    if p.get("loss") is not None:
        parts.append(f"loss {p['loss']:.3f}")
    if p.get("tokens_per_s"):
        parts.append(f"{p['tokens_per_s']:.0f} tok/s")
    if p.get("rate"):
        parts.append(f"{p['rate']:.1f} {p['unit']}/s")
    if p.get("eta_s") is not None and p["done"] < p["total"]:
        m, s = divmod(int(p["eta_s"]), 60)
        parts.append(f"ETA {m}m{s:02d}s" if m else f"ETA {s}s")
    return "  ".join(parts)


class ConsoleHandler(logging.Handler):
    """Writes console records and progress to ``stream``: on a terminal progress is one line rewritten in place;
    elsewhere (a pipe, CI) a progress line is printed only as each of ``MARKS`` is reached."""

    def __init__(self, stream, quiet: bool = False):
        super().__init__(logging.INFO)
        self.quiet = quiet  # the project's warnings only
        self.stream, self.tty = stream, stream.isatty()
        self.live = False  # a progress line is on the terminal, not yet ended
        self.marks: dict[str, int] = {}  # label -> how many MARKS it has printed

    def emit(self, record: logging.LogRecord) -> None:
        if self.quiet and record.levelno < logging.WARNING:
            return
        try:
            p = getattr(record, "progress", None)
            if p is not None:
                self._progress(p)
            elif getattr(record, "console", False) or (record.levelno >= logging.WARNING
                                                       and record.name.startswith("toolcall_dist")):
                text = record.getMessage()
                if record.levelno >= logging.WARNING:
                    text = f"{record.levelname.lower()}: {text}"
                self._line(text)
        except Exception:  # a console that cannot be written must not stop the run
            self.handleError(record)

    def _line(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.live = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def _progress(self, p: dict) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + progress_line(p))
            self.stream.flush()
            self.live = True
            return
        seen = self.marks.get(p["label"], 0)
        reached = sum(p["done"] >= m * p["total"] for m in MARKS) if p["total"] else 0
        if reached > seen:
            self.marks[p["label"]] = reached
            self._line(progress_line(p))


def _file_handler(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


@contextmanager
def session(output_dir: str, verbose: bool, restore: bool = False, quiet: bool = False):
    """The console of one run: logs to ``<output_dir>/logs/run.log``; unless ``verbose``, stdout and stderr are
    pointed at it and only console records reach the terminal.

    stdout and stderr are restored when an exception leaves the block (so its traceback is seen) and, with
    ``restore``, on every exit: a process that runs more than one run (sweep trials) gets its own streams back. A
    single run leaves them pointed at the log, so what Ray and others print while the process shuts down stays out
    of the results. The handlers added here are removed on exit either way, and the root logger's own put back.
    ``quiet``: the console shows the project's warnings only (a sweep trial, whose launcher says when it starts and
    ends)."""
    logs = Path(output_dir).absolute() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "run.log"
    root = logging.getLogger()
    before = list(root.handlers), root.level  # Hydra's logging, where it configured any: back on exit
    for h in before[0]:
        root.removeHandler(h)
    root.setLevel(logging.INFO)
    added = [_file_handler(path)]
    logging.captureWarnings(True)
    me = logging.getLogger(__name__)
    saved = None
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(LOG_FORMAT))
        added.append(stream)
    else:
        os.environ.update(QUIET_ENV)
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        added.append(ConsoleHandler(os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8"), quiet))
        log_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
    for h in added:
        root.addHandler(h)
    me.info("logs: %s (%s)", logs, "verbose: everything is on the console too" if verbose else
            "Ray, workers, W&B, warnings; verbose=true shows them here", extra={"console": True})
    started, failed = time.time(), False
    try:
        yield logs
    except BaseException:
        failed = True
        me.info("stopped after %.0fs; the full log is %s", time.time() - started, path, extra={"console": True})
        raise
    finally:
        if saved is not None:
            if failed or restore:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        for h in added:
            root.removeHandler(h)
            h.close()
        for h in before[0]:
            root.addHandler(h)
        root.setLevel(before[1])
