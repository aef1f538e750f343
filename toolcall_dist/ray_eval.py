"""The evaluation's distributed part: generation split across the Ray cluster, one Ray task per shard.

BFCL's multi-turn entries shard by entry instead (``multi_turn_sharded``): a conversation needs its model at every
step, so each task loads the model once and talks its share of the entries through (``eval.multi_turn.run``).

The driver plans the batches (``eval.generate.plan``); shards take whole batches round-robin (the plan is sorted by
prompt length, so round-robin gives each shard a similar mix of short and long prompts), and every task loads the
model once and runs the same backend code as an unsharded run, so each prompt is generated in the same batch either
way. A task asks for one GPU where ``cluster.use_gpu`` is set, else ``cluster.cpus_per_worker`` CPUs, so the eval's
time falls as the cluster grows. Ray is started or joined through ``ray_cluster.init_ray``, like the training jobs.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)


def shard_batches(batches: list[list[int]], num_shards: int) -> list[list[list[int]]]:
    """Whole batches dealt round-robin to at most ``num_shards`` non-empty shards."""
    return [s for s in (batches[k::num_shards] for k in range(num_shards)) if s]


def _remote(cluster: dict, fn):
    """``fn`` as a Ray task on the cluster (started or joined here), asking for one GPU where ``cluster.use_gpu`` is
    set, else ``cluster.cpus_per_worker`` CPUs."""
    import ray

    from toolcall_dist.ray_cluster import init_ray

    init_ray(cluster)
    options: dict = {"num_gpus": 1} if cluster["use_gpu"] else {"num_cpus": cluster["cpus_per_worker"]}
    # Ray tasks start in a fresh process; make the driver's import path theirs (a checkout not installed as the
    # package, a worktree) so they import the same toolcall_dist.
    if os.environ.get("PYTHONPATH"):
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}}
    return ray.remote(fn).options(**options)


def _run_shard(spec: dict, prompts: dict[int, str], batches: list[list[int]]) -> dict:
    """One Ray task: generate a shard; report where it ran (for the eval's record of the cluster it used)."""
    import socket

    import ray

    from toolcall_dist.eval.backends import run

    t0 = time.time()
    texts = run(spec, prompts, batches)
    return {"texts": texts, "host": socket.gethostname(), "pid": os.getpid(), "seconds": round(time.time() - t0, 2),
            "prompts": len(prompts), "gpus": [str(g) for g in ray.get_gpu_ids()]}


def generate_sharded(cluster: dict, num_shards: int, spec: dict, prompts: dict[int, str],
                     batches: list[list[int]], workers: list[dict] | None = None) -> dict[int, str]:
    """``backends.run`` over ``num_shards`` Ray tasks; the same ``{index: text}`` an unsharded run returns.

    ``workers``, when given, receives one ``{"host", "pid", "seconds", "prompts", "gpus"}`` record per task (``gpus``:
    the GPU ids Ray gave it).
    """
    import ray

    task = _remote(cluster, _run_shard)
    refs = [task.remote(spec, {i: prompts[i] for batch in shard for i in batch}, shard)
            for shard in shard_batches(batches, num_shards)]
    log.info("[%s] %d prompts in %d Ray task(s)", spec.get("label", ""), len(prompts), len(refs))
    texts: dict[int, str] = {}
    for part in ray.get(refs):
        texts.update(part.pop("texts"))
        if workers is not None:
            workers.append(part)
    return texts


def _run_multi_turn_shard(spec: dict, entries: list[dict], opts: dict) -> dict:
    """One Ray task: drive a share of the multi-turn entries; report where it ran."""
    import socket

    import ray

    from toolcall_dist.eval.multi_turn import run

    t0 = time.time()
    rows = run(spec, entries, opts)
    return {"rows": rows, "host": socket.gethostname(), "pid": os.getpid(), "seconds": round(time.time() - t0, 2),
            "prompts": len(entries), "gpus": [str(g) for g in ray.get_gpu_ids()], "multi_turn": True}


def multi_turn_sharded(cluster: dict, num_shards: int, spec: dict, entries: list[dict], opts: dict,
                       workers: list[dict] | None = None) -> list[dict]:
    """``multi_turn.run`` over up to ``num_shards`` Ray tasks, entries dealt round-robin; rows in entry order."""
    import ray

    task = _remote(cluster, _run_multi_turn_shard)
    shards = [entries[k::num_shards] for k in range(num_shards) if entries[k::num_shards]]
    refs = [task.remote(spec, shard, opts) for shard in shards]
    log.info("[%s] %d multi-turn entries in %d Ray task(s)", spec.get("label", ""), len(entries), len(refs))
    by_id = {}
    for part in ray.get(refs):
        by_id.update({row["id"]: row for row in part.pop("rows")})
        if workers is not None:
            workers.append(part)
    return [by_id[e["id"]] for e in entries]
