"""Start one Ray node inside a Slurm step, and the small helpers the sbatch template needs.

``python -m launch.ray_node ip|port`` prints this node's address / a free TCP port;
``... head --ip IP --port P`` and ``... worker --address IP:P`` run ``ray start --block`` with every port chosen free
on this node (two Ray nodes may share a machine: a test cluster, or two jobs on one big node), the dashboard and job
server bound to the node's internal address, and a temp dir of its own;
``... wait --address IP:P --nodes N --timeout S`` returns once N nodes are alive, or fails naming how many joined.
With ``--term-notice FILE`` a node outlives the SIGTERM Slurm sends on preemption (``start``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def node_ip() -> str:
    """The address other nodes reach this one at (Ray's own choice, so it matches what the raylet registers)."""
    from ray._private.services import get_node_ip_address

    return get_node_ip_address()


def free_port(host: str = "") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ray_start_args(role: str, ip: str, num_cpus: int, num_gpus: int, temp_dir: str, port: int | None = None,
                   address: str | None = None, dashboard_port: int | None = None) -> list[str]:
    """The ``ray start`` arguments for a head or worker node (pure apart from picking free ports)."""
    args = ["start", "--block", f"--node-ip-address={ip}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
            f"--temp-dir={temp_dir}", "--disable-usage-stats",
            f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}"]
    if role == "head":
        # The dashboard also serves the job submission API: bind it to the internal address, never 0.0.0.0.
        args += ["--head", f"--port={port}", "--include-dashboard=true", f"--dashboard-host={ip}",
                 f"--dashboard-port={dashboard_port or free_port()}"]
    else:
        args += [f"--address={address}"]
    return args


STARTUP_S = 180  # a `ray start` that fails within this long failed to start (rather than dying later)


def spawn_shielded(cmd: list[str]) -> subprocess.Popen:
    """Start ``cmd`` with SIGTERM blocked: it and every process it starts (raylet, agents, Ray workers: a blocked
    signal stays blocked across fork and exec) keep running through a SIGTERM sent to all of them. SIGKILL still
    stops them, as do the other signals."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        return subprocess.Popen(cmd)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_notice(path: str, signum: int) -> None:
    """Record that this node was told to stop: the batch script's driver supervisor (``launch.driver``) reads it."""
    notice = {"host": socket.gethostname(), "pid": os.getpid(), "signal": signal.Signals(signum).name,
              "at": time.time()}
    tmp = Path(f"{path}.{socket.gethostname()}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(notice))
    os.replace(tmp, path)


def start(args) -> None:
    """Run ``ray start --block`` for this node until it is told to stop (INT, or TERM without ``--term-notice``,
    forwarded to it). A worker node whose start fails is started again, up to ``--attempts`` times: on a loaded
    machine a raylet can miss Ray's fixed 30 s registration deadline.

    With ``--term-notice FILE`` a SIGTERM does not stop the node: Slurm sends one to every process of every job step
    the moment it preempts the job, and a Ray node that stopped then would take the training down before the driver
    could checkpoint. Instead the node writes FILE (on the filesystem the job shares) and runs on, its Ray processes
    shielded from SIGTERM (``spawn_shielded``), until the job stops it after the checkpoint (the batch script's
    cleanup, through srun) or Slurm's grace time ends with SIGKILL."""
    ray_bin = str(Path(sys.executable).with_name("ray"))
    state = {"child": None, "stopping": False}

    def forward(signum, frame):
        state["stopping"] = True
        if state["child"] is not None:
            state["child"].send_signal(signum)

    def notice(signum, frame):
        write_notice(args.term_notice, signum)
        print(f"[ray_node] {socket.gethostname()}: SIGTERM (Slurm preempting the job?); this Ray node keeps "
              f"running until the job stops it; notice written to {args.term_notice}", flush=True)

    signal.signal(signal.SIGTERM, notice if args.term_notice else forward)
    signal.signal(signal.SIGINT, forward)
    rc = 1
    for attempt in range(1, args.attempts + 1):
        # Ray puts unix sockets under the temp dir, whose paths must stay under ~107 characters: keep it short.
        temp_dir = tempfile.mkdtemp(prefix="ray.", dir=args.temp_root)
        ray_args = ray_start_args(args.role, args.ip or node_ip(), args.num_cpus, args.num_gpus, temp_dir,
                                  port=args.port, address=args.address, dashboard_port=args.dashboard_port)
        print(f"[ray_node] {socket.gethostname()} attempt {attempt}: ray {' '.join(ray_args)}", flush=True)
        t0 = time.time()
        cmd = [ray_bin, *ray_args]
        state["child"] = spawn_shielded(cmd) if args.term_notice else subprocess.Popen(cmd)
        rc = state["child"].wait()  # a handler that returns does not end the wait (PEP 475)
        if rc == 0 or state["stopping"] or time.time() - t0 > STARTUP_S:
            break
        print(f"[ray_node] ray start exited with {rc} while starting; trying again", flush=True)
    sys.exit(rc)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_nodes(address: str, nodes: int, timeout: float, watch: list[int] = (), record: str | None = None) -> int:
    """Block until ``nodes`` Ray nodes are alive at ``address``; SystemExit with a clear message after ``timeout``,
    or as soon as a process in ``watch`` (the srun steps running the Ray nodes) has exited. ``record``: a JSON file
    that gets the alive nodes (id, address, resources), for the job's record."""
    import ray

    deadline = time.time() + timeout
    alive, last_error = 0, None
    while time.time() < deadline:
        dead = [pid for pid in watch if not _alive(pid)]
        if dead:
            raise SystemExit(f"[ray_node] a Ray node's srun step (pid {dead}) exited before {nodes} nodes joined")
        try:
            if not ray.is_initialized():
                host, port = address.rsplit(":", 1)
                socket.create_connection((host, int(port)), timeout=2).close()  # fails fast while the head starts
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            up = [n for n in ray.nodes() if n["Alive"]]
            alive = len(up)
            if alive >= nodes:
                print(f"[ray_node] {alive} Ray nodes alive at {address}", flush=True)
                if record:
                    Path(record).write_text(json.dumps([{"node_id": n["NodeID"], "node_ip": n["NodeManagerAddress"],
                                                         "resources": n["Resources"]} for n in up], indent=1))
                ray.shutdown()
                return alive
        except (OSError, RuntimeError) as e:  # the head is still starting
            last_error = e
        time.sleep(2)
    ray.shutdown()
    raise SystemExit(f"[ray_node] only {alive} of {nodes} Ray nodes joined {address} within {timeout:.0f}s"
                     + (f" (last error: {last_error})" if last_error and not alive else ""))


def main(argv: list[str] | None = None) -> None:
    """Command line of the helpers (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m launch.ray_node")
    p.add_argument("--num-cpus", type=int, default=1)
    p.add_argument("--num-gpus", type=int, default=0)
    p.add_argument("--temp-root", default="/tmp")
    p.add_argument("--attempts", type=int, default=1, help="start attempts of a node whose start fails")
    p.add_argument("--term-notice", help="on SIGTERM write this file and keep the node running (see start())")
    sub = p.add_subparsers(dest="role", required=True)
    sub.add_parser("ip")
    sub.add_parser("port")
    head = sub.add_parser("head")
    head.add_argument("--ip")
    head.add_argument("--port", type=int, required=True)
    head.add_argument("--dashboard-port", type=int, help="dashboard and job API port (default: a free one)")
    worker = sub.add_parser("worker")
    worker.add_argument("--address", required=True)
    worker.add_argument("--ip")
    worker.set_defaults(dashboard_port=None)
    wait = sub.add_parser("wait")
    wait.add_argument("--address", required=True)
    wait.add_argument("--nodes", type=int, required=True)
    wait.add_argument("--timeout", type=float, default=300)
    wait.add_argument("--record", help="write the alive nodes here as JSON")
    wait.add_argument("--watch", type=int, nargs="*", default=[], help="pids whose exit means a node failed")
    args = p.parse_args(argv)
    if args.role == "ip":
        print(node_ip())
    elif args.role == "port":
        print(free_port())
    elif args.role == "wait":
        wait_for_nodes(args.address, args.nodes, args.timeout, args.watch, args.record)
    else:
        if args.role == "head":
            args.address = None
        else:
            args.port = None
        start(args)


if __name__ == "__main__":
    main()
