"""Starting or joining the Ray cluster: shared by training (``train/ray_job.py``), sharded evaluation
(``ray_eval.py``) and sweep trials (``sweep.py``), so none of them depends on another for it. Imports nothing of the
project's."""

from __future__ import annotations

import os
import signal

# Set before Ray starts so workers inherit them: no per-line print patching, fast SIGTERM shutdown.
RAY_ENV = {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


def init_ray(cluster: dict, temp_dir: str | None = None) -> None:
    """Join ``cluster.address``, or start a local cluster when it is null (never attach to a stray one)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.update(RAY_ENV)
    term = signal.getsignal(signal.SIGTERM)
    if cluster["address"]:
        ray.init(address=cluster["address"], log_to_driver=True)
    else:
        ray.init(address="local", num_cpus=cluster["local_num_cpus"], include_dashboard=False,
                 _temp_dir=temp_dir, log_to_driver=True)
    # ray.init gives a driver a SIGTERM handler that exits at once; a handler the caller had installed (preempt.py's
    # "checkpoint at the next step, then stop") is put back.
    if callable(term) and signal.getsignal(signal.SIGTERM) is not term:
        try:
            signal.signal(signal.SIGTERM, term)
        except ValueError:  # not the main thread (a sweep trial's Ray task): nothing was installed there
            pass
