"""Training options reach the model and TRL: ``model.attn_implementation`` decides the attention kernel the workers
load (and with it how packed rows are batched); ``sft.liger_kernel`` turns on TRL's Liger path; ``sft.bf16`` (as the
worker resolves it) trains in bf16 mixed precision on the CPU, with fp32 master weights and fp32-close losses."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.unit


@pytest.fixture()
def worker_config(compose, shipped_tiny_model, tmp_path):
    """A worker's plain-dict config for SFT on the shipped tiny model, with a four-conversation dataset."""
    from datasets import Dataset
    from omegaconf import OmegaConf

    rows = [{"input_ids": list(range(3, 3 + n)), "assistant_masks": [0] * (n // 2) + [1] * (n - n // 2)}
            for n in (6, 9, 12, 7)]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))

    def make(*overrides: str) -> dict:
        cfg = OmegaConf.to_container(compose(["+exp=quickstart", "cluster.num_workers=1", *overrides]), resolve=True)
        return {**cfg, "stage": "sft", "added_tokens": [], "dtype": "float32", "model_dir": str(shipped_tiny_model),
                "dataset_dir": str(tmp_path / "ds"), "trainer_dir": str(tmp_path / "trainer"), "run_name": "t"}

    return make


def test_attention_choice_is_what_the_worker_loads(worker_config):
    from toolcall_dist.train.common import load_model

    assert load_model(worker_config()).config._attn_implementation == "sdpa"  # null: transformers' default
    assert load_model(worker_config("model.attn_implementation=eager")).config._attn_implementation == "eager"


@pytest.mark.skipif(importlib.util.find_spec("flash_attn") is not None,
                    reason="flash-attn is installed: the gpu tier trains with it (tests/gpu/test_gpu_tier.py)")
def test_flash_attention_choice_reaches_from_pretrained(worker_config):
    from toolcall_dist.train.common import load_model

    with pytest.raises(ImportError, match="FlashAttention2"):  # reaches from_pretrained, which needs the package
        load_model(worker_config("model.attn_implementation=flash_attention_2"))


def test_packed_rows_follow_the_loaded_attention(worker_config):
    from toolcall_dist.train.sft import build_trainer

    trainer = build_trainer(worker_config("sft.packing=true", "model.attn_implementation=eager"), None, 2, [])
    # eager attends over a whole flattened micro batch, so each packed row is its own micro batch (train/sft.py)
    assert (trainer.args.per_device_train_batch_size, trainer.args.gradient_accumulation_steps) == (1, 16)
    assert trainer.model.config._attn_implementation == "eager"


def test_liger_kernel_reaches_trl(worker_config):
    from toolcall_dist.train.sft import build_trainer

    # (Config validation refuses the flag without cluster.use_gpu: test_config.py; a worker's dict is past that.)
    trainer = build_trainer(worker_config("sft.liger_kernel=true"), None, 1, [])
    # TRL took the flag: it keeps Liger's layer kernels, which transformers applies as training starts, and leaves the
    # LM head to its own fused log-prob head
    assert trainer.args.use_liger_kernel is True
    assert trainer.args.liger_kernel_config == {"fused_linear_cross_entropy": False}
    assert build_trainer(worker_config(), None, 1, []).args.use_liger_kernel is False


def _train_losses(trainer) -> list[float]:
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def test_bf16_on_cpu_trains_like_fp32(worker_config):
    """bf16 autocast on the CPU (the worker's resolution of sft.bf16=auto on a CPU with AVX-512 BF16 or AMX): the
    same 8 steps give losses within 5% of fp32's at every step (bf16 rounding compounds over steps at lr 3e-3), the
    weights stay fp32 (master weights), and the trainer really ran autocast (a bf16-only rounding makes the losses
    differ from fp32's somewhere)."""
    import torch

    from toolcall_dist.train.sft import build_trainer

    over = ["sft.epochs=8", "sft.micro_batch_size=2", "sft.global_batch_size=4", "sft.logging_steps=1",
            "sft.sampling=random", "sft.learning_rate=3e-3", "cluster.checkpoint_steps=0"]
    fp32 = build_trainer(worker_config(*over, "sft.bf16=false"), None, 2, [])
    bf16 = build_trainer(worker_config(*over, "sft.bf16=true"), None, 2, [])
    assert bf16.args.bf16 and not fp32.args.bf16 and bf16.args.use_cpu
    a, b = _train_losses(fp32), _train_losses(bf16)
    assert len(a) == len(b) == 8
    assert a[-1] < a[0]  # it learns
    for x, y in zip(a, b, strict=True):
        assert abs(x - y) <= 0.05 * x, (a, b)
    assert a != b
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())


def test_fused_head_scores_only_labelled_positions_on_cpu(monkeypatch):
    """TRL's fused LM head (the SFT and DPO loss) projects only the positions with a label once the switch is on,
    on the CPU as on a GPU, and gives the same loss and gradients as scoring every position."""
    import torch
    import trl.trainer.utils as trl_utils
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.kernels import chunked_logprob
    from trl.trainer.utils import add_fused_lm_head

    from toolcall_dist.train.common import score_labelled_positions_only

    # TRL's own choice (another test's trainer build may have switched it already), restored after the test
    monkeypatch.setattr(trl_utils, "_use_triton", chunked_logprob._use_triton)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=96, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2))
    add_fused_lm_head(model)
    ids = torch.randint(0, 96, (2, 12))
    labels = torch.full_like(ids, -100)
    labels[0, 8:], labels[1, 5:7] = ids[0, 8:], ids[1, 5:7]  # 4 + 2 labels, none at position 0: 6 kept by the shift
    rows = []
    apply = trl_utils._ChunkedLogProbFunction.apply
    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply",
                        lambda hidden, *a: rows.append(hidden.shape[0]) or apply(hidden, *a))

    def loss_and_grad():
        model.zero_grad()
        loss = model(input_ids=ids, labels=labels, fused_lm_head=True).loss
        loss.backward()
        return loss.item(), model.model.layers[0].mlp.up_proj.weight.grad.clone()

    every, every_grad = loss_and_grad()
    assert score_labelled_positions_only() is True
    labelled, labelled_grad = loss_and_grad()
    assert rows == [2 * 11, 6]  # all 22 shifted positions, then the 6 with a label
    assert abs(every - labelled) < 1e-5
    assert torch.allclose(every_grad, labelled_grad, atol=1e-6)


def test_dpo_sft_weight_adds_trl_nll_loss_on_the_chosen_reply(worker_config, tmp_path):
    from datasets import Dataset

    from toolcall_dist.train.dpo import build_trainer

    Dataset.from_list([{"prompt": "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "chosen": "Hello.",
                        "rejected": "Bye."}] * 2).save_to_disk(str(tmp_path / "pairs"))

    def args(*overrides):
        c = {**worker_config(*overrides), "stage": "dpo", "dataset_dir": str(tmp_path / "pairs")}
        return build_trainer(c, None, 1, []).args

    plain, rpo = args("dpo.sft_weight=0"), args("dpo.sft_weight=0.5")
    assert plain.loss_type == ["sigmoid"] and plain.loss_weights is None
    assert rpo.loss_type == ["sigmoid", "sft"] and rpo.loss_weights == [1.0, 0.5]


def test_gradient_checkpointing_is_the_configs_in_both_trainers(worker_config, tmp_path):
    """TRL's SFTConfig and DPOConfig turn gradient checkpointing on unless told otherwise (it recomputed a fifth of
    every SmolLM2 DPO step on the CPU): each stage's trainer takes its own key, off by default."""
    from datasets import Dataset

    from toolcall_dist.train import dpo, sft

    Dataset.from_list([{"prompt": "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "chosen": "Hello.",
                        "rejected": "Bye."}] * 2).save_to_disk(str(tmp_path / "pairs"))

    def dpo_trainer(*overrides):
        c = {**worker_config(*overrides), "stage": "dpo", "dataset_dir": str(tmp_path / "pairs")}
        return dpo.build_trainer(c, None, 1, [])

    assert dpo_trainer().args.gradient_checkpointing is False
    assert dpo_trainer("dpo.gradient_checkpointing=true").args.gradient_checkpointing is True
    assert sft.build_trainer(worker_config(), None, 1, []).args.gradient_checkpointing is False
    assert sft.build_trainer(worker_config("sft.gradient_checkpointing=true"), None, 1,
                             []).args.gradient_checkpointing is True
