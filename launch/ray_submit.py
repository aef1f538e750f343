"""Submit an experiment to a running Ray cluster through Ray's job submission API.

``python -m launch.ray_submit +exp=qwen_dpo submit.address=http://10.0.0.5:8265 [submit.wait=true] overrides...``

The experiment is composed and validated here first. The job runs ``python -m toolcall_dist <overrides>`` on the
cluster's head node as a Ray driver, in ``submit.working_dir`` (default: this directory, which must be on a
filesystem the cluster shares, like the stage artifacts), joining the cluster it runs on (``cluster.address=auto``
unless given). Ray runs the entrypoint through a shell, so it is built with ``shlex.join``: an override value is one
quoted word, never shell code.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from launch.experiment import PROJECT_ROOT, LaunchError, compose_experiment, parse_options, split_args

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


@dataclass
class SubmitOptions:
    address: str | None = None  # the dashboard's http://host:port (null: RAY_API_SERVER_ADDRESS / RAY_ADDRESS)
    working_dir: str | None = None  # where the job runs (null: the current directory)
    python: str | None = None  # the cluster's python (null: this interpreter, e.g. a shared venv)
    wait: bool = False  # follow the job's logs and exit with its result
    timeout_s: float = 86400.0  # with wait: give up (and stop the job) after this long


def entrypoint(python: str, working_dir: str, overrides: list[str]) -> str:
    """The shell command Ray runs: every piece quoted, so ``name='x; rm -rf ~'`` stays one argument."""
    if not any(o.split("=", 1)[0].lstrip("+") == "cluster.address" for o in overrides):
        overrides = [*overrides, "cluster.address=auto"]
    return f"cd {shlex.quote(working_dir)} && exec {shlex.join([python, '-m', 'toolcall_dist', *overrides])}"


def submit(argv: list[str]) -> tuple[str, str]:
    """Validate and submit; returns (submission id, final status or "PENDING" without wait)."""
    from ray.job_submission import JobSubmissionClient

    raw, overrides, multirun = split_args(argv, "submit")
    if multirun:
        raise LaunchError("-m/--multirun: submit one job per trial (see README), or run the sweep inside one job")
    opts = parse_options(SubmitOptions, raw, "submit")
    compose_experiment([*overrides, "cluster.address=auto"])
    working_dir = str(Path(opts.working_dir or Path.cwd()).absolute())
    cmd = entrypoint(opts.python or sys.executable, working_dir, overrides)
    client = JobSubmissionClient(opts.address)
    job_id = client.submit_job(entrypoint=cmd, runtime_env={"env_vars": {
        "PYTHONPATH": str(PROJECT_ROOT), "RAY_TRAIN_ENABLE_PRINT_PATCH": "0", "PYTHONUNBUFFERED": "1"}})
    print(f"submitted Ray job {job_id} to {opts.address or 'the default cluster'}\n  entrypoint: {cmd}\n"
          f"  logs: ray job logs -f {job_id}" + (f" --address {opts.address}" if opts.address else ""), flush=True)
    if not opts.wait:
        return job_id, "PENDING"
    deadline, printed = time.time() + opts.timeout_s, 0
    while True:
        status = str(client.get_job_status(job_id).value)
        logs = client.get_job_logs(job_id)
        print(logs[printed:], end="", flush=True)
        printed = len(logs)
        if status in TERMINAL:
            print(f"Ray job {job_id}: {status}", flush=True)
            return job_id, status
        if time.time() > deadline:
            client.stop_job(job_id)
            raise LaunchError(f"submit.timeout_s: job {job_id} still {status} after {opts.timeout_s}s; stopped it")
        time.sleep(2)


def main() -> None:
    try:
        _, status = submit(sys.argv[1:])
    except LaunchError as e:
        print(f"launch.ray_submit: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if status in ("SUCCEEDED", "PENDING") else 1)


if __name__ == "__main__":
    main()
