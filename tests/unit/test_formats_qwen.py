"""The Qwen2.5 format: exact rendering, assistant-only masks, and parsing back to calls."""

import pytest

from toolcall_dist.formats import get_format
from toolcall_dist.models.tiny import train_tokenizer

pytestmark = pytest.mark.unit

TOOLS = [{"name": "weather_forecast", "description": "Forecast",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Weather in Tokyo?"}
CALL = {"role": "assistant", "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "weather_forecast", "arguments": {"city": "Tokyo"}}}]}
RESULT = {"role": "tool", "name": "weather_forecast", "content": '{"temp_c": 12}'}
ANSWER = {"role": "assistant", "content": "It is 12 C."}
CONV = [SYSTEM, USER, CALL, RESULT, ANSWER]


@pytest.fixture(scope="module")
def fmt():
    return get_format("qwen2_5")


@pytest.fixture(scope="module")
def tok(fmt):
    from toolcall_dist.models.tiny import _render

    return train_tokenizer([_render(fmt, CONV, TOOLS)] * 20 + ["plain prose text"] * 5, 600, "qwen2_5")


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model family 'gpt9'"):
        get_format("gpt9")


def test_delimiters_are_single_special_tokens(fmt, tok):
    assert fmt.special_token_problems(tok) == []
    added = {t.content for t in tok.added_tokens_decoder.values()}
    assert set(fmt.special_tokens) <= added  # added tokens: never split by BPE merges


def test_render_matches_hand_written_qwen_text(fmt, tok):
    text = fmt.render(tok, CONV, TOOLS)
    expected_tail = (
        "<|im_start|>user\nWeather in Tokyo?<|im_end|>\n"
        "<|im_start|>assistant\n<tool_call>\n"
        '{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n{\"temp_c\": 12}\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nIt is 12 C.<|im_end|>\n"
    )
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n")
    assert '<tools>\n{"type": "function", "function": {"name": "weather_forecast"' in text
    assert text.endswith(expected_tail)


def test_no_tools_renders_plain_chatml(fmt, tok):
    text = fmt.render(tok, [SYSTEM, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}])
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                    "<|im_start|>assistant\nHello!<|im_end|>\n")


def test_assistant_mask_covers_exactly_the_assistant_turns(fmt, tok):
    ex = fmt.tokenize_conversation(tok, CONV, TOOLS)
    kept = tok.decode([i for i, m in zip(ex["input_ids"], ex["assistant_masks"], strict=True) if m])
    assert kept == ('<tool_call>\n{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}\n</tool_call>'
                    "<|im_end|>It is 12 C.<|im_end|>")


def test_completion_follows_prompt_and_parses_back(fmt, tok):
    prompt = fmt.render_prompt(tok, [SYSTEM, USER], TOOLS)
    completion = fmt.render_completion(tok, [SYSTEM, USER], CALL, TOOLS)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert completion.endswith("</tool_call><|im_end|>")
    assert fmt.render(tok, [SYSTEM, USER, CALL], TOOLS).startswith(prompt + completion)
    assert fmt.parse(completion) == [{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}]


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ("I'm sorry, I can't check the weather.", []),
        ('<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", '
         '"arguments": {"y": [1, 2]}}\n</tool_call>', [{"name": "a", "arguments": {"x": 1}},
                                                       {"name": "b", "arguments": {"y": [1, 2]}}]),
        ('<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>', [{"name": "a", "arguments": {"x": 1}}]),
        ('<tool_call>{"name": "a", "arguments": {"x": 1}}', [{"name": "a", "arguments": {"x": 1}}]),  # cut off
        ('<tool_call>{"name": "a", "arguments": {"x": </tool_call>', []),  # malformed JSON is not a call
        ('<tool_call>{"arguments": {}}</tool_call>', []),  # no name
        ('<tool_call>["a"]</tool_call>', []),
        ('<|im_end|><tool_call>{"name": "a", "arguments": {}}</tool_call>', []),  # after the turn ended
    ],
)
def test_parse(fmt, text, calls):
    assert fmt.parse(text) == calls
