"""The batch script's side of Slurm preemption: Ray nodes that outlive SIGTERM and leave a notice, and the driver
supervisor that turns the notice into a checkpoint within a deadline. Real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import pytest

from launch.driver import EXIT_PREEMPTED, supervise
from launch.ray_node import spawn_shielded, write_notice

pytestmark = pytest.mark.unit

# A stand-in driver: exits 75 on USR1 (as toolcall_dist does after its checkpoint), 15 on TERM, 3 after 30 s.
OBEYS = ("import signal, sys, time\n"
         "signal.signal(signal.SIGUSR1, lambda s, f: sys.exit(75))\n"
         "signal.signal(signal.SIGTERM, lambda s, f: sys.exit(15))\n"
         "time.sleep(30); sys.exit(3)\n")
# A driver whose save never finishes: it ignores the request.
STUCK = "import signal, time\nsignal.signal(signal.SIGUSR1, signal.SIG_IGN)\ntime.sleep(60)\n"


def _later(seconds: float, fn) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(seconds), fn()), daemon=True)
    t.start()
    return t


def test_notice_asks_the_driver_to_checkpoint_and_returns_its_status(tmp_path, capsys):
    notice = tmp_path / "job.preempted"
    _later(1.0, lambda: write_notice(str(notice), signal.SIGTERM))
    t0 = time.time()
    rc = supervise([sys.executable, "-c", OBEYS], notice, margin=0, fallback_s=20, job_id=None, every=0.05)
    assert rc == EXIT_PREEMPTED and time.time() - t0 < 10
    out = capsys.readouterr().out
    assert "[toolcall] Slurm is preempting the job: its Ray nodes got SIGTERM" in out
    assert "did not finish" not in out


def test_a_save_that_misses_the_deadline_is_stopped_with_a_log_line(tmp_path, capsys):
    notice = tmp_path / "job.preempted"
    _later(0.5, lambda: write_notice(str(notice), signal.SIGTERM))
    t0 = time.time()
    rc = supervise([sys.executable, "-c", STUCK], notice, margin=0, fallback_s=1.5, job_id=None, every=0.05)
    took = time.time() - t0
    assert rc == EXIT_PREEMPTED
    assert 2.0 <= took < 10, took  # the notice after 0.5 s, then the 1.5 s bound
    out = capsys.readouterr().out
    assert "the checkpoint did not finish before the preempted job's deadline: stopping the driver" in out


def test_without_a_notice_the_driver_runs_to_its_own_end(tmp_path):
    rc = supervise([sys.executable, "-c", "import sys; sys.exit(4)"], tmp_path / "none", margin=0, fallback_s=1,
                   job_id=None, every=0.05)
    assert rc == 4


@pytest.mark.parametrize(("signum", "rc"), [(signal.SIGUSR1, EXIT_PREEMPTED), (signal.SIGTERM, 15)])
def test_signals_to_the_supervisor_reach_the_driver(tmp_path, signum, rc):
    before = signal.getsignal(signum)
    _later(1.0, lambda: os.kill(os.getpid(), signum))
    got = supervise([sys.executable, "-c", OBEYS], tmp_path / "none", margin=0, fallback_s=1, job_id=None,
                    every=0.05)
    assert got == rc
    assert signal.getsignal(signum) is before  # the previous handler is back


def test_shielded_processes_and_their_children_outlive_sigterm_but_not_sigkill(tmp_path):
    import psutil

    ready = tmp_path / "ready"
    # The shielded process starts a grandchild, as `ray start` starts the raylet and the raylet the workers.
    code = (f"import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(ready)!r}, 'w').close(); time.sleep(60)\n")
    child = spawn_shielded([sys.executable, "-c", code])
    try:
        deadline = time.time() + 30
        while not ready.exists():
            assert time.time() < deadline
            time.sleep(0.05)
        tree = [psutil.Process(child.pid), *psutil.Process(child.pid).children(recursive=True)]
        assert len(tree) == 2
        assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the caller's mask is restored
        for p in tree:
            p.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert all(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
    finally:
        for p in psutil.Process(child.pid).children(recursive=True):
            p.kill()
        child.kill()
    assert child.wait(timeout=10) == -signal.SIGKILL


def test_notice_names_the_node_and_the_signal(tmp_path):
    path = tmp_path / "n.json"
    write_notice(str(path), signal.SIGTERM)
    notice = json.loads(path.read_text())
    assert notice["signal"] == "SIGTERM" and notice["pid"] == os.getpid() and abs(notice["at"] - time.time()) < 5
    assert [p.name for p in tmp_path.iterdir()] == ["n.json"]  # written through a temporary name
