"""Sampled generation on the shipped tiny model: seeded per batch, so a shard samples what a whole run samples."""

import pytest

from toolcall_dist.eval.generate import batch_seed, load_model, load_tokenizer, plan, run_batches, stop_token_ids
from toolcall_dist.formats import get_format

pytestmark = pytest.mark.unit

PROMPTS = [f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n" for q in
           ("What is the weather in Paris?", "Convert 5 km to miles.", "Hello!", "Quote AAPL and MSFT.")]


@pytest.fixture(scope="module")
def tiny(shipped_tiny_model):
    model, tok = load_model(str(shipped_tiny_model)), load_tokenizer(str(shipped_tiny_model))
    return model, tok, stop_token_ids(tok, get_format("qwen2_5"))


def _run(tiny, batches, sampling, n=8):
    model, tok, stop = tiny
    return run_batches(model, tok, dict(enumerate(PROMPTS)), batches, n, stop, sampling=sampling)


def test_sampling_is_seeded_per_batch_and_leaves_the_callers_random_state(tiny):
    import torch

    batches = plan(tiny[1], PROMPTS, 2, 8, None).batches
    hot = {"temperature": 1.5, "top_p": 1.0, "seed": 0}
    state = torch.get_rng_state()
    first = _run(tiny, batches, hot)
    assert torch.equal(torch.get_rng_state(), state)
    assert _run(tiny, batches, hot) == first  # the same seed samples the same replies
    assert _run(tiny, batches, {**hot, "seed": 1}) != first
    assert _run(tiny, batches, None) != first  # greedy stays the default
    # One batch run alone, as a Ray shard runs it, samples what it sampled inside the whole run.
    assert len(batches) == 2 and _run(tiny, batches[1:], hot) == {i: first[i] for i in batches[1]}
    # ...and from a stream of its own: batches of copies of one prompt must not draw the same numbers.
    assert len({batch_seed(0, b) for b in batches}) == len(batches) and batch_seed(0, [5]) != batch_seed(1, [5])
