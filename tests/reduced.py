"""The pieces of the reduced quickstart that the integration and slurm tests start from, in one place.

``+exp=quickstart`` made small: little data, a tiny base built in seconds (or the shipped one, where a test leaves
``tiny_base`` out), micro batches of 4 in global batches of 8, evaluation on the held-out set only. Each test module
composes these with what its own check needs (how much data, how many epochs, which stages), so the differences
between modules are written as differences.
"""

QUICKSTART = ["+exp=quickstart"]
NO_TRACKING = ["tracking.backend=none"]


def data(n_examples: int, holdout_per_category: int) -> list[str]:
    """Training records and held-out entries per category."""
    return [f"data.n_examples={n_examples}", f"data.holdout_per_category={holdout_per_category}"]


def tiny_base(warmup_examples: int) -> list[str]:
    """A tiny base (2 layers, hidden 64) built from config in seconds, in place of the shipped prebuilt one: a few
    reading steps and a short prose warm-up of ``warmup_examples`` chats."""
    return [f"model.tiny.warmup_examples={warmup_examples}", "model.tiny.warmup_epochs=1",
            "model.tiny.drills_per_request=1", "model.tiny.reading_steps=4", "model.tiny.copy_drills=64",
            "model.tiny.warmup_copy_drills=16", "model.tiny.hidden_size=64", "model.tiny.num_layers=2",
            "model.tiny.intermediate_size=128"]


SFT_BATCHES = ["sft.micro_batch_size=4", "sft.global_batch_size=8"]
DPO_BATCHES = ["dpo.micro_batch_size=4", "dpo.global_batch_size=8"]


def heldout_eval(max_new_tokens: int, categories: str = "[simple_python,irrelevance]") -> list[str]:
    """Evaluation on the held-out set only (no BFCL files), with short generations."""
    return [f"eval.max_new_tokens={max_new_tokens}", f"eval.heldout_categories={categories}", "eval.categories=[]"]
