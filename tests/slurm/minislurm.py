"""A real Slurm cluster of two nodes on this machine, for the `slurm` test tier.

Debian's slurmctld/slurmd/munge run unprivileged paths under one directory: munged with its own socket and key,
slurmctld, and two slurmd processes (``-N n1`` / ``-N n2``, Debian builds Slurm with MULTIPLE_SLURMD) on their own
ports. Clients find it through ``SLURM_CONF``; nothing under /etc is touched, so several can coexist.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
BINARIES = ("slurmctld", "slurmd", "sbatch", "scontrol", "munged", "mungekey")


def ensure_installed() -> None:
    """Install Debian's Slurm and munge when a binary is missing (needs root and apt); raise if that fails."""
    if all(shutil.which(b) for b in BINARIES):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"Slurm is not installed and cannot be installed here: need root and apt-get for "
                           f"{' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(["apt-get", "install", "-y", *PACKAGES], env=env, capture_output=True, text=True)
    if proc.returncode != 0:  # a stale package index: refresh it once and retry
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        proc = subprocess.run(["apt-get", "install", "-y", *PACKAGES], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"apt-get install {' '.join(PACKAGES)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def free_port() -> int:
    """A TCP port free on every interface (slurmd binds them all)."""
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class MiniSlurm:
    """Start with ``start()``, stop with ``stop()``; ``env`` is the environment clients (sbatch, squeue) need."""

    def __init__(self, root: Path, cpus_per_node: int = 2, nodes: tuple[str, ...] = ("n1", "n2"),
                 grace_s: int = 300):
        self.root, self.cpus, self.nodes, self.grace_s = Path(root), cpus_per_node, nodes, grace_s
        self.procs: list[subprocess.Popen] = []
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def _write_conf(self) -> None:
        host = socket.gethostname()
        r = self.root
        lines = [
            f"ClusterName=tcd{os.getpid()}",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={r / 'munge' / 'munge.socket'}",
            "SlurmUser=root", "SlurmdUser=root",
            f"StateSaveLocation={r / 'state'}", f"SlurmdSpoolDir={r / 'spool'}/%n",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}", f"SlurmdPidFile={r / 'slurmd'}.%n.pid",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={r / 'log'}/slurmd.%n.log",
            # No systemd or cgroup delegation in a container: track job processes by parentage.
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SchedulerType=sched/backfill", "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
            "SlurmdParameters=config_overrides",  # both slurmd share one machine: trust the declared CPUs
            "ReturnToService=2", "JobRequeue=1", "MpiDefault=none", "KillWait=10",
            "MinJobAge=3600",  # keep finished jobs visible to `scontrol show job` (no accounting database)
            "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        ]
        for n in self.nodes:
            lines.append(f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={free_port()} "
                         f"CPUs={self.cpus} RealMemory=8000 State=UNKNOWN")
        nodes = ",".join(self.nodes)
        # Preemption as sites set it up for requeueable jobs: a job in `urgent` preempts jobs in `debug`. Slurm 22.05
        # SIGTERMs the preempted job's steps at once and gives the batch script GraceTime seconds.
        lines += ["PreemptType=preempt/partition_prio", "PreemptMode=REQUEUE"]
        lines.append(f"PartitionName=debug Nodes={nodes} Default=YES MaxTime=INFINITE State=UP PriorityTier=1 "
                     f"PreemptMode=REQUEUE GraceTime={self.grace_s}")
        lines.append(f"PartitionName=urgent Nodes={nodes} MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF")
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 60) -> MiniSlurm:
        """Start munged, slurmctld and the slurmd nodes; wait until every node is idle (stops all on failure)."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> MiniSlurm:
        r = self.root
        for d in ("munge", "state", "spool", "log"):
            (r / d).mkdir(parents=True, exist_ok=True)
        for n in self.nodes:
            (r / "spool" / n).mkdir(exist_ok=True)
        (r / "munge").chmod(0o700)
        key = r / "munge" / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}", "--force"], check=True, capture_output=True)
        key.chmod(0o600)
        # --force: munged refuses to run as root otherwise; -F keeps it in the foreground so we own its pid.
        self._spawn(["munged", "-F", "--force", f"--socket={r / 'munge' / 'munge.socket'}", f"--key-file={key}",
                     f"--log-file={r / 'log' / 'munged.log'}", f"--pid-file={r / 'munge' / 'munged.pid'}",
                     f"--seed-file={r / 'munge' / 'munged.seed'}"], "munged")
        self._wait(lambda: (r / "munge" / "munge.socket").exists(), 10, "munged socket")
        self._write_conf()
        self._spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld")
        for n in self.nodes:
            self._spawn(["slurmd", "-D", "-N", n, "-f", str(self.conf)], f"slurmd.{n}")
        self._wait(self._all_idle, timeout, f"nodes {self.nodes} idle in sinfo")
        return self

    def _spawn(self, cmd: list[str], name: str) -> None:
        out = open(self.root / "log" / f"{name}.stdout", "w")  # noqa: SIM115 (closed with the process)
        self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                           start_new_session=True))

    def _all_idle(self) -> bool:
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with {p.returncode}; logs in {self.root / 'log'}")
        out = self.run(["sinfo", "-h", "-N", "-o", "%N %t"], check=False).stdout.split()
        states = dict(zip(out[::2], out[1::2], strict=False))
        return all(states.get(n) == "idle" for n in self.nodes)

    def _wait(self, cond, timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        while not cond():
            if time.time() > deadline:
                raise RuntimeError(f"timed out after {timeout}s waiting for {what}; logs in {self.root / 'log'}")
            time.sleep(0.5)

    def run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster."""
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=check)

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, Restarts, ExitCode, ...)."""
        out = self.run(["scontrol", "show", "job", "-o", job_id]).stdout
        return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)

    def stop(self) -> None:
        """Cancel the jobs still running (their steps outlive slurmd), then stop the daemons (slurmd, slurmctld,
        munged), the most recently started first."""
        if self.procs and all(p.poll() is None for p in self.procs):
            self.run(["scancel", f"--user={os.getuid()}"], check=False)
            deadline = time.time() + 60
            while self.run(["squeue", "-h"], check=False).stdout.strip() and time.time() < deadline:
                time.sleep(1)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs.clear()
