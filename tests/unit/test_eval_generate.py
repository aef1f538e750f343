"""Generation planning and batched greedy generation on the shipped tiny model (a real Qwen2 checkpoint)."""

import pytest

from toolcall_dist.eval.bfcl import load_category
from toolcall_dist.eval.generate import generate, load_model, load_tokenizer, plan, run_batches, stop_token_ids
from toolcall_dist.eval.prompts import entry_prompt
from toolcall_dist.formats import get_format

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tiny(shipped_tiny_model):
    # the CPU path (prefill side by side, static cache) on every machine; the gpu tier runs generation on CUDA
    return load_model(str(shipped_tiny_model), device="cpu"), load_tokenizer(str(shipped_tiny_model))


def test_plan_sorts_by_token_length_and_sets_over_length_prompts_aside(tiny):
    _, tok = tiny
    prompts = ["a " * 50, "a " * 5, "a " * 30, "a " * 400, "a " * 10]
    p = plan(tok, prompts, batch_size=2, max_new_tokens=20, context=300)
    assert p.batches == [[1, 4], [2, 0]]  # shortest first, two per batch
    assert list(p.over_length) == [3] and "context 300" in p.over_length[3]
    assert plan(tok, prompts, 2, 20, None).over_length == {}  # no known context: nothing is set aside


def test_stop_tokens_are_the_familys_turn_ends(tiny):
    _, tok = tiny
    assert stop_token_ids(tok, get_format("qwen2_5")) == [tok.convert_tokens_to_ids("<|im_end|>")]
    with pytest.raises(ValueError, match="<\\|eot_id\\|>"):  # Llama's turn end is not a token of the Qwen tokenizer
        stop_token_ids(tok, get_format("llama3"))


def test_batched_generation_writes_what_one_at_a_time_writes(tiny):
    model, tok = tiny
    fmt = get_format("qwen2_5")
    entries = load_category("simple_python", limit=3) + load_category("irrelevance", limit=2)
    prompts = [entry_prompt(fmt, tok, e) for e in entries]
    stop, n = stop_token_ids(tok, fmt), 16
    batched = generate(model, tok, prompts, max_new_tokens=n, batch_size=3, stop_ids=stop)
    alone = generate(model, tok, prompts, max_new_tokens=n, batch_size=1, stop_ids=stop)
    assert batched == alone
    end = "<|im_end|>"
    for text in batched:  # each reply stops at its turn end (kept) or runs to the token limit, never past it
        assert text.count(end) <= 1
        assert text.endswith(end) or len(tok(text, add_special_tokens=False)["input_ids"]) >= n
    # A batch of the plan run on its own (as a shard runs it) gives the same texts: what sharding relies on.
    p = plan(tok, prompts, 3, n, None)
    part = run_batches(model, tok, dict(enumerate(prompts)), p.batches[1:], n, stop)
    assert part == {i: batched[i] for i in p.batches[1]}


def test_cpu_cache_holds_each_prompt_alone_left_padded_with_room_for_the_reply(tiny, monkeypatch):
    import torch
    from transformers import DynamicCache, StaticCache

    import toolcall_dist.eval.cpu_cache as cc
    from toolcall_dist.eval.cpu_cache import cpu_cache

    model, tok = tiny
    prompts = ["<|im_start|>user\nWhat is the weather in Paris today?<|im_end|>\n", "<|im_start|>user\nhi<|im_end|>\n"]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    n_long, n_short = enc["attention_mask"].sum(dim=1).tolist()
    width = enc["input_ids"].shape[1] - 1  # the last column is generate's first input, not in the cache
    with torch.inference_mode():
        cache = cpu_cache(model, enc, max_new_tokens=8)
        alone = model(input_ids=enc["input_ids"][1:, -n_short:-1], use_cache=True).past_key_values
    assert isinstance(cache, StaticCache) and cache.get_seq_length() == width
    assert cache.layers[0].keys.shape[2] == width + 1 + 8  # room for every reply token
    pad = width - (n_short - 1)
    for layer, ref in zip(cache.layers, alone.layers, strict=True):
        assert torch.equal(layer.keys[1, :, :pad], torch.zeros_like(layer.keys[1, :, :pad]))
        assert torch.allclose(layer.keys[1, :, pad:width], ref.keys[0], rtol=1e-5, atol=1e-5)
        assert torch.allclose(layer.values[1, :, pad:width], ref.values[0], rtol=1e-5, atol=1e-5)
    with torch.inference_mode():  # a batch of one, or a prompt of one token, is left to generate
        assert cpu_cache(model, {k: v[:1] for k, v in enc.items()}, 8) is None
    monkeypatch.setattr(cc, "STATIC_CACHE", False)  # the benchmark's comparison: the same states, growing cache
    with torch.inference_mode():
        dynamic = cpu_cache(model, enc, max_new_tokens=8)
    assert type(dynamic) is DynamicCache and dynamic.get_seq_length() == width
    for layer, static_layer in zip(dynamic.layers, cache.layers, strict=True):
        assert torch.equal(layer.keys, static_layer.keys[:, :, :width])
        assert torch.equal(layer.values, static_layer.values[:, :, :width])


@pytest.mark.parametrize("threads", [1, 2])
def test_prefill_gives_each_row_its_states_alone_and_gives_back_torchs_threads(tiny, threads):
    import torch

    from toolcall_dist.eval.cpu_cache import prefill_each

    model, tok = tiny
    texts = ["<|im_start|>user\nhi<|im_end|>\n", "What is the weather in Paris today?", "a b c d e f g h i j",
             "<|im_start|>system\nYou call tools.<|im_end|>\n<|im_start|>user\nBook a table<|im_end|>\n", "ok ok"]
    rows = [torch.tensor(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert len({len(r) for r in rows}) == len(rows)  # uneven rows, so the grouped ones carry right padding
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        states = prefill_each(model, rows)
        assert torch.get_num_threads() == threads  # the threads it borrowed are given back
    finally:
        torch.set_num_threads(before)
    assert len(states) == len(rows)
    with torch.inference_mode():
        for row, got in zip(rows, states, strict=True):
            alone = model(input_ids=row[None], use_cache=True).past_key_values
            assert len(got) == len(alone.layers)
            for (k, v), ref in zip(got, alone.layers, strict=True):
                assert k.shape == ref.keys[0].shape  # the row's own length: its padding is cut off
                assert torch.allclose(k, ref.keys[0], atol=1e-5) and torch.allclose(v, ref.values[0], atol=1e-5)


def test_long_rope_models_prefill_each_row_alone_one_at_a_time(tiny, monkeypatch):
    """Long RoPE picks its frequencies by each forward's length (short up to 32 positions here, long past them), and
    switches them in place. A 20-token row padded to its 40-token neighbour would get the long ones, and two forwards
    at once would race on them: such a model's rows are prefilled alone, one after the other."""
    import concurrent.futures

    import torch
    from transformers import Phi3Config, Phi3ForCausalLM

    import toolcall_dist.eval.cpu_cache as cc

    phi = Phi3ForCausalLM(Phi3Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
        vocab_size=64, max_position_embeddings=128, pad_token_id=0, eos_token_id=1, bos_token_id=1,
        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0] * 8,
                         "long_factor": [4.0] * 8, "original_max_position_embeddings": 32})).eval()
    assert cc.rope_rewrites_itself(phi) and not cc.rope_rewrites_itself(tiny[0])
    rows = [torch.arange(2, 22), torch.arange(2, 42), torch.arange(2, 24), torch.arange(2, 44)]  # pairs straddle 32
    pools = []
    real_pool = concurrent.futures.ThreadPoolExecutor
    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", lambda *a: pools.append(a) or real_pool(*a))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        states = cc.prefill_each(phi, rows)  # the rows share 20 tokens, but no prefix is shared either
    finally:
        torch.set_num_threads(before)
    assert pools == []  # one forward after the other
    with torch.inference_mode():
        for row, got in zip(rows, states, strict=True):
            alone = phi(input_ids=row[None], use_cache=True).past_key_values.layers[0]
            assert torch.allclose(got[0][0], alone.keys[0], atol=1e-5)


def test_shared_prefix_length_leaves_each_row_a_token_and_ignores_short_openings():
    import torch

    from toolcall_dist.eval.cpu_cache import MIN_SHARED, shared_prefix_length

    opening = torch.arange(100, 100 + 20)
    rows = [torch.cat([opening, torch.tensor(tail)]) for tail in ([1, 2, 3], [1, 5], [7, 8, 9, 10])]
    assert shared_prefix_length(rows) == 20  # the third row parts at its first own token
    assert shared_prefix_length(rows[:2]) == 21  # the first two also share their 21st token
    assert shared_prefix_length([opening, opening.clone()]) == 19  # identical rows: one token each stays their own
    short = [torch.cat([opening[: MIN_SHARED - 1], torch.tensor([t, 3, 4])]) for t in (1, 2)]
    assert shared_prefix_length(short) == 0  # too short an opening to be worth a forward of its own
    assert shared_prefix_length(rows[:1]) == 0


def test_after_prefix_attention_is_causal_attention_over_prefix_and_tokens():
    """Tokens continuing a cached prefix see all of it and the tokens before them: SDPA with that mask, written out."""
    import torch
    import torch.nn.functional as F

    from toolcall_dist.eval.cpu_cache import _after_prefix_attention

    torch.manual_seed(0)
    shared, new, heads, kv_heads, dim = 7, 5, 4, 2, 8
    q = torch.randn(2, heads, new, dim)
    k, v = torch.randn(2, kv_heads, shared + new, dim), torch.randn(2, kv_heads, shared + new, dim)
    sees = torch.ones(new, shared + new, dtype=torch.bool).tril(diagonal=shared)  # token i: prefix and tokens <= i
    ref = F.scaled_dot_product_attention(q, k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1),
                                         attn_mask=sees, scale=0.3)
    out, _ = _after_prefix_attention(None, q, k, v, None, scaling=0.3)
    assert out.shape == (2, new, heads, dim)
    assert torch.allclose(out, ref.transpose(1, 2), atol=1e-6)
    alone, _ = _after_prefix_attention(None, q, k[:, :, shared:], v[:, :, shared:], None, scaling=0.3)  # no prefix
    assert torch.allclose(alone, F.scaled_dot_product_attention(
        q, k[:, :, shared:].repeat_interleave(2, dim=1), v[:, :, shared:].repeat_interleave(2, dim=1), is_causal=True,
        scale=0.3).transpose(1, 2), atol=1e-6)
    with pytest.raises(ValueError, match="no mask"):
        _after_prefix_attention(None, q, k, v, sees)


def test_after_prefix_attention_keeps_a_bf16_models_dtype():
    """bf16 in, bf16 out (the next projection's weights are bf16), and as close to SDPA as bf16 rounding allows."""
    import torch
    import torch.nn.functional as F

    from toolcall_dist.eval.cpu_cache import _after_prefix_attention

    torch.manual_seed(0)
    shared, new, heads, dim = 7, 5, 2, 8
    q, k, v = (torch.randn(1, heads, n, dim, dtype=torch.bfloat16) for n in (new, shared + new, shared + new))
    sees = torch.ones(new, shared + new, dtype=torch.bool).tril(diagonal=shared)
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=sees, scale=0.3)
    out, _ = _after_prefix_attention(None, q, k, v, None, scaling=0.3)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref.transpose(1, 2), atol=3e-2)


@pytest.mark.parametrize("threads", [1, 2])
def test_prefill_runs_the_shared_opening_once_and_each_row_keeps_its_states_alone(tiny, threads):
    import torch

    from toolcall_dist.eval.cpu_cache import prefill_each, shared_prefix_length

    model, tok = tiny
    opening = "<|im_start|>system\nYou are a helpful assistant. You call the tools you are given.<|im_end|>\n"
    asks = ["hi", "What is the weather in Paris today?", "Book a table for two at eight", "convert 3 km to miles"]
    rows = [torch.tensor(tok(opening + f"<|im_start|>user\n{a}<|im_end|>\n", add_special_tokens=False)["input_ids"])
            for a in asks]
    shared = shared_prefix_length(rows)
    assert shared >= 16
    fed, last_mlp = [], []
    hook = model.get_input_embeddings().register_forward_pre_hook(lambda _, args: fed.append(args[0].shape[1]))
    last = model.get_decoder().layers[-1]
    mlp = last.mlp
    mlp_hook = mlp.register_forward_pre_hook(lambda _, args: last_mlp.append(args[0].shape[1]))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        states = prefill_each(model, rows)
    finally:
        torch.set_num_threads(before)
        hook.remove()
        mlp_hook.remove()
    assert fed[0] == shared and sorted(fed[1:]) == sorted(  # the opening once, then each pair from after it
        max(len(r) for r in rows[g: g + 2]) - shared for g in (0, 2))
    assert last_mlp == [shared]  # the pairs' last layer made only keys and values: its MLP ran for the opening alone
    assert model.config._attn_implementation == "sdpa" and last.mlp is mlp  # the model's own are set back
    with torch.inference_mode():
        for row, got in zip(rows, states, strict=True):
            alone = model(input_ids=row[None], use_cache=True).past_key_values
            for (k, v), ref in zip(got, alone.layers, strict=True):
                assert k.shape == ref.keys[0].shape
                assert torch.allclose(k, ref.keys[0], atol=1e-5) and torch.allclose(v, ref.values[0], atol=1e-5)


@pytest.mark.parametrize("arch", ["qwen2", "llama", "mistral", "phi3"])
def test_each_prefix_family_continues_from_the_shared_opening_as_if_alone(arch):
    """The families the shared prefix is used for (``PREFIX_FAMILIES``), as small random models of their own
    architecture: the opening runs once, and every row's states are those it has alone."""
    import torch
    import transformers

    from toolcall_dist.eval.cpu_cache import PREFIX_FAMILIES, prefill_each

    assert arch in PREFIX_FAMILIES
    sizes = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=64, max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=1)
    config = {"qwen2": transformers.Qwen2Config(**sizes), "llama": transformers.LlamaConfig(**sizes),
              "mistral": transformers.MistralConfig(**sizes, sliding_window=None),
              "phi3": transformers.Phi3Config(**sizes)}[arch]
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    assert model.config._attn_implementation == "sdpa"
    rows = [torch.cat([torch.arange(2, 22), torch.tensor(tail)]) for tail in ([30, 31], [40, 41, 42, 43], [50], [60])]
    fed = []
    hook = model.get_input_embeddings().register_forward_pre_hook(lambda _, args: fed.append(args[0].shape[1]))
    try:
        states = prefill_each(model, rows)
    finally:
        hook.remove()
    assert fed[0] == 20 and sum(fed) == 20 + 4 + 1  # the opening, then the two pairs' own tokens
    with torch.inference_mode():
        for row, got in zip(rows, states, strict=True):
            alone = model(input_ids=row[None], use_cache=True).past_key_values
            for (k, v), ref in zip(got, alone.layers, strict=True):
                assert torch.allclose(k, ref.keys[0], atol=1e-5) and torch.allclose(v, ref.values[0], atol=1e-5)


def test_decoding_drops_finished_rows_and_writes_what_one_at_a_time_writes(tiny, monkeypatch):
    """Once half a batch has finished, generate stops, the finished rows leave the batch and its cache, and the rest
    go on: the texts are those of the whole batch decoded to the end, and of each prompt alone."""
    import toolcall_dist.eval.generate as gen

    model, tok = tiny
    fmt = get_format("qwen2_5")
    prompts = [entry_prompt(fmt, tok, e) for e in load_category("simple_python", limit=4)
               + load_category("irrelevance", limit=4)]
    stop, n = stop_token_ids(tok, fmt), 48
    calls = []
    real = model.generate
    monkeypatch.setattr(model, "generate", lambda **kw: calls.append(kw["input_ids"].shape[0]) or real(**kw))
    shrinking = generate(model, tok, prompts, max_new_tokens=n, batch_size=8, stop_ids=stop)
    assert calls[0] == 8 and len(calls) > 1 and calls == sorted(calls, reverse=True)  # fewer rows each stretch
    assert all(c <= -(-prev // 2) for prev, c in zip(calls[:-1], calls[1:], strict=True))  # half gone each time
    monkeypatch.setattr(gen, "SHRINK_AT", None)
    calls.clear()
    whole = generate(model, tok, prompts, max_new_tokens=n, batch_size=8, stop_ids=stop)
    assert calls == [8]
    assert shrinking == whole == generate(model, tok, prompts, max_new_tokens=n, batch_size=1, stop_ids=stop)
    assert sum(t.endswith("<|im_end|>") for t in whole) >= 4  # half of them did finish before the limit


def test_shards_take_whole_batches_round_robin():
    from toolcall_dist.ray_eval import shard_batches

    batches = [[0, 1], [2, 3], [4, 5], [6]]
    assert shard_batches(batches, 2) == [[[0, 1], [4, 5]], [[2, 3], [6]]]
    assert shard_batches(batches, 8) == [[b] for b in batches]  # never an empty shard


def test_vllm_backend_says_what_is_missing(monkeypatch):
    from toolcall_dist.eval.backends import run

    monkeypatch.setitem(__import__("sys").modules, "vllm", None)  # not importable, as on this CPU machine
    with pytest.raises(RuntimeError, match="eval.backend=vllm needs vLLM"):
        run({"backend": "vllm", "model_dir": "m", "dtype": "float32", "max_new_tokens": 4, "stop_ids": [1]},
            {0: "hi"}, [[0]])
    with pytest.raises(ValueError, match="eval.backend"):
        run({"backend": "tgi"}, {0: "hi"}, [[0]])
