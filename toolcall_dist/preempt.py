"""Preemption: a signal to the driver becomes "checkpoint at the next step, stop, exit 75, resume on re-run".

Generation in the driver's process (evaluation, mining) stops after its current batch (``eval.generate``); an
evaluation keeps every batch it finished in its journal and resumes from it (``eval.journal``), a mining stage runs
again.

Slurm sends SIGUSR1 ahead of a time limit (``--signal``) and SIGTERM on preemption. The driver's handler only sets a
flag and touches a stop file in the running training stage's directory; the workers poll that file at every step
boundary (``train/ray_job.py``), agree on it collectively, save a checkpoint and stop. The pipeline then raises
``Preempted`` instead of marking the stage done, ``__main__`` exits with ``EXIT_PREEMPTED`` and the sbatch script
requeues the job; the same command run again resumes from the checkpoint.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

log = logging.getLogger("toolcall_dist")

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: "try again later", what a requeue means
SIGNALS = (signal.SIGUSR1, signal.SIGTERM)
STOP_FILE = "STOP"

_state: dict = {"requested": False, "stop_files": set()}


class Preempted(RuntimeError):
    """Raised by the pipeline when a stop was requested: the current stage checkpointed and is not done.
    ``partial``: what a generation finished before it stopped (prompt index -> completion), kept by its journal."""

    def __init__(self, message: str, partial: dict[int, str] | None = None):
        super().__init__(message)
        self.partial = partial or {}


def requested() -> bool:
    return _state["requested"]


def request(signum: int | None = None, frame=None) -> None:
    """Signal handler: remember the request and tell every running training stage's workers to stop."""
    if not _state["requested"]:
        log.warning("stop requested (%s): training checkpoints at its next step, generation stops after its batch",
                    signal.Signals(signum).name if signum else "request")
    _state["requested"] = True
    for path in _state["stop_files"]:
        Path(path).touch()


def watch(stop_file: Path) -> None:
    """Register the stop file of a training stage that is starting (a stale one from an earlier run is removed)."""
    stop_file.unlink(missing_ok=True)
    _state["stop_files"].add(str(stop_file))
    if _state["requested"]:  # the signal came while the stage was being prepared
        stop_file.touch()


def unwatch(stop_file: Path) -> None:
    _state["stop_files"].discard(str(stop_file))
    stop_file.unlink(missing_ok=True)


def install() -> dict:
    """Install the handler for SIGUSR1 and SIGTERM (main thread only); returns the previous handlers."""
    _state["requested"] = False
    return {s: signal.signal(s, request) for s in SIGNALS}


def restore(previous: dict) -> None:
    for s, handler in previous.items():
        signal.signal(s, handler)
