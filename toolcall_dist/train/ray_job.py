"""Ray Train wiring: the only place (with deepspeed.py) that knows about processes, ranks and the cluster.

``fit(stage, c)`` runs ``train/<stage>.py``'s trainer on ``cluster.num_workers`` Ray workers (gloo on CPU, NCCL on
GPU) with the DeepSpeed config from ``deepspeed.py``. The config crosses the Ray boundary as a plain dict.

Checkpoints: every ``cluster.checkpoint_steps`` optimizer steps each worker saves an HF checkpoint (model, optimizer,
scheduler, RNG, DeepSpeed's ZeRO shards) in its own local directory and reports it to Ray, which merges the workers'
files into ``<storage_path>/<run_name>/checkpoint_*/checkpoint/`` and keeps ``cluster.num_to_keep`` of them. A
worker group that starts while such a checkpoint exists (a worker died and Ray restarted the group, or the whole job
was killed and the command run again with the same config, hence the same run name) resumes from it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path

from toolcall_dist import atomic, preempt
from toolcall_dist.train import node_wait, progress

log = logging.getLogger(__name__)

# Ray Train's seconds between polls of its workers; Ray Train passes it from the driver to the controller and workers.
POLL_ENV = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"
HF_CHECKPOINT_DIR = "checkpoint"  # the HF checkpoint's folder inside a Ray checkpoint (RayTrainReportCallback's)


def summary_metrics(history: list[dict]) -> dict:
    """The numeric values of a trainer's last log entry (its end-of-training summary)."""
    return {k: v for k, v in history[-1].items() if isinstance(v, (int, float))}


def fit(stage: str, c: dict) -> dict:
    """Train ``stage`` ("sft" or "dpo") with config dict ``c``; the model lands in ``c["model_out"]``.

    Returns ``{"metrics", "global_step", "resumed_from_step", "workers", "timing"}`` as rank 0 wrote them. Raises
    ``preempt.Preempted`` when a stop was requested and the workers stopped at a checkpoint instead of finishing.
    """
    from ray.train import CheckpointConfig, ControllerError, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.train.v2._internal.execution.callback import ControllerCallback

    called_at = time.time()  # a busy cluster shows as the wait from here to the workers' start
    cl = c["cluster"]
    stop_file = Path(c["trainer_dir"]) / preempt.STOP_FILE
    stop_file.parent.mkdir(parents=True, exist_ok=True)
    os.environ[POLL_ENV] = str(cl["poll_interval_s"])  # read by fit(), on a local cluster or a joined one
    per_worker = {"CPU": float(cl["cpus_per_worker"]), **({"GPU": 1.0} if cl["use_gpu"] else {})}
    nodes = type("NodeWaitCallback", (node_wait.NodeWait, ControllerCallback), {})(
        stage, per_worker, cl["placement_strategy"], cl["node_wait_s"])
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={**c, "stage": stage},
        torch_config=TorchConfig(backend="nccl" if cl["use_gpu"] else "gloo"),
        scaling_config=ScalingConfig(num_workers=cl["num_workers"], use_gpu=cl["use_gpu"],
                                     resources_per_worker={"CPU": cl["cpus_per_worker"]},
                                     placement_strategy=cl["placement_strategy"]),
        run_config=RunConfig(name=c["run_name"], storage_path=c["storage_path"],
                             failure_config=FailureConfig(max_failures=cl["max_failures"]),
                             checkpoint_config=CheckpointConfig(num_to_keep=cl["num_to_keep"]),
                             callbacks=[nodes]),
    )
    preempt.watch(stop_file)
    try:
        with progress.Watcher(stop_file.parent / progress.FILE, stage):  # the console's progress line
            trainer.fit()  # raises ray.train's error if the workers failed beyond cluster.max_failures
    except ControllerError as e:
        if isinstance(e.controller_failure, node_wait.NodesMissing):
            raise node_wait.NodesMissing(str(e.controller_failure)) from None
        raise
    finally:
        preempt.unwatch(stop_file)
    out = Path(c["model_out"])
    if not (out / "run_info.json").exists():
        if preempt.requested():
            raise preempt.Preempted(f"{stage} stopped at a checkpoint in {c['storage_path']}/{c['run_name']}")
        raise RuntimeError(f"{stage}: the workers returned without writing {out / 'run_info.json'}")
    info = json.loads((out / "run_info.json").read_text())
    t = info["timing"]
    # Ray Train's own start-up (seconds) plus any wait for the cluster's resources (a busy cluster, a lost node).
    t["fit_called_at"], t["fit_to_workers_s"] = called_at, t["worker_start_at"] - called_at
    log.info("[%s] workers started %.0f s after fit() (Ray Train's start-up and any wait for resources)", stage,
             t["fit_to_workers_s"])
    return info


def _worker_info(rank: int) -> dict:
    import ray

    poll = os.environ.get(POLL_ENV)  # as Ray Train handed it on from the driver
    return {"rank": rank, "node_id": ray.get_runtime_context().get_node_id(),
            "node_ip": ray.util.get_node_ip_address(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "poll_interval_s": float(poll) if poll else None}


class _StopOnRequest:
    """TrainerCallback: when the stage's stop file exists on any rank, save a checkpoint at this step and stop.

    The ranks agree through an all-reduce, so all of them save and stop at the same step (ZeRO saves are collective).
    """

    def __init__(self, stop_file: Path):
        self.stop_file, self.stopped = stop_file, False

    def on_step_end(self, args, state, control, **kwargs):
        import torch
        import torch.distributed as dist

        # On the training device: NCCL reduces GPU tensors only.
        flag = torch.tensor([1.0 if self.stop_file.exists() else 0.0], device=args.device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() > 0:
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        return control


class _CheckpointFiles:
    """TrainerCallback: the files of each checkpoint this worker saves (relative paths; DeepSpeed's ZeRO shards among
    them), listed before Ray copies the checkpoint to storage."""

    def __init__(self):
        self.saved: dict[int, list[str]] = {}

    def on_save(self, args, state, control, **kwargs):
        d = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.saved[state.global_step] = sorted(str(f.relative_to(d)) for f in d.rglob("*") if f.is_file())


def _callbacks(trainer_dir: Path, rank: int):
    from ray.train.huggingface.transformers import RayTrainReportCallback
    from transformers import TrainerCallback

    from toolcall_dist.train.common import StepTimes

    stop = type("StopOnRequest", (_StopOnRequest, TrainerCallback), {})(trainer_dir / preempt.STOP_FILE)
    timer = type("StepTimer", (StepTimes, TrainerCallback), {})()
    files = type("CheckpointFiles", (_CheckpointFiles, TrainerCallback), {})()
    shown = type("Progress", (progress.Progress, TrainerCallback), {})(trainer_dir / progress.FILE)
    return stop, timer, files, [stop, timer, files, *([shown] if rank == 0 else []), RayTrainReportCallback()]


def _worker_loop(c: dict) -> None:
    """Runs in every Ray worker: build the stage's TRL trainer, resume or train, save, and (rank 0) log and report."""
    started_at = time.time()
    import psutil
    import ray.train
    import torch
    import torch.distributed as dist

    from toolcall_dist import tracking
    from toolcall_dist.config import grad_accum_steps
    from toolcall_dist.hardware import hardware_has_bf16, resolve_bf16
    from toolcall_dist.train.deepspeed import deepspeed_config, engine_facts

    created_at = psutil.Process().create_time()  # when Ray started this worker's process, before Ray Train's setup
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    me = _worker_info(rank)
    # Where an operator (or a test) sees each worker's node, pid and resume point while the stage runs: replaced
    # whole, so a reader never sees it half written.
    worker_file = Path(c["trainer_dir"]) / "workers" / f"rank{rank}.json"
    worker_file.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(worker_file, me)
    if not c["cluster"]["use_gpu"]:
        torch.set_num_threads(c["cluster"]["cpus_per_worker"])
    stage = c["stage"]
    # bf16 resolved here, on the hardware that trains (a head node may have none of it); true where it is missing
    # stops the run with the key named, as preflight does for the driver's machine.
    bf16 = resolve_bf16(c[stage]["bf16"], c["cluster"]["use_gpu"], hardware_has_bf16(c["cluster"]["use_gpu"]),
                        f"{stage}.bf16")
    c = {**c, stage: {**c[stage], "bf16": bf16}}
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
    module = importlib.import_module(f"toolcall_dist.train.{stage}")
    # Each worker checkpoints into its own directory (its ZeRO shards, its RNG state); Ray merges them in storage.
    # Local checkpoints left by an earlier attempt (killed after saving, before Ray registered them) are removed:
    # HF would report its newest local checkpoint, which could be that stale one instead of the one just saved.
    local_dir = Path(c["trainer_dir"]) / f"rank{rank}"
    shutil.rmtree(local_dir, ignore_errors=True)
    local = {**c, "trainer_dir": str(local_dir)}
    trainer = module.build_trainer(local, ds_config, accum, [])  # report_to: none; W&B joins as a callback below
    built_at = time.time()
    stop, timer, files, callbacks = _callbacks(Path(c["trainer_dir"]), rank)
    if run is not None:  # W&B through transformers' callback, made to survive a W&B failure (tracking.py)
        callbacks.append(tracking.training_callback())
    for cb in callbacks:
        trainer.add_callback(cb)

    resumed_from = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        trainer.train()
    else:
        with checkpoint.as_directory() as d:
            hf_dir = Path(d) / HF_CHECKPOINT_DIR
            resumed_from = json.loads((hf_dir / "trainer_state.json").read_text())["global_step"]
            atomic.write_json(worker_file, {**me, "resumed_from_step": resumed_from})
            if rank == 0:
                log.warning("[%s] resuming from the checkpoint at step %d (%s)", stage, resumed_from, hf_dir)
            trainer.train(resume_from_checkpoint=str(hf_dir))

    if stop.stopped:  # preempted: the checkpoint is in storage; no final model, the stage is not done
        tracking.finish_run(run)
        ray.train.report({"preempted": 1.0})
        return
    out = Path(c["model_out"])
    trained_at = time.time()
    engine = engine_facts(trainer, world)
    _save(trainer, out, c, rank)  # every rank: ZeRO-3 gathers shards collectively
    workers = [None] * world
    dist.all_gather_object(workers, {**me, "checkpoint_files": files.saved})
    saved_at = time.time()
    metrics = {}
    if rank == 0:
        history = trainer.state.log_history
        (out / "log_history.json").write_text(json.dumps(history, indent=1))
        metrics = summary_metrics(history)
        info = {"metrics": metrics, "global_step": trainer.state.global_step, "resumed_from_step": resumed_from,
                "bf16": bf16, "engine": engine,
                "workers": workers, "timing": {"worker_created_at": created_at, "worker_start_at": started_at,
                                               "trainer_built_at": built_at, "trained_at": trained_at,
                                               "saved_at": saved_at, **timer.summary()}}
        atomic.write_json(out / "run_info.json", info, indent=1)  # written last, whole: the stage's "finished" mark
        tracking.finish_run(run)
    ray.train.report(metrics)


def _save(trainer, out: Path, c: dict, rank: int) -> None:
    """Save a plain HF directory the next stage loads (weights, tokenizer, chat template). With LoRA the adapter
    goes to ``adapter/`` and a merged copy to ``out``.

    For LoRA the full state is gathered from the engine (collective under ZeRO-3, whose parameters are shards), and
    what trained (the adapter, plus any added embedding rows) is applied on rank 0 to a fresh CPU copy of the input
    model, so merging never touches partitioned parameters and the frozen weights are the input's bit for bit (the
    engine's copies of them are bf16 roundings under DeepSpeed's bf16).
    """
    # Trained without a KV cache (see common.load_model); whoever loads the saved model generates with one.
    trainer.accelerator.unwrap_model(trainer.model).config.use_cache = True
    if c["peft"]["method"] == "none":
        trainer.save_model(str(out))
        return
    from peft import get_peft_model

    from toolcall_dist.train.common import apply_trained, load_model, new_token_rows, peft_config

    engine = trainer.model_wrapped if trainer.is_deepspeed_enabled else trainer.model
    state = trainer.accelerator.get_state_dict(engine)
    if rank != 0:
        return
    trainable = {n for n, p in trainer.accelerator.unwrap_model(trainer.model).named_parameters() if p.requires_grad}
    rows = new_token_rows(c, trainer.processing_class)
    if trainer.is_deepspeed_enabled:  # or from_pretrained below would partition again (a collective rank 0 runs alone)
        from transformers.integrations.deepspeed import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()
    base = load_model({**c, "model": {**c["model"], "attn_implementation": None}})  # merging runs no attention
    base.config.use_cache = True
    model = get_peft_model(base, peft_config(c["peft"], c["model"]["family"]))
    apply_trained(model, state, trainable, rows)
    model.save_pretrained(out / "adapter")
    model.merge_and_unload().save_pretrained(out)
    trainer.processing_class.save_pretrained(out)
