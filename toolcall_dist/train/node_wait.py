"""A bounded wait for Ray nodes before each worker group starts: a lost node that is never replaced ends in an error
naming the missing resources instead of a hang.

Ray Train retries a worker group it cannot place for as long as it likes (a start that times out is a retryable
controller error, without limit by default). That is what a busy cluster needs: a sweep's trainings queue for the
CPUs another training holds. It is wrong when the cluster's alive nodes could not hold the group even if idle,
because a node died and none replaced it. ``NodeWait`` (a Ray Train controller callback, so it runs in the
controller before every worker group start, the restart after a failure included) tells the two apart: it checks the
alive nodes' total resources against the group's demand, waits up to ``cluster.node_wait_s`` for nodes to join when
they fall short, and raises ``NodesMissing`` when the wait ends short. A busy but big-enough cluster passes at once.
"""

from __future__ import annotations

import logging
import math
import time

log = logging.getLogger(__name__)


class NodesMissing(RuntimeError):
    """The alive Ray nodes cannot hold the worker group, and no node joined within ``cluster.node_wait_s``."""


def fits(nodes: list[dict[str, float]], per_worker: dict[str, float], num_workers: int, strategy: str) -> int:
    """How many of ``num_workers`` workers (each needing ``per_worker``) the ``nodes`` (each node's total resources)
    could hold if idle, under Ray's placement ``strategy``. Pure: the caller supplies the nodes."""
    per_node = []
    for node in nodes:
        k = min((math.floor(node.get(r, 0.0) / need + 1e-9) for r, need in per_worker.items() if need > 0),
                default=num_workers)
        per_node.append(max(k, 0))
    if strategy == "STRICT_PACK":
        return min(max(per_node, default=0), num_workers)
    if strategy == "STRICT_SPREAD":
        return min(sum(1 for k in per_node if k > 0), num_workers)
    return min(sum(per_node), num_workers)


def describe(nodes: list[dict[str, float]], per_worker: dict[str, float]) -> str:
    """The alive nodes' totals of the resources a worker needs, e.g. ``1 alive node: CPU 1``."""
    totals = {r: sum(n.get(r, 0.0) for n in nodes) for r in per_worker}
    held = ", ".join(f"{r} {v:g}" for r, v in totals.items())
    return f"{len(nodes)} alive node{'s' if len(nodes) != 1 else ''}: {held or 'nothing'}"


def alive_nodes() -> list[dict[str, float]]:
    import ray

    return [dict(n["Resources"]) for n in ray.nodes() if n["Alive"]]


def wait_for_nodes(label: str, per_worker: dict[str, float], num_workers: int, strategy: str, wait_s: float,
                   nodes_fn=alive_nodes, every: float = 1.0) -> None:
    """Return once the alive nodes could hold the group; raise ``NodesMissing`` after ``wait_s`` seconds short."""
    started = time.monotonic()
    told = None
    while True:
        nodes = nodes_fn()
        placed = fits(nodes, per_worker, num_workers, strategy)
        if placed >= num_workers:
            if told is not None:
                log.warning("[%s] the cluster can hold the workers again (%s) after %.0f s", label,
                            describe(nodes, per_worker), time.monotonic() - started)
            return
        waited = time.monotonic() - started
        need = ", ".join(f"{r} {v:g}" for r, v in per_worker.items())
        if waited >= wait_s:
            raise NodesMissing(
                f"{label}: {num_workers} workers x {{{need}}} ({strategy}) do not fit the Ray cluster: "
                f"{describe(nodes, per_worker)} hold {placed} of them, and no node joined within "
                f"cluster.node_wait_s={wait_s:g} s. Add nodes with those resources, or lower cluster.num_workers.")
        if told is None or time.monotonic() - told >= 30:
            told = time.monotonic()
            log.warning("[%s] waiting up to %.0f s more for Ray nodes: %d workers x {%s} need more than %s",
                        label, wait_s - waited, num_workers, need, describe(nodes, per_worker))
        time.sleep(every)


class NodeWait:
    """Ray Train controller callback body (``ray_job`` mixes in Ray's ``ControllerCallback``)."""

    def __init__(self, label: str, per_worker: dict[str, float], strategy: str, wait_s: float):
        self.label, self.per_worker, self.strategy, self.wait_s = label, per_worker, strategy, wait_s

    def on_controller_start_worker_group(self, *, scaling_config, num_workers: int):
        wait_for_nodes(self.label, self.per_worker, num_workers, self.strategy, self.wait_s)
        return None  # no label selector: Ray places the group as the scaling config says
