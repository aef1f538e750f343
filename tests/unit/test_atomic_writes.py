"""Crash while writing: a real child process is killed (SIGKILL) in the middle of writing a stage's done.json, a
dataset file, an eval result; nothing half-written is left where a reader (the stage cache first of all) looks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolcall_dist import atomic
from toolcall_dist.pipeline import Stage

pytestmark = pytest.mark.unit

# The child writes through the project's own code; each chunk is flushed and then the child sleeps, so the kill
# lands mid-file. ``fsync`` is slowed the same way for single-shot writes (done.json is one write() call).
CHILD = r"""
import json, os, sys, time
from pathlib import Path
from toolcall_dist import atomic
mode, target = sys.argv[1], Path(sys.argv[2])
real_fsync = os.fsync
def slow_fsync(fd):  # the bytes are in the temporary file; hold here so the parent can kill us before the rename
    Path(str(target) + ".ready").write_text("1")
    time.sleep(60)
os.fsync = slow_fsync
if mode == "done":
    from toolcall_dist.pipeline import Stage
    st = Stage(target.parent.parent, "data", target.parent.name.split("-", 1)[1])
    st.finish({"counts": {"good": 1}, "blob": "x" * 2_000_000})
elif mode == "jsonl":
    from toolcall_dist.stages import _write_jsonl
    def rows():
        for i in range(10_000):
            if i == 500:
                Path(str(target) + ".ready").write_text("1")
                time.sleep(60)
            yield {"id": i, "text": "y" * 100}
    _write_jsonl(target, rows())
elif mode == "results":
    atomic.write_json(target, {"categories": {"simple_python": {"accuracy": 50.0}}, "pad": "z" * 1_000_000})
"""


def _kill_mid_write(mode: str, target: Path) -> None:
    ready = Path(str(target) + ".ready")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(target)], env=env)
    try:
        for _ in range(600):  # the child says when it is mid-write
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), f"child exited ({proc.returncode}) before reaching the middle of the write"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    ready.unlink()


def test_killed_while_writing_done_json_leaves_the_stage_unfinished(tmp_path):
    stage_dir = tmp_path / "stages" / "data-abc123"
    stage_dir.mkdir(parents=True)
    (stage_dir / "train.jsonl").write_text('{"id": 1}\n')  # the stage's outputs were written before done.json
    _kill_mid_write("done", stage_dir / "done.json")
    assert not (stage_dir / "done.json").exists()
    partial = atomic.leftovers(stage_dir)
    assert len(partial) == 1 and partial[0].stat().st_size > 1_000_000  # the kill really was mid-write
    st = Stage(tmp_path / "stages", "data", "abc123")
    assert not st.done  # a re-run runs the stage again
    st.finish({"counts": {"good": 1}})
    assert Stage(tmp_path / "stages", "data", "abc123").done and st.info() == {"counts": {"good": 1}}


def test_killed_while_writing_a_dataset_file_leaves_no_partial_file(tmp_path):
    target = tmp_path / "train" / "good.jsonl"
    _kill_mid_write("jsonl", target)
    assert not target.exists()
    (partial,) = atomic.leftovers(tmp_path)
    assert partial.read_text().count("\n") >= 400  # rows were being written when the process died


def test_killed_while_rewriting_a_result_keeps_the_previous_version(tmp_path):
    target = tmp_path / "results.json"
    atomic.write_json(target, {"categories": {"simple_python": {"accuracy": 10.0}}})
    _kill_mid_write("results", target)
    assert json.loads(target.read_text()) == {"categories": {"simple_python": {"accuracy": 10.0}}}


def test_a_half_written_done_json_from_elsewhere_is_not_trusted(tmp_path):
    """done.json copied in by hand (or by an older version) and cut short: the stage is not taken as finished."""
    d = tmp_path / "stages" / "sft-k"
    d.mkdir(parents=True)
    (d / "done.json").write_text('{"model_dir": "model", "metr')
    assert not Stage(tmp_path / "stages", "sft", "k").done
    (d / "done.json").write_text("[]")
    assert not Stage(tmp_path / "stages", "sft", "k").done


def test_failed_write_removes_its_temporary_file_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "stats.json"
    target.write_text("old")
    with pytest.raises(ZeroDivisionError), atomic.atomic_open(target) as f:
        f.write("new, half")
        raise ZeroDivisionError
    assert target.read_text() == "old" and atomic.leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="mode must be"):
        with atomic.atomic_open(target, "a"):
            pass


def test_data_stage_killed_mid_write_is_rebuilt_whole_on_rerun(tmp_path, compose):
    """The real command, killed (SIGKILL) once the data stage has started writing its directory: the stage is not
    taken as finished, and the next run rebuilds it completely (every JSONL line a whole record, counts as built)."""
    from toolcall_dist import pipeline

    over = ["+exp=quickstart", "stages=[data]", "tracking=none", f"output_dir={tmp_path}/out",
            f"stages_dir={tmp_path}/stages", "data.n_examples=2000", "data.holdout_per_category=5",
            "data.leakage_check=false"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "toolcall_dist", *over], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            written = [p for p in (tmp_path / "stages").glob("data-*/**/*") if p.is_file()]
            if written or proc.poll() is not None:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert written, "the stage had written nothing when it was killed"
    (stage_dir,) = (tmp_path / "stages").glob("data-*")
    assert not (stage_dir / "done.json").exists()
    for f in stage_dir.glob("train/*.jsonl"):  # whatever was renamed into place is whole
        assert all(json.loads(line) for line in f.read_text().splitlines())
    result = pipeline.run(compose(over))
    assert "data" not in result.reused
    info = json.loads((stage_dir / "done.json").read_text())
    assert {"good", "bad", "no_tool"} <= set(info["counts"]) and all(n > 0 for n in info["counts"].values())
    for cls, n in info["counts"].items():
        assert len((stage_dir / "train" / f"{cls}.jsonl").read_text().splitlines()) == n
