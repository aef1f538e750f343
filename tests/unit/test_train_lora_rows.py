"""LoRA with trainable rows for added tokens: only those rows of the (tied) embedding move, and the adapter trains."""

from __future__ import annotations

import pytest

from toolcall_dist.train.common import with_lora_and_new_rows

pytestmark = pytest.mark.unit


def test_only_the_added_rows_and_the_adapter_move():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, tie_word_embeddings=True))
    before = model.get_input_embeddings().weight.detach().clone()
    new_rows = [60, 61, 62, 63]
    peft = {"method": "lora", "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
    model = with_lora_and_new_rows(model, peft, "llama3", new_rows)
    lora_b = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.0)

    ids = torch.tensor([[1, 60, 5, 61, 7, 62, 9, 63, 2, 3]])  # old and new tokens, as inputs and as targets
    for _ in range(3):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()

    after = model.get_input_embeddings().weight.detach()
    old = [i for i in range(64) if i not in new_rows]
    assert torch.equal(after[old], before[old])  # rows 1, 5, 7, ... were used but are frozen
    assert all(not torch.allclose(after[i], before[i]) for i in new_rows)
    assert model.get_output_embeddings().weight.data_ptr() == after.data_ptr()  # head rows moved with them
    assert any(not torch.equal(p, lora_b[n]) for n, p in model.named_parameters() if "lora_B" in n)
    frozen = [n for n, p in model.named_parameters() if "q_proj.base_layer" in n]
    assert frozen and not any(p.requires_grad for n, p in model.named_parameters() if n in frozen)
