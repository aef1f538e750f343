"""The bounded wait for Ray nodes: which clusters could hold a worker group, and the wait's two ends."""

from __future__ import annotations

import time

import pytest

from toolcall_dist.train.node_wait import NodesMissing, fits, wait_for_nodes

pytestmark = pytest.mark.unit

CPU1 = {"CPU": 1.0}


@pytest.mark.parametrize(("nodes", "per_worker", "n", "strategy", "expected"), [
    ([{"CPU": 1.0}, {"CPU": 1.0}], CPU1, 2, "SPREAD", 2),
    ([{"CPU": 1.0}], CPU1, 2, "SPREAD", 1),  # the second node is gone
    ([{"CPU": 2.0}], CPU1, 2, "PACK", 2),
    ([{"CPU": 2.0}], CPU1, 2, "STRICT_SPREAD", 1),  # one node, however big, holds one worker under STRICT_SPREAD
    ([{"CPU": 1.0}, {"CPU": 1.0}], CPU1, 2, "STRICT_PACK", 1),  # no single node holds both
    ([{"CPU": 3.0}, {"CPU": 3.0}], {"CPU": 2.0}, 3, "PACK", 2),  # 1 CPU left over on each node is no worker
    ([{"CPU": 8.0, "GPU": 1.0}, {"CPU": 8.0}], {"CPU": 4.0, "GPU": 1.0}, 2, "PACK", 1),  # GPUs bind first
    ([], CPU1, 1, "PACK", 0),
])
def test_fits_counts_the_workers_the_alive_nodes_could_hold(nodes, per_worker, n, strategy, expected):
    assert fits(nodes, per_worker, n, strategy) == expected


def test_wait_returns_as_soon_as_a_node_joins():
    calls = []

    def nodes():
        calls.append(time.monotonic())
        return [{"CPU": 1.0}] if len(calls) < 3 else [{"CPU": 1.0}, {"CPU": 1.0}]

    wait_for_nodes("sft", CPU1, 2, "SPREAD", wait_s=30, nodes_fn=nodes, every=0.01)
    assert len(calls) == 3


def test_wait_ends_in_an_error_naming_the_missing_resources_and_the_key():
    t0 = time.monotonic()
    with pytest.raises(NodesMissing) as err:
        wait_for_nodes("dpo", {"CPU": 2.0, "GPU": 1.0}, 4, "PACK", wait_s=0.3,
                       nodes_fn=lambda: [{"CPU": 16.0, "GPU": 2.0}], every=0.01)
    assert 0.3 <= time.monotonic() - t0 < 5
    msg = str(err.value)
    assert msg.startswith("dpo: 4 workers x {CPU 2, GPU 1} (PACK)")
    assert "1 alive node: CPU 16, GPU 2 hold 2 of them" in msg and "cluster.node_wait_s=0.3 s" in msg


def test_zero_wait_fails_at_once_and_a_fitting_cluster_never_waits():
    with pytest.raises(NodesMissing):
        wait_for_nodes("sft", CPU1, 3, "PACK", wait_s=0, nodes_fn=lambda: [{"CPU": 2.0}], every=10)
    t0 = time.monotonic()
    wait_for_nodes("sft", CPU1, 2, "PACK", wait_s=0, nodes_fn=lambda: [{"CPU": 2.0}], every=10)
    assert time.monotonic() - t0 < 1
