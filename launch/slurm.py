"""Submit an experiment to Slurm: ``python -m launch.slurm +exp=qwen_dpo slurm.nodes=4 slurm.gpus_per_node=8``.

Arguments starting with ``slurm.`` configure the allocation (``SlurmOptions``); every other argument is a Hydra
override of the experiment. The experiment is composed and validated here first, so a typo fails before it waits in
the queue. ``slurm/toolcall.sbatch`` is rendered with the allocation only and submitted with the overrides as separate
arguments of ``sbatch`` (a list, no shell): an override value can never become shell code. With ``-m``/``--multirun``
each trial of a Hydra sweep (``dpo.beta=0.05,0.1``) is submitted as its own job (see README, "Running on Slurm").
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from launch.experiment import PROJECT_ROOT, LaunchError, compose_experiment, parse_options, split_args

TEMPLATE = PROJECT_ROOT / "slurm" / "toolcall.sbatch"
# Values that reach #SBATCH lines, which sbatch parses itself without shell quoting.
SAFE_DIRECTIVE = re.compile(r"^[A-Za-z0-9_./:+@%-]+$")


@dataclass
class SlurmOptions:
    nodes: int = 1
    gpus_per_node: int = 0
    workers_per_node: int | None = None  # training workers per node (null: gpus_per_node, or 1 on CPU-only nodes)
    cpus_per_node: int = 8  # CPUs Slurm allocates, and Ray offers, on each node
    time: str = "24:00:00"
    signal_lead_s: int = 300  # USR1 this long before the time limit, to checkpoint (Slurm may send it 60 s early)
    partition: str | None = None
    account: str | None = None
    job_name: str | None = None  # null: the experiment's name
    log_dir: str | None = None  # null: <output_dir>/slurm of the experiment
    wait_nodes_s: int = 300  # how long the job waits for every Ray node to join before failing
    sbatch_args: list[str] = field(default_factory=list)  # more sbatch flags, each one argument ("--qos=high")
    # Sweeps: trials after the first wait for it (it builds the stages they share); serial: one trial at a time.
    serial: bool = False
    dry_run: bool = False  # print the sbatch command and rendered script, submit nothing

    def __post_init__(self) -> None:
        for key in ("nodes", "cpus_per_node", "wait_nodes_s", "signal_lead_s"):
            if getattr(self, key) < 1:
                raise LaunchError(f"slurm.{key}: must be >= 1, got {getattr(self, key)}")
        if self.gpus_per_node < 0:
            raise LaunchError(f"slurm.gpus_per_node: must be >= 0, got {self.gpus_per_node}")
        if self.workers_per_node is not None and self.workers_per_node < 1:
            raise LaunchError(f"slurm.workers_per_node: must be >= 1, got {self.workers_per_node}")
        if self.workers > self.cpus_per_node:
            raise LaunchError(f"slurm.workers_per_node: {self.workers} workers need at least as many CPUs per node;"
                              f" slurm.cpus_per_node is {self.cpus_per_node}")
        for key in ("time", "partition", "account", "job_name"):
            v = getattr(self, key)
            if v is not None and not SAFE_DIRECTIVE.match(str(v)):
                raise LaunchError(f"slurm.{key}: {v!r} has characters Slurm directives cannot carry")

    @property
    def workers(self) -> int:
        """Training workers per node."""
        return self.workers_per_node or self.gpus_per_node or 1


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """Hydra's basic-sweeper expansion: ``a=1,2 b=x,y`` -> four trials, each a list of plain overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = []
    for o, text in zip(parsed, overrides, strict=True):
        if o.is_sweep_override():
            key = o.get_key_element()
            choices.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([text])
    return [list(t) for t in itertools.product(*choices)]


def topology_env(opts: SlurmOptions) -> dict[str, str]:
    """What slurm/toolcall.sbatch exports for the cluster=slurm preset, computed the same way from the options."""
    return {"TOOLCALL_NUM_WORKERS": str(opts.nodes * opts.workers),
            "TOOLCALL_CPUS_PER_WORKER": str(max(opts.cpus_per_node // opts.workers, 1)),
            "TOOLCALL_USE_GPU": "true" if opts.gpus_per_node > 0 else "false"}


def with_cluster(overrides: list[str]) -> list[str]:
    """The job joins the Ray cluster it started: ``cluster=slurm`` unless the overrides pick a cluster preset."""
    if any(re.match(r"^\+{0,2}cluster=", o) for o in overrides):
        return list(overrides)
    return [*overrides, "cluster=slurm"]


def render(template: str, opts: SlurmOptions, job_name: str, log_dir: Path, workdir: Path) -> str:
    """The sbatch script for this allocation. Only launcher-checked values are written into it."""
    values = {
        "JOB_NAME": job_name, "NODES": opts.nodes, "CPUS_PER_NODE": opts.cpus_per_node, "TIME": opts.time,
        "SIGNAL_LEAD_S": opts.signal_lead_s, "LOG_DIR": log_dir, "PYTHON": shlex.quote(sys.executable),
        "WORKERS_PER_NODE": opts.workers, "GPUS_PER_NODE": opts.gpus_per_node, "WAIT_NODES_S": opts.wait_nodes_s,
        "WORKDIR": shlex.quote(str(workdir)), "PROJECT": shlex.quote(str(PROJECT_ROOT)),
    }
    for key in ("JOB_NAME", "LOG_DIR"):
        if not SAFE_DIRECTIVE.match(str(values[key])):
            raise LaunchError(f"slurm.{key.lower()}: {str(values[key])!r} has characters Slurm directives cannot "
                              "carry (set slurm.job_name / slurm.log_dir)")
    out = re.sub(r"@([A-Z][A-Z_]*)@", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
                 template)
    left = set(re.findall(r"@([A-Z][A-Z_]*)@", out))
    if left:
        raise LaunchError(f"{TEMPLATE}: placeholders without a value: {sorted(left)}")
    return out


def sbatch_command(opts: SlurmOptions, script: Path, overrides: list[str], after: str | None = None) -> list[str]:
    """``sbatch`` argv: options as flags, then the script, then each override as one argument. ``after``: a job id
    this one starts after (whatever its outcome)."""
    cmd = ["sbatch", "--parsable"]
    if after:
        cmd.append(f"--dependency=afterany:{after}")
    if opts.gpus_per_node:
        cmd.append(f"--gpus-per-node={opts.gpus_per_node}")
    if opts.partition:
        cmd.append(f"--partition={opts.partition}")
    if opts.account:
        cmd.append(f"--account={opts.account}")
    if opts.serial:
        cmd.append("--dependency=singleton")
    return [*cmd, *opts.sbatch_args, str(script), *overrides]


@dataclass
class Submission:
    job_id: str | None
    command: list[str]
    log: Path
    ray_logs: str
    output_dir: Path


def submit(argv: list[str], workdir: Path | None = None) -> list[Submission]:
    """Render and submit one job (or one per sweep trial); returns what was submitted."""
    raw, overrides, multirun = split_args(argv, "slurm")
    opts = parse_options(SlurmOptions, raw, "slurm")
    workdir = Path(workdir or Path.cwd()).absolute()
    trials = [with_cluster(t) for t in (expand_sweep(overrides) if multirun else [overrides])]
    confs = [compose_experiment(t, topology_env(opts)) for t in trials]  # every trial checked before any is queued
    if len({c.output_dir for c in confs}) < len(trials):  # trials would overwrite each other's run directory
        trials = [[*t, f"output_dir={c.output_dir}/trial{i}"]
                  for i, (t, c) in enumerate(zip(trials, confs, strict=True))]
        confs = [compose_experiment(t, topology_env(opts)) for t in trials]
    subs = []
    for i, (trial, conf) in enumerate(zip(trials, confs, strict=True)):
        output_dir = (workdir / conf.output_dir).resolve()
        log_dir = Path(opts.log_dir).absolute() if opts.log_dir else output_dir / "slurm"
        job_name = opts.job_name or re.sub(r"[^A-Za-z0-9_.-]", "_", conf.name)[:64]
        script_text = render(TEMPLATE.read_text(), opts, job_name, log_dir, workdir)
        log_dir.mkdir(parents=True, exist_ok=True)
        script = log_dir / f"{job_name}.sbatch"
        script.write_text(script_text)
        # The first trial builds the stages all trials share (data, base, often SFT); the rest start after it.
        first = subs[0].job_id if i > 0 and not opts.serial else None
        cmd = sbatch_command(opts, script, trial, after=first)
        job_id = None
        if opts.dry_run:
            print(shlex.join(cmd))
        else:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
            if proc.returncode != 0:
                raise LaunchError(f"sbatch failed ({proc.returncode}): {proc.stderr.strip()}")
            job_id = proc.stdout.strip().split(";")[0]
        sub = Submission(job_id, cmd, log_dir / f"{job_name}-{job_id or '%j'}.out",
                         str(log_dir / f"{job_name}-{job_id or '%j'}-ray-*.out"), output_dir)
        print(f"job {sub.job_id or '(dry run)'}: {shlex.join(trial)}\n  log: {sub.log}\n  Ray node logs: "
              f"{sub.ray_logs}\n  run dir: {sub.output_dir}\n  script: {script}", flush=True)
        subs.append(sub)
    return subs


def main() -> None:
    try:
        submit(sys.argv[1:])
    except LaunchError as e:
        print(f"launch.slurm: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
