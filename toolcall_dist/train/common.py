"""What SFT and DPO share inside a worker: model loading, PEFT config and the HF arguments common to both."""

from __future__ import annotations


def load_model(c: dict, dtype: str | None = None):
    """The model to train, from the worker config ``c`` (``model_dir``, ``dtype`` unless ``dtype`` is given;
    ``model.trust_remote_code`` and ``model.attn_implementation``, whose null keeps transformers' default). No KV
    cache in training: with one, transformers would not build the block-diagonal attention mask that keeps packed
    (padding-free) sequences from attending to each other."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(c["model_dir"], dtype=getattr(torch, dtype or c["dtype"]),
                                                 trust_remote_code=c["model"]["trust_remote_code"],
                                                 attn_implementation=c["model"]["attn_implementation"])
    model.config.use_cache = False
    return model


# LoRA targets per model family when ``peft.target_modules`` is null: every attention and MLP projection. Phi-3/4
# fuse q/k/v into ``qkv_proj`` and gate/up into ``gate_up_proj``; the others use the Llama names.
LLAMA_STYLE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LORA_TARGETS = {"qwen2_5": LLAMA_STYLE, "llama3": LLAMA_STYLE, "mistral": LLAMA_STYLE, "smollm2": LLAMA_STYLE,
                "phi4": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]}


def lora_targets(peft: dict, family: str) -> list[str]:
    """``peft.target_modules`` if set, else the family's default projections."""
    if peft["target_modules"]:
        return list(peft["target_modules"])
    if family not in LORA_TARGETS:
        raise ValueError(f"peft.target_modules: no default LoRA targets for family {family!r}; set them")
    return LORA_TARGETS[family]


def peft_config(peft: dict, family: str):
    """A LoRA config, or None for full fine-tuning."""
    if peft["method"] == "none":
        return None
    from peft import LoraConfig

    return LoraConfig(r=peft["r"], lora_alpha=peft["alpha"], lora_dropout=peft["dropout"],
                      target_modules=lora_targets(peft, family), task_type="CAUSAL_LM")


def new_token_rows(c: dict, tok) -> list[int]:
    """Embedding rows the worker config ``c``'s stage trains beside LoRA: the added tokens' in SFT (which merges
    them into the model it saves), none in DPO, whose adapter-disabled reference must stay the SFT model."""
    if c["stage"] != "sft" or not c["added_tokens"] or c["peft"]["method"] == "none":
        return []
    return tok.convert_tokens_to_ids(c["added_tokens"])


def with_lora_and_new_rows(model, peft: dict, family: str, rows: list[int]):
    """``model`` with LoRA adapters whose embedding rows ``rows`` (tokens the base stage added) train as well.

    LoRA alone would leave the added delimiters frozen at their initial embedding. The embedding matrix is made
    trainable with a gradient hook that zeroes every other row, so only the new rows move (with Adam and no weight
    decay, a row whose gradient is always zero stays exactly where it was). With tied embeddings this also trains the
    same rows of the output head. The matrix is kept in fp32 (master weights) when the rest of the base is loaded in
    bf16. PEFT's own trainable tokens would keep only the rows as parameters, but they wrap the output head in a
    module that TRL's fused LM-head loss cannot read (it takes ``lm_head.weight`` directly); the full-matrix AdamW
    update costs ~1% of a SmolLM2-135M step (docs/performance.md).
    """
    import torch
    from peft import get_peft_model

    model = get_peft_model(model, peft_config(peft, family))
    weight = model.get_input_embeddings().weight
    weight.data = weight.data.float()  # tied: the output head is the same parameter
    keep = torch.zeros(weight.shape[0], 1, dtype=weight.dtype)
    keep[rows] = 1.0
    weight.requires_grad_(True)
    weight.register_hook(lambda grad: grad * keep.to(grad.device, grad.dtype))
    return model


def apply_trained(model, state: dict, trainable: set[str], rows: list[int]) -> None:
    """Load into ``model`` (a fresh LoRA copy of the stage's input) what training moved: the entries of the trained
    ``state`` named in ``trainable``, and of a trainable embedding only its ``rows`` (the added tokens', see
    ``with_lora_and_new_rows``). Every other weight keeps the input's value exactly, whatever precision the engine
    held it in. A trained name the model lacks is an error."""
    import torch

    params = dict(model.named_parameters())
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        for name in sorted(trainable):
            if name not in state or name not in params:
                raise RuntimeError(f"trained parameter {name!r} is missing from the "
                                   f"{'trained state' if name not in state else 'LoRA model'}")
            src, dst = state[name].to(params[name].dtype), params[name]
            if dst is emb:
                dst[rows] = src[rows].to(dst.device)
            else:
                dst.copy_(src)


def base_dtype(c: dict, train: dict) -> str | None:
    """The dtype to load the model in for training: bf16 for LoRA's frozen base under bf16 (its weights never
    update, so they need no fp32 master copy, and autocast then casts no weight at every step), else the config's.
    The adapters PEFT adds stay fp32."""
    return "bfloat16" if train["bf16"] is True and c["peft"]["method"] != "none" else None


def score_labelled_positions_only() -> bool:
    """Make TRL's fused LM head (SFT's and DPO's loss) score only the positions that carry a label on the CPU too.

    TRL scores just those positions where Triton runs, and every position elsewhere, so that tile shapes stay fixed
    for compilers that recompile per shape (Neuron, XLA). Eager CPU training compiles nothing, and in a tool-call
    conversation only 8-15% of the positions carry a label: scoring all of them made a SmolLM2-135M LoRA step ~1.4x
    slower (benchmarks/cpu_speed.py). The log-probs are TRL's own compact path's, unchanged. Returns False, with a
    warning, if this TRL has no such switch (CPU steps are then slower, not wrong).
    """
    import logging

    import trl.trainer.utils as trl_utils

    uses_triton = getattr(trl_utils, "_use_triton", None)
    if uses_triton is None:
        logging.getLogger(__name__).warning("trl.trainer.utils._use_triton is gone in this TRL: on a CPU its fused "
                                            "LM head scores every position, not only the labelled ones")
        return False
    if not getattr(uses_triton, "compact_on_cpu", False):
        def compact(device) -> bool:  # read only by the fused head's compact-or-not choice in trl.trainer.utils
            return device.type == "cpu" or uses_triton(device)

        compact.compact_on_cpu = True
        trl_utils._use_triton = compact
    return True


def common_args(c: dict, train: dict, ds_config: dict | None, accum: int, report_to: list[str]) -> dict:
    """Keyword arguments shared by TRL's SFTConfig and DPOConfig."""
    every = c["cluster"]["checkpoint_steps"]
    return dict(
        output_dir=c["trainer_dir"],
        num_train_epochs=train["epochs"],
        per_device_train_batch_size=train["micro_batch_size"],
        gradient_accumulation_steps=accum,
        learning_rate=train["learning_rate"],
        weight_decay=train["weight_decay"],
        lr_scheduler_type=train["lr_scheduler"],
        warmup_steps=train["warmup_ratio"],
        max_grad_norm=1.0,
        logging_steps=train["logging_steps"],
        logging_first_step=True,
        # Checkpoints are worker-local and reported to Ray (ray_job.py), which keeps cluster.num_to_keep in storage;
        # with 0 a checkpoint is written only when a stop is requested.
        save_strategy="steps" if every else "no",
        save_steps=every or None,
        save_total_limit=1,
        report_to=report_to,
        run_name=c["run_name"],
        # CPU training must say so: with several processes each rank would otherwise train alone (or DeepSpeed's
        # batch check fails), and with bf16 transformers refuses a CPU it was not told about.
        use_cpu=not c["cluster"]["use_gpu"],
        deepspeed=ds_config,
        bf16=train["bf16"] is True,  # resolved from auto by the worker (ray_job), on the hardware that trains
        seed=c["seed"],
        data_seed=c["seed"],
        dataloader_num_workers=0,
        disable_tqdm=True,
        max_length=train["max_length"],
    )


class StepTimes:
    """TrainerCallback body recording wall-clock times (``time.time()``, comparable across processes) of the start of
    training and of every optimizer step's end; ``summary`` separates the first step from the steady state."""

    def __init__(self):
        self.begin, self.ends = None, []

    def on_train_begin(self, args, state, control, **kwargs):
        import time

        self.begin = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        import time

        self.ends.append((state.global_step, time.time()))

    def summary(self, warmup_steps: int = 2) -> dict:
        """Times of the first step and of the steps after ``warmup_steps`` (steady state)."""
        if not self.ends:
            return {"train_begin_at": self.begin, "steps_timed": 0}
        out = {"train_begin_at": self.begin, "first_step_at": self.ends[0][1], "last_step_at": self.ends[-1][1],
               "steps_timed": len(self.ends)}
        if len(self.ends) > warmup_steps + 1:
            (s0, t0), (s1, t1) = self.ends[warmup_steps], self.ends[-1]
            out.update(steady_from_step=s0, steady_to_step=s1, steady_seconds=t1 - t0)
        return out
