"""The console: which records reach it, how progress is drawn, and the session that sends everything else to the
run's log file (run in a subprocess, since it repoints the process's stdout and stderr)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap

import pytest

from toolcall_dist.console import ConsoleHandler, progress_line

pytestmark = pytest.mark.unit


def _record(msg: str, level: int = logging.INFO, name: str = "toolcall_dist", **extra) -> logging.LogRecord:
    rec = logging.LogRecord(name, level, __file__, 1, msg, None, None)
    rec.__dict__.update(extra)
    return rec


def test_progress_line_shows_steps_loss_rate_and_eta():
    p = {"label": "sft", "done": 40, "total": 80, "unit": "steps", "loss": 0.91234, "tokens_per_s": 155.4,
         "eta_s": 580}
    assert progress_line(p) == "[sft] 40/80 steps  loss 0.912  155 tok/s  ETA 9m40s"
    q = {"label": "eval_dpo", "done": 64, "total": 64, "unit": "prompts", "rate": 3.25, "eta_s": 0.0}
    assert progress_line(q) == "[eval_dpo] 64/64 prompts  3.2 prompts/s"  # done: no ETA


def test_console_shows_its_records_and_the_projects_warnings_only():
    out = io.StringIO()
    h = ConsoleHandler(out)
    h.handle(_record("[sft] done in 3.0s -> /x", console=True))
    h.handle(_record("[sft] dataset: {...}"))  # the project's INFO: log file only
    h.handle(_record("resuming from step 4", logging.WARNING, "toolcall_dist.train.ray_job"))
    h.handle(_record("Failed to query Ray Train Controller actor state", logging.WARNING, "ray.train"))
    assert out.getvalue().splitlines() == ["[sft] done in 3.0s -> /x", "warning: resuming from step 4"]


def test_a_quiet_console_shows_the_projects_warnings_only():
    out = io.StringIO()
    h = ConsoleHandler(out, quiet=True)  # a sweep trial's: its launcher prints when it starts and ends
    h.handle(_record("[sft] done in 3.0s -> /x", console=True))
    h.handle(_record("", progress={"label": "sft", "done": 5, "total": 10, "unit": "steps"}))
    h.handle(_record("resuming from step 4", logging.WARNING, "toolcall_dist.train.ray_job"))
    assert out.getvalue().splitlines() == ["warning: resuming from step 4"]


def test_without_a_terminal_progress_prints_at_half_way():
    out = io.StringIO()
    h = ConsoleHandler(out)
    for done in range(1, 11):
        h.handle(_record("", progress={"label": "dpo", "done": done, "total": 10, "unit": "steps"}))
    assert out.getvalue().splitlines() == ["[dpo] 5/10 steps"]  # the stage's own line says it finished


def test_on_a_terminal_progress_is_one_line_rewritten_and_ended_by_the_next_line():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    h = ConsoleHandler(out)
    for done in (1, 2):
        h.handle(_record("", progress={"label": "sft", "done": done, "total": 2, "unit": "steps"}))
    h.handle(_record("[sft] done", console=True))
    clear = "\r\033[K"
    assert out.getvalue() == f"{clear}[sft] 1/2 steps{clear}[sft] 2/2 steps{clear}[sft] done\n"


SESSION = textwrap.dedent("""
    import logging, os, sys
    from toolcall_dist.console import session
    with session(sys.argv[1], verbose=sys.argv[2] == "1", restore=True):
        logging.getLogger("toolcall_dist.pipeline").info("[data] done", extra={"console": True})
        logging.getLogger("ray").warning("noise from a library")
        print("printed by a library")
        os.write(2, b"written to fd 2 by C code\\n")
    print("after the session")
""")


@pytest.mark.parametrize("verbose", [False, True])
def test_session_sends_everything_else_to_the_log_and_gives_the_streams_back(tmp_path, verbose):
    proc = subprocess.run([sys.executable, "-c", SESSION, str(tmp_path), "1" if verbose else "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "logs" / "run.log").read_text()
    assert "[data] done" in log and "noise from a library" in log  # every log record, verbose or not
    shown = proc.stdout + proc.stderr
    assert "after the session" in proc.stdout  # restore=True: the process has its streams back
    if verbose:
        assert all(line in shown for line in ("noise from a library", "printed by a library", "written to fd 2"))
    else:  # what no setting silences goes to the log as well
        assert "printed by a library" in log and "written to fd 2 by C code" in log
        assert proc.stdout.splitlines() == [f"logs: {tmp_path / 'logs'} (Ray, workers, W&B, warnings; verbose=true "
                                            "shows them here)", "[data] done", "after the session"]
        assert proc.stderr == ""


def test_training_progress_reaches_the_console_with_rate_and_eta(tmp_path, caplog):
    """The rank-0 callback's file, read by the driver's watcher: a progress record whenever the step moved, with
    tokens/s between two logged token counts and the ETA from the steps' own pace since the first reading."""
    import json

    from toolcall_dist.train.progress import FILE, Progress, Watcher

    path = tmp_path / FILE
    watcher = Watcher(path, "sft")

    def reading(step, at, tokens, tokens_at, loss):
        path.write_text(json.dumps({"step": step, "max_steps": 10, "loss": loss, "num_tokens": tokens,
                                    "tokens_at": tokens_at, "at": at}))
        watcher._poll()

    caplog.set_level(logging.INFO, logger="toolcall_dist.train.progress")
    reading(1, 100.0, None, None, None)  # before the first log: no loss or tokens yet
    reading(2, 102.0, 500, 102.0, 2.5)
    reading(2, 102.5, 500, 102.0, 2.5)  # the same step again: no record
    reading(4, 106.0, 1500, 106.0, 1.5)
    shown = [r.progress for r in caplog.records]
    assert [p["done"] for p in shown] == [1, 2, 4]
    assert "eta_s" not in shown[0] and shown[1]["eta_s"] == pytest.approx(8 * 2.0 / 1)
    assert "tokens_per_s" not in shown[1] and shown[2]["tokens_per_s"] == pytest.approx(1000 / 4.0)
    assert shown[2]["eta_s"] == pytest.approx(6 * 6.0 / 3) and shown[2]["loss"] == 1.5
    assert progress_line(shown[2]) == "[sft] 4/10 steps  loss 1.500  250 tok/s  ETA 12s"
    # a worker killed and the group restarted from the step-2 checkpoint: the new attempt has no token count yet,
    # then counts again from the checkpoint's; the rate is taken within the new attempt
    reading(3, 110.0, None, None, 1.4)
    reading(4, 112.0, 400, 112.0, 1.3)
    reading(5, 114.0, 900, 114.0, 1.2)
    shown = [r.progress for r in caplog.records]
    assert [p["done"] for p in shown] == [1, 2, 4, 3, 4, 5]
    assert "tokens_per_s" not in shown[3] and "tokens_per_s" not in shown[4]
    assert shown[5]["tokens_per_s"] == pytest.approx(500 / 2.0)

    class State:
        global_step, max_steps = 7, 10

    cb = Progress(path)
    cb.on_log(None, State, None, logs={"loss": 0.75, "num_tokens": 4200})
    cb.on_step_end(None, State, None)
    written = json.loads(path.read_text())
    assert (written["step"], written["max_steps"], written["loss"], written["num_tokens"]) == (7, 10, 0.75, 4200)
