"""Run the experiment's driver inside a Slurm batch script, and turn Slurm's preemption into a checkpoint.

``python -m launch.driver --notice FILE [--margin S] [--fallback-s S] -- python -m toolcall_dist ...``

- starts the driver as a child and exits with its status;
- forwards the USR1 and TERM it receives (the batch script forwards what Slurm sends the batch shell) to the driver;
- watches FILE, which the job's Ray nodes write when Slurm preempts the job and SIGTERMs their steps
  (``launch.ray_node --term-notice``; the nodes keep running). It then sends the driver USR1, which checkpoints at the
  next step boundary and exits 75 (``toolcall_dist.preempt``), and gives it until the job's end time less
  ``--margin`` seconds (the time the script needs to stop Ray and requeue). Preemption moves the end time to
  now + the partition's GraceTime; ``scontrol`` tells it, and is asked again while waiting. Without an end time the
  wait is ``--fallback-s``. A driver still running at the deadline is killed with a log line saying the save did not
  finish, and the exit status is 75 all the same: the requeued run resumes from the newest registered checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from toolcall_dist.preempt import EXIT_PREEMPTED  # "checkpointed, run me again": the sbatch script requeues on it

FORWARDED = (signal.SIGUSR1, signal.SIGTERM)


def say(msg: str) -> None:
    print(f"[toolcall] {msg}", flush=True)


def job_end_time(job_id: str | None) -> float | None:
    """The Slurm job's EndTime as a Unix time, or None outside a job or when Slurm has none."""
    if not job_id:
        return None
    try:
        out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    try:
        return time.mktime(time.strptime(fields.get("EndTime", ""), "%Y-%m-%dT%H:%M:%S"))  # Slurm's local time
    except ValueError:
        return None


def supervise(cmd: list[str], notice: Path, margin: float, fallback_s: float, job_id: str | None,
              every: float = 0.5) -> int:
    """Run ``cmd`` to its end (see the module docstring); returns the exit status the batch script should use."""
    child = subprocess.Popen(cmd)
    forward = lambda signum, frame: child.send_signal(signum)  # noqa: E731
    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    deadline, asked = None, 0.0
    try:
        while child.poll() is None:
            if deadline is None and notice.exists():
                try:
                    seen = json.loads(notice.read_text())
                except ValueError:  # being written
                    seen = {}
                end = job_end_time(job_id)
                deadline = end - margin if end else time.time() + fallback_s
                say(f"Slurm is preempting the job: its Ray nodes got {seen.get('signal', 'SIGTERM')} "
                    f"({seen.get('host', '?')}); asking the driver (SIGUSR1) to checkpoint within "
                    f"{max(0.0, deadline - time.time()):.0f} s "
                    f"(the job ends at {time.strftime('%H:%M:%S', time.localtime(end)) if end else 'an unknown time'}"
                    f", less a {margin:.0f} s margin to stop Ray and requeue)")
                child.send_signal(signal.SIGUSR1)  # "checkpoint and stop": Ray claims the driver's SIGTERM
                asked = time.time()
            elif deadline is not None:
                if time.time() - asked >= 2:  # Slurm sets the new end time a few seconds after the signal
                    asked = time.time()
                    end = job_end_time(job_id)
                    if end:
                        deadline = min(deadline, end - margin)
                if time.time() >= deadline:
                    say("the checkpoint did not finish before the preempted job's deadline: stopping the driver; "
                        "the rerun resumes from the newest checkpoint Ray registered")
                    child.kill()
                    child.wait()
                    return EXIT_PREEMPTED
            time.sleep(every)
        return child.returncode
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m launch.driver")
    p.add_argument("--notice", required=True, help="the file the Ray nodes write when SIGTERMed")
    p.add_argument("--margin", type=float, default=20.0, help="seconds kept before the job's end time")
    p.add_argument("--fallback-s", type=float, default=120.0, help="the wait when Slurm gives no end time")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the driver's command line")
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        p.error("no driver command after --")
    sys.exit(supervise(cmd, Path(args.notice), args.margin, args.fallback_s, os.environ.get("SLURM_JOB_ID")))


if __name__ == "__main__":
    main()
