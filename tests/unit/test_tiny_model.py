"""The tiny model family: delimiters are single special tokens, the build is deterministic from its seed, and the
warm-up trains only on prose."""

import pytest

from toolcall_dist.data.mix import build_dataset
from toolcall_dist.data.prose import prose_only
from toolcall_dist.formats import get_format
from toolcall_dist.models.tiny import build_tiny

pytestmark = pytest.mark.unit

TINY = {"vocab_size": 600, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
        "intermediate_size": 64, "max_position_embeddings": 1024, "seed": 3, "warmup_examples": 24,
        "warmup_epochs": 1, "warmup_lr": 3e-3, "reading_steps": 0, "reading_batch_size": 32, "reading_lr": 3e-3}


def _convs(seed=5):
    pool = build_dataset(n=24, ratios={"good": 0.7, "no_tool": 0.3}, seed=seed, reference_date="2026-11-24")
    recs = pool["good"] + pool["no_tool"]
    return [{"messages": r["messages"], "tools": r["tools"]} for r in recs], prose_only(recs, seed=seed)


def _build(tmp_path, name, tiny=TINY):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    corpus, warm = _convs()
    out = build_tiny(tiny, "qwen2_5", corpus + warm, warm, tmp_path / name)
    return load_file(str(out / "model.safetensors")), AutoTokenizer.from_pretrained(out)


def test_build_is_deterministic_from_the_seed(tmp_path):
    w1, tok1 = _build(tmp_path, "a")
    w2, tok2 = _build(tmp_path, "b")
    w3, _ = _build(tmp_path, "c", {**TINY, "seed": 4})
    assert tok1.get_vocab() == tok2.get_vocab()
    assert w1.keys() == w2.keys() and all((w1[k] == w2[k]).all() for k in w1)
    assert any(not (w1[k] == w3[k]).all() for k in w1)


def test_saved_tokenizer_has_single_token_delimiters_and_the_chat_template(tmp_path):
    _, tok = _build(tmp_path, "a")
    fmt = get_format("qwen2_5")
    assert fmt.special_token_problems(tok) == []
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert "<tool_call>" in tok.chat_template


def test_prose_only_warmup_has_no_calls_and_restates_the_request():
    corpus, warm = _convs()
    # a follow-up negative (a call in its history, then a user question answered in prose) is left out
    followups = [c for c in corpus if any(m.get("tool_calls") for m in c["messages"])
                 and c["messages"][-2]["role"] == "user"]
    assert len(warm) == len(corpus) - len(followups)
    assert not any(m.get("tool_calls") for c in warm for m in c["messages"])
    assert all(c["messages"][-1]["role"] == "assistant" and c["messages"][-1]["content"] for c in warm)


def test_warmup_refuses_conversations_with_calls(tmp_path):
    corpus, _ = _convs()
    with pytest.raises(ValueError, match="prose-only"):
        build_tiny(TINY, "qwen2_5", corpus, corpus, tmp_path / "x")


def test_reading_drills_restate_the_request_without_tools_or_calls():
    from toolcall_dist.data.prose import reading_drills

    pool = build_dataset(n=40, ratios={"good": 1.0}, seed=11, reference_date="2026-11-24")
    drills = reading_drills(pool["good"], seed=0)
    assert len(drills) == 40
    for d, rec in zip(drills, pool["good"], strict=True):
        assert d["tools"] == [] and not any(m.get("tool_calls") for m in d["messages"])
        user, reply = rec["messages"][1]["content"], d["messages"][2]["content"]
        assert user in d["messages"][1]["content"]
        if reply != user:  # a details drill: every restated value comes from the request's own call arguments
            args = [str(v) for c in rec["messages"][2]["tool_calls"] for v in c["function"]["arguments"].values()]
            assert all(any(part in a for a in args) for part in reply.rstrip(".").split(", "))  # "1 Main St, Oslo"


@pytest.mark.parametrize(("family", "model_type"), [("llama3", "llama"), ("mistral", "mistral"), ("phi4", "phi3")])
def test_each_family_builds_its_architecture_with_its_delimiters_and_template(tmp_path, family, model_type):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus, warm = _convs()
    out = build_tiny(TINY, family, corpus + warm, warm, tmp_path / family)
    model, tok = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    fmt = get_format(family)
    assert model.config.model_type == model_type
    assert fmt.special_token_problems(tok) == [] and tok.chat_template == fmt.chat_template
    assert tok.eos_token == fmt.eos and model.config.vocab_size == len(tok)
    ends = model.generation_config.eos_token_id
    assert {tok.convert_tokens_to_ids(t) for t in fmt.turn_ends or (fmt.eos,)} == set(ends if isinstance(ends, list)
                                                                                     else [ends])
    # the warm-up trained on the family's own rendering: a prompt ends at the family's assistant header
    prompt = fmt.render_prompt(tok, corpus[0]["messages"][:2], corpus[0]["tools"])
    assert tok.decode(tok.encode(prompt, add_special_tokens=False)) == prompt


def test_copy_drills_repeat_the_text_they_ask_for_half_of_them_random():
    from toolcall_dist.data.prose import copy_drills

    pool = build_dataset(n=40, ratios={"good": 1.0}, seed=11, reference_date="2026-11-24")
    users = {r["messages"][1]["content"] for r in pool["good"]}
    drills = copy_drills(pool["good"], 200, seed=0)
    assert drills == copy_drills(pool["good"], 200, seed=0) and drills != copy_drills(pool["good"], 200, seed=1)
    assert len(drills) == 200
    for d in drills:
        assert d["tools"] == [] and not any(m.get("tool_calls") for m in d["messages"])
        ask, reply = d["messages"][1]["content"], d["messages"][2]["content"]
        assert ask.endswith(": " + reply)  # "Repeat after me: <text>" answered by exactly <text>
    random_texts = [d for d in drills if d["messages"][2]["content"] not in users]
    assert 60 <= len(random_texts) <= 140  # half, give or take: texts no prior can predict


def test_narration_names_the_function_and_values_but_makes_no_call():
    import random

    from toolcall_dist.data.prose import narration
    from toolcall_dist.formats.bfcl_decode import bfcl_decode

    calls = [{"type": "function", "function": {"name": "city_weather_forecast",
                                               "arguments": {"city": "Oslo", "date": "2026-11-25"}}},
             {"type": "function",
              "function": {"name": "portfolio_quotes", "arguments": {"tickers": ["AMZN", "TSLA"]}}}]
    text = narration(random.Random(0), calls)
    assert "city_weather_forecast with city Oslo, date 2026-11-25" in text
    assert "portfolio_quotes with tickers AMZN, TSLA" in text
    assert bfcl_decode("qwen2_5", text).calls == []  # BFCL's handler reads prose, not a call


def test_prose_only_narrates_the_share_asked_for():
    from toolcall_dist.data.prose import prose_only

    pool = build_dataset(n=200, ratios={"good": 1.0}, seed=11, reference_date="2026-11-24")
    replies = [c["messages"][-1]["content"] for c in prose_only(pool["good"], seed=0, narrate=0.5)]
    named = [r for r, rec in zip(replies, pool["good"], strict=True)
             if rec["messages"][2]["tool_calls"][0]["function"]["name"] + " with" in r]
    assert 70 <= len(named) <= 130
    assert not any(" with " in r and "_" in r for r in
                   (c["messages"][-1]["content"] for c in prose_only(pool["good"], seed=0)))


def test_reading_phase_trains_before_the_warm_up_and_refuses_calls(tmp_path):
    from safetensors.torch import load_file

    from toolcall_dist.data.prose import copy_drills

    corpus, warm = _convs()
    pool = build_dataset(n=24, ratios={"good": 1.0}, seed=5, reference_date="2026-11-24")
    reading = copy_drills(pool["good"], 40, seed=0)
    plain = load_file(str(build_tiny(TINY, "qwen2_5", corpus + warm, warm, tmp_path / "a") / "model.safetensors"))
    read = load_file(str(build_tiny({**TINY, "reading_steps": 3, "reading_batch_size": 8}, "qwen2_5",
                                    corpus + warm, warm, tmp_path / "b", reading=reading) / "model.safetensors"))
    assert any(not (plain[k] == read[k]).all() for k in plain)
    with pytest.raises(ValueError, match="prose-only"):
        build_tiny({**TINY, "reading_steps": 3}, "qwen2_5", corpus + warm, warm, tmp_path / "c", reading=corpus)


def test_build_trains_on_the_ids_its_saved_tokenizer_gives(tmp_path, monkeypatch):
    """The model type in config.json decides how the saved tokenizer loads (Qwen2's class splits digits one by one);
    the warm-up must see exactly the ids every later stage will feed the model."""
    from transformers import AutoTokenizer

    from toolcall_dist.models import tiny

    seen = []
    monkeypatch.setattr(tiny, "_train", lambda model, examples, *a, **k: seen.extend(examples))
    corpus, warm = _convs()
    out = build_tiny(TINY, "qwen2_5", corpus + warm, warm, tmp_path / "a")
    loaded = AutoTokenizer.from_pretrained(out)
    fmt = get_format("qwen2_5")
    assert [e["input_ids"] for e in seen] == [
        fmt.tokenize_conversation(loaded, c["messages"], c["tools"])["input_ids"] for c in warm]
    assert "2026" in warm[0]["messages"][0]["content"]  # a date in every system turn: digits are in every example
