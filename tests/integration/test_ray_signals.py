"""The driver's SIGTERM after Ray starts: ``ray.init`` installs a handler that exits the driver at once, which would
turn a TERM (``kill``, an operator, a scheduler) into a crash instead of "checkpoint at the next step, then stop"."""

from __future__ import annotations

import os
import signal
import time

import pytest

pytestmark = pytest.mark.integration


def test_sigterm_still_requests_a_checkpointed_stop_after_ray_starts():
    import ray

    from toolcall_dist import preempt
    from toolcall_dist.ray_cluster import init_ray

    ray.shutdown()
    previous = preempt.install()
    try:
        init_ray({"address": None, "local_num_cpus": 1})
        assert signal.getsignal(signal.SIGTERM) == preempt.request
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.time() + 5
        while not preempt.requested() and time.time() < deadline:
            time.sleep(0.01)
        assert preempt.requested()
    finally:
        ray.shutdown()
        preempt.restore(previous)
