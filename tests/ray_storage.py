"""Reading a Ray Train run's storage directory in tests: which checkpoints Ray has registered, and which are saved.

A checkpoint directory appears in storage as soon as the first worker uploads its files, but Ray only registers it
(and only resumes from it) once every worker has reported; ``checkpoint_manager_snapshot.json`` lists the
registered ones.
"""

from __future__ import annotations

import json
from pathlib import Path


def registered_steps(storage: Path, run: str = "*") -> list[int]:
    """Global steps of the checkpoints Ray registered under ``storage/<run>/`` (oldest first; every run's unless
    ``run`` names one)."""
    steps = []
    for snapshot in storage.glob(f"{run}/checkpoint_manager_snapshot.json"):
        try:
            state = json.loads(snapshot.read_text())
        except (json.JSONDecodeError, OSError):  # being rewritten right now
            continue
        for result in state.get("checkpoint_results", []):
            trainer_state = snapshot.parent / result["checkpoint_dir_name"] / "checkpoint" / "trainer_state.json"
            if trainer_state.exists():
                steps.append(json.loads(trainer_state.read_text())["global_step"])
    return sorted(steps)


def saved_steps(storage: Path) -> list[int]:
    """Global steps of every checkpoint directory with a trainer state under ``storage``, registered or not (a
    superset of ``registered_steps``: the newest may still be uploading)."""
    steps = []
    for trainer_state in storage.glob("**/checkpoint_*/checkpoint/trainer_state.json"):
        try:
            steps.append(json.loads(trainer_state.read_text())["global_step"])
        except (OSError, ValueError, KeyError):  # being written right now
            pass
    return steps
