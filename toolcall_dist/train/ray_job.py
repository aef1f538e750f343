"""Ray Train wiring: the only place (with deepspeed.py) that knows about processes, ranks and the cluster.

``fit(stage, c)`` runs ``train/<stage>.py``'s trainer on ``cluster.num_workers`` Ray workers (gloo on CPU, NCCL on
GPU) with the DeepSpeed config from ``deepspeed.py``. The config crosses the Ray boundary as a plain dict.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# Set before Ray starts so workers inherit them: no per-line print patching, fast SIGTERM shutdown.
RAY_ENV = {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


def init_ray(cluster: dict, temp_dir: str | None = None) -> None:
    """Join ``cluster.address``, or start a local cluster when it is null (never attach to a stray one)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.update(RAY_ENV)
    if cluster["address"]:
        ray.init(address=cluster["address"], log_to_driver=True)
    else:
        ray.init(address="local", num_cpus=cluster["local_num_cpus"], include_dashboard=False,
                 _temp_dir=temp_dir, log_to_driver=True)


def summary_metrics(history: list[dict]) -> dict:
    """The numeric values of a trainer's last log entry (its end-of-training summary)."""
    return {k: v for k, v in history[-1].items() if isinstance(v, (int, float))}


def fit(stage: str, c: dict) -> dict:
    """Train ``stage`` ("sft" or "dpo") with config dict ``c``; the model and its log history land in
    ``c["model_out"]``. Returns the summary metrics rank 0 wrote there."""
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    cl = c["cluster"]
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={**c, "stage": stage},
        torch_config=TorchConfig(backend="nccl" if cl["use_gpu"] else "gloo"),
        scaling_config=ScalingConfig(num_workers=cl["num_workers"], use_gpu=cl["use_gpu"],
                                     resources_per_worker={"CPU": cl["cpus_per_worker"]}),
        run_config=RunConfig(name=c["run_name"], storage_path=c["storage_path"],
                             failure_config=FailureConfig(max_failures=cl["max_failures"])),
    )
    trainer.fit()  # raises ray.train's error if the workers failed beyond cluster.max_failures
    return summary_metrics(json.loads((Path(c["model_out"]) / "log_history.json").read_text()))


def _worker_loop(c: dict) -> None:
    """Runs in every Ray worker: build the stage's TRL trainer, train, save, and (rank 0) log and report."""
    import ray.train
    import torch

    from toolcall_dist import tracking
    from toolcall_dist.config import grad_accum_steps
    from toolcall_dist.train.deepspeed import deepspeed_config

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    if not c["cluster"]["use_gpu"]:
        torch.set_num_threads(c["cluster"]["cpus_per_worker"])
    stage = c["stage"]
    train_cfg = c[stage]
    accum = grad_accum_steps(train_cfg["global_batch_size"], train_cfg["micro_batch_size"], world, stage)
    ds_config = deepspeed_config(c["deepspeed"], train_cfg, accum, c["cluster"]["use_gpu"])
    if ds_config:
        import deepspeed

        # deepspeed_shm_comm is only used for inference all-reduce; skip its ~95 s JIT build.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        if c["deepspeed"]["stage"] == 3:  # ZeRO-3 partitions at load time: the process group must exist first
            deepspeed.init_distributed(dist_backend="nccl" if c["cluster"]["use_gpu"] else "gloo")

    run = tracking.start_run(c["tracking"], stage=stage, name=c["name"], group=c["group"], config=c["resolved"],
                             wandb_dir=c["wandb_dir"]) if rank == 0 else None
    report_to = ["wandb"] if run is not None else []
    module = importlib.import_module(f"toolcall_dist.train.{stage}")
    trainer = module.build_trainer(c, ds_config, accum, report_to)
    trainer.train()

    out = Path(c["model_out"])
    _save(trainer, out, c["peft"]["method"] != "none")  # every rank: ZeRO-3 gathers shards collectively
    metrics = {}
    if rank == 0:
        history = trainer.state.log_history
        (out / "log_history.json").write_text(json.dumps(history, indent=1))
        metrics = summary_metrics(history)
        tracking.finish_run(run)
    ray.train.report(metrics)


def _save(trainer, out: Path, merge_lora: bool) -> None:
    """Save a plain HF directory the next stage loads; LoRA adapters are kept in ``adapter/`` and merged into the
    weights."""
    if merge_lora:
        if trainer.is_world_process_zero():
            trainer.model.save_pretrained(out / "adapter")
        merged = trainer.model.merge_and_unload()
        if trainer.is_world_process_zero():
            merged.save_pretrained(out)
            trainer.processing_class.save_pretrained(out)
        return
    trainer.save_model(str(out))
