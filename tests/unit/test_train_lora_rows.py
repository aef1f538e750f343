"""LoRA with trainable rows for added tokens: only those rows of the (tied) embedding move, and the adapter trains.

Also under bf16: the base loaded in bf16 (as the SFT stage loads LoRA's frozen base) with autocast, where the
embedding must stay fp32 master weights, or a few small updates would round away.
"""

from __future__ import annotations

import pytest

from toolcall_dist.train.common import new_token_rows, with_lora_and_new_rows

pytestmark = pytest.mark.unit

PEFT = {"method": "lora", "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
NEW_ROWS = [60, 61, 62, 63]


def _tiny_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, tie_word_embeddings=True))


def _train(model, steps: int = 3, bf16: bool = False):
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
    ids = torch.tensor([[1, 60, 5, 61, 7, 62, 9, 63, 2, 3]])  # old and new tokens, as inputs and as targets
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-base-autocast"])
def test_only_the_added_rows_and_the_adapter_move(bf16):
    import torch

    model = _tiny_llama()
    before = model.get_input_embeddings().weight.detach().clone()
    if bf16:
        model = model.to(torch.bfloat16)
    model = with_lora_and_new_rows(model, PEFT, "llama3", NEW_ROWS)
    assert model.get_input_embeddings().weight.dtype == torch.float32  # master weights, whatever the base's dtype
    lora_b = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    _train(model, bf16=bf16)

    after = model.get_input_embeddings().weight.detach()
    old = [i for i in range(64) if i not in NEW_ROWS]
    # rows 1, 5, 7, ... were used but are frozen (in bf16, exactly the bf16 rounding of where they started)
    assert torch.equal(after[old], before[old].to(torch.bfloat16).float() if bf16 else before[old])
    assert all(not torch.allclose(after[i], before[i], atol=1e-3) for i in NEW_ROWS)
    assert model.get_output_embeddings().weight.data_ptr() == after.data_ptr()  # head rows moved with them
    assert any(not torch.equal(p, lora_b[n]) for n, p in model.named_parameters() if "lora_B" in n)
    frozen = [n for n, p in model.named_parameters() if "q_proj.base_layer" in n]
    assert frozen and not any(p.requires_grad for n, p in model.named_parameters() if n in frozen)


class _Tok:
    def convert_tokens_to_ids(self, tokens):
        return [100 + i for i, _ in enumerate(tokens)]


@pytest.mark.parametrize(("stage", "method", "added", "rows"), [
    ("sft", "lora", ["<tool_call>", "</tool_call>"], [100, 101]),
    ("dpo", "lora", ["<tool_call>", "</tool_call>"], []),  # DPO's reference (adapter off) must be the SFT model
    ("sft", "none", ["<tool_call>"], []),  # full fine-tuning trains the whole embedding anyway
    ("sft", "lora", [], []),
])
def test_which_stage_trains_new_rows(stage, method, added, rows):
    c = {"stage": stage, "added_tokens": added, "peft": {"method": method}}
    assert new_token_rows(c, _Tok()) == rows


def test_the_saved_copy_takes_what_trained_and_keeps_the_frozen_base_exactly():
    """The save path (ray_job._save): a trained state whose every tensor is a bf16 rounding (DeepSpeed's bf16 engine
    holds the frozen base so) is applied to a fresh fp32 copy; the adapter and the added rows arrive, every other
    weight, the embedding's old rows included, is the fresh copy's bit for bit."""
    import torch

    from toolcall_dist.train.common import apply_trained

    trained = with_lora_and_new_rows(_tiny_llama(), PEFT, "llama3", NEW_ROWS)
    _train(trained)
    trainable = {n for n, p in trained.named_parameters() if p.requires_grad}
    state = {k: v.detach().to(torch.bfloat16) for k, v in trained.state_dict().items()}

    fresh = with_lora_and_new_rows(_tiny_llama(), PEFT, "llama3", NEW_ROWS)
    before = {k: v.detach().clone() for k, v in fresh.state_dict().items()}
    apply_trained(fresh, state, trainable, NEW_ROWS)
    after = fresh.state_dict()
    emb = next(n for n in trainable if "embed_tokens" in n)
    old = [i for i in range(64) if i not in NEW_ROWS]
    assert torch.equal(after[emb][old], before[emb][old])
    assert torch.equal(after[emb][NEW_ROWS], state[emb][NEW_ROWS].float())
    lora = [n for n in trainable if "lora_" in n]
    assert lora and all(torch.equal(after[n], state[n].float()) for n in lora)
    frozen = [k for k in after if k not in trainable and "embed_tokens" not in k and "lm_head" not in k]
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)

    with pytest.raises(RuntimeError, match="missing from the trained state"):
        apply_trained(fresh, {k: v for k, v in state.items() if k != lora[0]}, trainable, NEW_ROWS)
