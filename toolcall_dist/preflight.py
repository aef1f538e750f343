"""Checks that run before any stage: each problem a run would otherwise meet minutes (or a queue wait) later, deep
inside Ray or a trainer, stops it here with one clear error naming the config key, within a bounded wait.

- output_dir, stages_dir and cluster.storage_path must be writable (a file is created and removed in each);
- cluster.address (when joining a cluster that training will use) must accept a TCP connection within
  cluster.connect_timeout_s;
- sft.bf16 / dpo.bf16 set to true must find native bf16 on this machine when the cluster is a local one;
- data.sources files must exist and hold something; data.bfcl_data_dir (leakage check) and eval.bfcl_data_dir
  (when eval.categories names BFCL categories) must exist, and those categories must load completely.

``wait_for_nodes`` is the bounded wait for a Ray cluster to reach its expected size; the Slurm scripts call it
(``python -m toolcall_dist.preflight wait-nodes --address HOST:PORT --nodes N --timeout S``) before starting a run.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from toolcall_dist.config import ConfigError

DEFAULT_RAY_PORT = 6379


class PreflightError(ConfigError):
    """A problem found before any stage ran; the message names the config key (or the command-line option)."""


def check_writable(path: str | Path, key: str) -> Path:
    """Create ``path`` if needed and prove a file can be written there; PreflightError naming ``key`` otherwise."""
    p = Path(path).expanduser().absolute()
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".preflight-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PreflightError(f"{key}: {str(p)!r} is not writable ({e.strerror or e})") from None
    return p


def _ray_current_cluster() -> str | None:
    # where `ray start --head` records its address on this machine (what ray.init(address="auto") reads)
    path = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def head_endpoint(address: str, key: str = "cluster.address") -> tuple[str, int]:
    """``(host, port)`` of a Ray address: ``host:port``, ``ray://host:port`` (client server), or ``auto``
    (``RAY_ADDRESS``, else the cluster started on this machine)."""
    addr = address
    if addr == "auto":
        addr = os.environ.get("RAY_ADDRESS") or _ray_current_cluster() or ""
        if not addr or addr == "auto":
            raise PreflightError(f"{key}: 'auto' but no Ray cluster is recorded on this machine and RAY_ADDRESS "
                                 "is unset; start one (ray start --head) or give host:port")
    if "://" in addr:
        scheme, addr = addr.split("://", 1)
        if scheme not in ("ray", "http", "https"):
            raise PreflightError(f"{key}: unsupported scheme {scheme!r} in {address!r}")
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = addr, str(DEFAULT_RAY_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PreflightError(f"{key}: {address!r} is not host:port")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout_s: float, key: str = "cluster.address") -> tuple[str, int]:
    """A TCP connection to the Ray head of ``address`` succeeds within ``timeout_s`` seconds (retried while the
    head may still be starting); PreflightError naming ``key`` otherwise."""
    host, port = head_endpoint(address, key)
    deadline = time.monotonic() + timeout_s
    last: OSError | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            with socket.create_connection((host, port), timeout=min(left, 5.0)):
                return host, port
        except OSError as e:  # refused, unreachable, timed out, unknown host
            last = e
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
    raise PreflightError(f"{key}: Ray head {host}:{port} did not accept a connection within {timeout_s:g} s "
                         f"({last}); is the cluster up, and is this the head's internal address?")


def wait_for_nodes(address: str, nodes: int, timeout_s: float, poll_s: float = 2.0) -> int:
    """Wait until the Ray cluster at ``address`` has ``nodes`` alive nodes; returns the count, or raises
    PreflightError after ``timeout_s`` naming how many joined. The head must answer first (bounded too)."""
    check_reachable(address, min(timeout_s, 30.0), key="--address")
    import ray

    deadline = time.monotonic() + timeout_s
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        while True:
            alive = sum(1 for n in ray.nodes() if n.get("Alive"))
            if alive >= nodes:
                return alive
            if time.monotonic() >= deadline:
                raise PreflightError(f"--nodes: only {alive} of {nodes} Ray nodes joined {address} within "
                                     f"{timeout_s:g} s; check the worker nodes' logs (ray start --address ...)")
            time.sleep(poll_s)
    finally:
        ray.shutdown()


def _check_sources(data: dict) -> None:
    for i, src in enumerate(data["sources"]):
        path = src["path"]
        if path is None:
            continue  # a hub name: read by the data stage where a hub is reachable
        p = Path(path).expanduser()
        key = f"data.sources[{i}].path"
        if not p.is_file():
            if src["hub"] is None:
                raise PreflightError(f"{key}: no such file {str(p)!r} (and no data.sources[{i}].hub to fall back on)")
            continue
        if p.stat().st_size == 0:
            raise PreflightError(f"{key}: {str(p)!r} is empty")


def _check_bfcl(cfg: dict, pending: set[str]) -> None:
    from toolcall_dist.eval.bfcl import BFCLDataError, load_category

    d = cfg["data"]
    if "data" in pending and d["leakage_check"] and d["bfcl_data_dir"] is not None:
        root = Path(d["bfcl_data_dir"]).expanduser()
        if not root.is_dir():
            raise PreflightError(f"data.bfcl_data_dir: {str(root)!r} does not exist (the leakage check reads BFCL's "
                                 "files there; null uses the installed bfcl-eval package)")
        if not any(root.glob("BFCL_v4_*.json")):
            raise PreflightError(f"data.bfcl_data_dir: {str(root)!r} holds no BFCL_v4_*.json question files")
    e = cfg["eval"]
    if "eval" in pending:
        # BFCL's own categories, every entry read now: a gap found after training would waste the run
        for cat in e["categories"]:
            try:
                load_category(cat, data_dir=e["bfcl_data_dir"])
            except BFCLDataError as err:
                raise PreflightError(f"eval.bfcl_data_dir: {err}") from None


def _check_bf16(cfg: dict, pending: set[str]) -> None:
    from toolcall_dist.hardware import hardware_has_bf16, resolve_bf16

    use_gpu = cfg["cluster"]["use_gpu"]
    for stage in sorted(pending & {"sft", "dpo"}):
        if cfg[stage]["bf16"] is True:  # auto and false need no look at the hardware
            try:
                resolve_bf16(True, use_gpu, hardware_has_bf16(use_gpu), f"{stage}.bf16")
            except ConfigError as e:
                raise PreflightError(str(e)) from None


def check(cfg: dict, pending: set[str]) -> None:
    """Every preflight check for the resolved config ``cfg``, given the stages that will run (``pending``: not
    found finished in the cache); the Ray head is only contacted when a training stage is among them."""
    check_writable(cfg["output_dir"], "output_dir")
    check_writable(cfg["stages_dir"], "stages_dir")
    cluster = cfg["cluster"]
    if pending & {"sft", "dpo"}:
        check_writable(cluster["storage_path"] or Path(cfg["stages_dir"]) / "ray", "cluster.storage_path")
        if cluster["address"]:
            check_reachable(cluster["address"], cluster["connect_timeout_s"])
        else:  # a local cluster trains on this machine: bf16 asked for must exist here (workers check remote ones)
            _check_bf16(cfg, pending)
    if "data" in pending:
        _check_sources(cfg["data"])
    _check_bfcl(cfg, pending)


def main(argv: list[str] | None = None) -> int:
    """``wait-nodes``: exit 0 once the cluster has the nodes, 3 with one line on stderr otherwise."""
    parser = argparse.ArgumentParser(prog="python -m toolcall_dist.preflight")
    sub = parser.add_subparsers(dest="cmd", required=True)
    wait = sub.add_parser("wait-nodes", help="wait (bounded) until a Ray cluster has N alive nodes")
    wait.add_argument("--address", required=True, help="the Ray head's host:port (its internal address)")
    wait.add_argument("--nodes", type=int, required=True)
    wait.add_argument("--timeout", type=float, default=300.0, help="seconds to wait in all")
    args = parser.parse_args(argv)
    try:
        alive = wait_for_nodes(args.address, args.nodes, args.timeout)
    except PreflightError as e:
        print(f"toolcall_dist preflight: {e}", file=sys.stderr)
        return 3
    print(f"toolcall_dist preflight: {alive} Ray nodes alive at {args.address}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
