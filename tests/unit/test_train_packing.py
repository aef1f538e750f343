"""Packing is exact: padding-free bins of whole conversations give the same per-token losses as padded batches (no
token attends across a conversation boundary, no label crosses it), and the assistant masks survive packing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def _summed_loss_and_count(trainer, model):
    """Sum of next-token cross-entropy over every labelled token the trainer's dataloader yields."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for batch in trainer.get_train_dataloader():
            labels = batch.pop("labels")
            logits = model(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids")},
                           use_cache=False).logits
            logp = torch.log_softmax(logits[:, :-1].float(), -1)
            target = labels[:, 1:]
            keep = target != -100
            total += -logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)[keep].sum().item()
            count += int(keep.sum())
    return total, count


def test_packed_and_padded_batches_score_the_same_tokens(tmp_path):
    import torch
    from datasets import Dataset
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2))
    model.config.use_cache = False
    vocab = {f"t{i}": i for i in range(64)}
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="t0")),
                                  pad_token="t0", eos_token="t1")
    g = torch.Generator().manual_seed(1)
    rows = []
    for n in (5, 9, 13, 6, 17, 4, 11, 8):  # short, uneven conversations, like tool calls
        ids = torch.randint(2, 64, (n,), generator=g).tolist()
        mask = [0] * (n // 2) + [1] * (n - n // 2)  # the "assistant" half carries the loss
        rows.append({"input_ids": ids, "assistant_masks": mask})
    data = Dataset.from_list(rows)

    def trainer(packing: bool):
        args = SFTConfig(output_dir=str(tmp_path / f"p{packing}"), per_device_train_batch_size=4, max_length=32,
                         packing=packing, padding_free=packing, packing_strategy="bfd", report_to=[],
                         use_cpu=True, dataloader_num_workers=0, seed=0)
        return SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)

    padded_trainer, packed_trainer = trainer(False), trainer(True)
    padded, n_padded = _summed_loss_and_count(padded_trainer, model)
    packed, n_packed = _summed_loss_and_count(packed_trainer, model)
    expected = sum(sum(r["assistant_masks"][1:]) for r in rows)  # shifted labels: the first token is never a target
    assert n_padded == n_packed == expected
    assert packed == pytest.approx(padded, rel=1e-5)
    packed_rows = sum(b["input_ids"].shape[0] for b in packed_trainer.get_train_dataloader())
    assert packed_rows < len(rows)  # the bins really hold several conversations


def test_packing_without_varlen_attention_takes_one_packed_row_per_micro_batch():
    from toolcall_dist.train.deepspeed import deepspeed_config
    from toolcall_dist.train.sft import packed_micro_batch

    train = {"packing": True, "micro_batch_size": 8, "global_batch_size": 32, "bf16": False}
    t, accum = packed_micro_batch(train, 2, "sdpa")
    assert (t["micro_batch_size"], accum) == (1, 16)  # rows per optimizer step unchanged: 8 x 2 = 1 x 16
    assert train["micro_batch_size"] == 8  # input untouched
    ds = deepspeed_config({"stage": 2, "bucket_size": 1, "offload_optimizer": False, "offload_params": False}, t,
                          accum, use_gpu=False)  # what build_trainer hands DeepSpeed then
    assert (ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"], ds["train_batch_size"]) == \
        (1, 16, 32)
    with pytest.raises(ValueError, match="bf16 must be resolved"):  # "auto" would read as true
        deepspeed_config({"stage": 2, "bucket_size": 1, "offload_optimizer": False, "offload_params": False},
                         {**t, "bf16": "auto"}, accum, use_gpu=False)
    assert packed_micro_batch(train, 2, "eager")[1] == 16
    for unchanged in [(train, 2, "flash_attention_2"), ({**train, "packing": False}, 2, "sdpa")]:
        assert packed_micro_batch(*unchanged) == unchanged[:2]
