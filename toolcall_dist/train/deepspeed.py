"""DeepSpeed wiring: the config dict, built in one place from the experiment config, and the facts of the engine that
ran."""

from __future__ import annotations


def deepspeed_config(ds: dict, train: dict, accum: int, use_gpu: bool) -> dict | None:
    """ZeRO config for HF/TRL trainers, or None when ``ds.stage`` is 0 (plain DDP).

    ``accum`` comes from ``config.grad_accum_steps`` (micro x accumulation x world = global), computed once.
    """
    if ds["stage"] == 0:
        return None
    if not isinstance(train["bf16"], bool):  # "auto" is resolved in the worker, on the hardware that trains
        raise ValueError(f"deepspeed_config: bf16 must be resolved to true or false first, got {train['bf16']!r}")
    zero: dict = {"stage": ds["stage"], "contiguous_gradients": True, "overlap_comm": use_gpu,
                  "reduce_bucket_size": ds["bucket_size"], "allgather_bucket_size": ds["bucket_size"]}
    if ds["stage"] == 3:
        # Write one consolidated 16-bit state dict on save so the next stage loads a plain HF directory.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    if ds["offload_optimizer"]:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": use_gpu}
    if ds["offload_params"]:
        zero["offload_param"] = {"device": "cpu", "pin_memory": use_gpu}
    return {
        "train_micro_batch_size_per_gpu": train["micro_batch_size"],
        "gradient_accumulation_steps": accum,
        "train_batch_size": train["global_batch_size"],
        "gradient_clipping": 1.0,
        "zero_optimization": zero,
        "bf16": {"enabled": train["bf16"]},
        # Offload with torch's AdamW instead of JIT-compiling DeepSpeedCPUAdam (minutes on a CPU machine).
        "zero_force_ds_cpu_optimizer": False,
        "steps_per_print": 10**9,
    }


def engine_facts(trainer, world_size: int) -> dict:
    """What actually trained, read from a built trainer: the engine wrapping the model (``DeepSpeedEngine`` when
    DeepSpeed is on), its ZeRO stage, the dtype the model computes in and the dtype of the weights the optimizer
    updates (the fp32 master copy under bf16), the optimizer classes, the world size, and for DPO what served as the
    reference: ``adapter_disabled`` (LoRA), ``precomputed`` log-probs, or the reference model's wrapper class."""
    import torch.distributed as dist

    engine = trainer.model_wrapped
    ds = trainer.is_deepspeed_enabled
    outer = engine.optimizer if ds else trainer.optimizer
    inner = getattr(outer, "optimizer", outer)  # the torch optimizer inside DeepSpeed's or accelerate's wrapper
    facts = {
        "engine": type(engine).__name__,
        "zero_stage": engine.zero_optimization_stage() if ds else None,
        "world_size": world_size,
        "backend": dist.get_backend() if dist.is_initialized() else None,  # gloo on CPUs, nccl on GPUs
        "compute_dtype": str(next(p for p in engine.parameters() if p.requires_grad).dtype).removeprefix("torch."),
        "master_dtype": str(_master_dtype(outer, inner)).removeprefix("torch."),
        "optimizer": type(outer).__name__,
        "torch_optimizer": type(inner).__name__,
    }
    if hasattr(trainer, "ref_model"):  # DPO
        ref = trainer.ref_model
        facts["reference"] = ("precomputed" if trainer.args.precompute_ref_log_probs else
                              type(ref).__name__ if ref is not None else "adapter_disabled")
    return facts


def _master_dtype(outer, inner):
    """The dtype of the weights the optimizer steps on: ZeRO's flat partitions (ZeRO-3 hands them to the torch
    optimizer only around each step), else the torch optimizer's own parameters."""
    for attr in ("fp32_partitioned_groups_flat", "single_partition_of_fp32_groups"):  # ZeRO-3, ZeRO-1/2
        if flats := getattr(outer, attr, None):
            return flats[0].dtype
    return next(p for group in inner.param_groups for p in group["params"]).dtype
