"""The ``cluster`` group: the Ray cluster, its workers, checkpoints and failure handling."""

from __future__ import annotations

import math
from dataclasses import dataclass

from toolcall_dist.schema.checks import check


@dataclass
class ClusterConfig:
    address: str | None = None  # null: start a local Ray cluster; "auto" or "ray://..." to join one
    num_workers: int = 2
    use_gpu: bool = False
    cpus_per_worker: int = 1
    local_num_cpus: int | None = None  # CPUs of the local cluster (null: all of this machine's)
    storage_path: str | None = None  # shared filesystem for checkpoints (null: <stages_dir>/ray)
    checkpoint_steps: int = 50  # optimizer steps between checkpoints (0: only when a stop is requested)
    num_to_keep: int = 2  # checkpoints kept in storage per training stage
    max_failures: int = 0  # worker-group restarts (from the last checkpoint) before the stage fails
    placement_strategy: str = "PACK"  # Ray placement group: PACK fills a node first, SPREAD one worker per node
    # Seconds to wait for the Ray head at cluster.address to accept a TCP connection before giving up (preflight).
    connect_timeout_s: float = 10.0
    # Seconds between Ray Train's polls of its workers (RAY_TRAIN_HEALTH_CHECK_INTERVAL_S, Ray's default 2): a
    # finished or failed worker group is noticed after at most this long; at 2 s a fit() returned ~4 s after its
    # last step, at 0.25 s under 1 s (benchmarks/train_throughput.py).
    poll_interval_s: float = 0.25
    # Seconds a training stage waits for Ray nodes when the alive ones could not hold its workers even if idle (a
    # node was lost and not replaced); then it fails naming the missing resources. A busy cluster does not count:
    # its trainings queue without limit (train/node_wait.py).
    node_wait_s: float = 300.0

    def __post_init__(self) -> None:
        check(self.num_workers >= 1, "cluster.num_workers", f"must be >= 1, got {self.num_workers}")
        check(self.cpus_per_worker >= 1, "cluster.cpus_per_worker", "must be >= 1")
        check(math.isfinite(self.connect_timeout_s) and self.connect_timeout_s > 0, "cluster.connect_timeout_s",
              f"must be a finite number > 0, got {self.connect_timeout_s}")
        check(math.isfinite(self.poll_interval_s) and self.poll_interval_s > 0, "cluster.poll_interval_s",
              f"must be a finite number > 0, got {self.poll_interval_s}")
        check(math.isfinite(self.node_wait_s) and self.node_wait_s >= 0, "cluster.node_wait_s",
              f"must be a finite number >= 0, got {self.node_wait_s}")
        check(self.checkpoint_steps >= 0, "cluster.checkpoint_steps", f"must be >= 0, got {self.checkpoint_steps}")
        check(self.num_to_keep >= 1, "cluster.num_to_keep", f"must be >= 1, got {self.num_to_keep}")
        check(self.max_failures >= -1, "cluster.max_failures", "must be >= 0, or -1 for unlimited")
        check(self.placement_strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"),
              "cluster.placement_strategy", f"unknown Ray placement strategy {self.placement_strategy!r}")
