"""The DeepSpeed config dict, built in one place from the experiment config."""

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
