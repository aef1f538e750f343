"""Qwen2.5, Llama 3, Mistral v3 and Phi-4-mini formats on tokenizers built the way the tiny models build theirs:
exact text, exact masked spans, prompt/completion split, and the parsers' tolerance of real model quirks."""

import json

import pytest
from formats_cases import CONV, CONV_PARALLEL, NO_TOOL, TOOLS, masked_segments

from toolcall_dist.formats import families, get_format
from toolcall_dist.formats.mistral import call_id
from toolcall_dist.models.tiny import _render, train_tokenizer

pytestmark = pytest.mark.unit

TOOLS_JSON = json.dumps(TOOLS)
ENVELOPE_JSON = json.dumps([{"type": "function", "function": t} for t in TOOLS])
TOKYO = {"name": "weather_forecast", "arguments": {"city": "Tokyo"}}
FAMILIES = ["qwen2_5", "llama3", "mistral", "phi4"]


@pytest.fixture(scope="module")
def toks():
    out = {}
    for family in FAMILIES:
        fmt = get_format(family)
        texts = [_render(fmt, c, TOOLS) for c in (CONV, CONV_PARALLEL)] * 10 + ["plain prose text"] * 5
        out[family] = train_tokenizer(texts, 600, family)
    return out


def test_every_family_is_registered_and_in_the_config_schema():
    from toolcall_dist.config import FAMILIES as SCHEMA_FAMILIES

    assert set(families()) == set(SCHEMA_FAMILIES) >= set(FAMILIES)


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model family 'gpt9'"):
        get_format("gpt9")


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_tokenizer_has_single_token_delimiters_and_the_family_template(toks, family):
    fmt, tok = get_format(family), toks[family]
    assert fmt.special_token_problems(tok) == []
    assert set(fmt.special_tokens) <= {t.content for t in tok.added_tokens_decoder.values()}  # never split by merges
    assert tok.chat_template == fmt.chat_template and tok.eos_token == fmt.eos
    assert fmt.template_for(tok) is None  # the family template is the tokenizer's own


LLAMA_TOOLS = "".join(json.dumps({"type": "function", "function": t}, indent=4) + "\n\n" for t in TOOLS)
EXPECTED_TEXT = {
    "qwen2_5": (
        "<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist "
        "with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + json.dumps({"type": "function", "function": TOOLS[0]})
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather in Tokyo?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n"
        '{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}\n</tool_call><|im_end|>\n'
        '<|im_start|>user\n<tool_response>\n{"temp_c": 12}\n</tool_response><|im_end|>\n'
        "<|im_start|>assistant\nIt is 12 C.<|im_end|>\n"
    ),
    "llama3": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a "
        "function call with its proper arguments that best answers the given prompt.\n\nRespond in the format "
        '{"name": function name, "parameters": dictionary of argument names and its value}.Do not use variables.\n\n'
        + LLAMA_TOOLS + "Weather in Tokyo?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        '{"name": "weather_forecast", "parameters": {"city": "Tokyo"}}<|eot_id|>'
        '<|start_header_id|>ipython<|end_header_id|>\n\n"{\\"temp_c\\": 12}"<|eot_id|>'
        "<|start_header_id|>assistant<|end_header_id|>\n\nIt is 12 C.<|eot_id|>"
    ),
    "mistral": (
        f"<s>[AVAILABLE_TOOLS] {ENVELOPE_JSON}[/AVAILABLE_TOOLS][INST] You are a helpful assistant.\n\n"
        "Weather in Tokyo?[/INST]"
        f'[TOOL_CALLS] [{{"name": "weather_forecast", "arguments": {{"city": "Tokyo"}}, "id": "{call_id(0, 0)}"}}]</s>'
        f'[TOOL_RESULTS] {{"content": {{"temp_c": 12}}, "call_id": "{call_id(0, 0)}"}}[/TOOL_RESULTS]'
        " It is 12 C.</s>"
    ),
    "phi4": (
        f"<|system|>You are a helpful assistant.<|tool|>{TOOLS_JSON}<|/tool|><|end|><|user|>Weather in Tokyo?<|end|>"
        '<|assistant|><|tool_call|>[{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}]<|/tool_call|>'
        '<|end|><|tool_response|>{"temp_c": 12}<|end|><|assistant|>It is 12 C.<|end|><|endoftext|>'
    ),
}
EXPECTED_MASKED = {
    "qwen2_5": ['<tool_call>\n{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}\n</tool_call><|im_end|>',
                "It is 12 C.<|im_end|>"],
    "llama3": ['{"name": "weather_forecast", "parameters": {"city": "Tokyo"}}<|eot_id|>', "It is 12 C.<|eot_id|>"],
    "mistral": [f'[TOOL_CALLS] [{{"name": "weather_forecast", "arguments": {{"city": "Tokyo"}}, "id": '
                f'"{call_id(0, 0)}"}}]</s>', " It is 12 C.</s>"],
    "phi4": ['<|tool_call|>[{"name": "weather_forecast", "arguments": {"city": "Tokyo"}}]<|/tool_call|><|end|>',
             "It is 12 C.<|end|>"],
}
PROMPT_END = {"qwen2_5": "Weather in Tokyo?<|im_end|>\n<|im_start|>assistant\n",
              "llama3": "<|start_header_id|>assistant<|end_header_id|>\n\n", "mistral": "Weather in Tokyo?[/INST]",
              "phi4": "<|user|>Weather in Tokyo?<|end|><|assistant|>"}


@pytest.mark.parametrize("family", FAMILIES)
def test_render_matches_hand_written_text(toks, family):
    assert get_format(family).render(toks[family], CONV, TOOLS) == EXPECTED_TEXT[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_masks_cover_exactly_the_call_and_the_answer(toks, family):
    fmt, tok = get_format(family), toks[family]
    ex = fmt.tokenize_conversation(tok, CONV, TOOLS)
    assert masked_segments(tok, ex, fmt.render(tok, CONV, TOOLS)) == EXPECTED_MASKED[family]
    # and the masked token ids decode to the same text: the mask starts and ends on token boundaries
    kept = tok.decode([i for i, m in zip(ex["input_ids"], ex["assistant_masks"], strict=True) if m])
    assert kept == "".join(EXPECTED_MASKED[family])


@pytest.mark.parametrize("family", FAMILIES)
def test_no_tool_conversation(toks, family):
    fmt, tok = get_format(family), toks[family]
    text = fmt.render(tok, NO_TOOL)
    assert "weather_forecast" not in text and "TOOLS" not in text and "<|tool|>" not in text and "<tools>" not in text
    segments = masked_segments(tok, fmt.tokenize_conversation(tok, NO_TOOL), text)
    assert [s.strip() for s in segments] == ["Hello!" + fmt.eos]


@pytest.mark.parametrize("family", FAMILIES)
def test_completion_follows_prompt_and_parses_back(toks, family):
    fmt, tok = get_format(family), toks[family]
    prompt = fmt.render_prompt(tok, CONV[:2], TOOLS)
    completion = fmt.render_completion(tok, CONV[:2], CONV[2], TOOLS)
    assert prompt.endswith(PROMPT_END[family])
    assert completion == EXPECTED_MASKED[family][0]
    assert fmt.render(tok, CONV, TOOLS).startswith(prompt + completion)
    assert fmt.parse(completion) == [TOKYO]


@pytest.mark.parametrize("family", FAMILIES)
def test_parallel_calls_render_in_one_turn_and_parse_back(toks, family):
    fmt, tok = get_format(family), toks[family]
    text, spans = fmt.assistant_spans(tok, CONV_PARALLEL, TOOLS)
    assert len(spans) == 2
    assert fmt.parse(text[spans[0][0]: spans[0][1]]) == [TOKYO, {**TOKYO, "arguments": {"city": "Paris"}}]


def test_mistral_ids_link_results_to_calls_and_keep_given_ids(toks):
    fmt = get_format("mistral")
    given = {**CONV_PARALLEL[2], "tool_calls": [{**tc, "id": f"abcdefgh{i}"}
                                                for i, tc in enumerate(CONV_PARALLEL[2]["tool_calls"])]}
    text = fmt.render(toks["mistral"], [*CONV_PARALLEL[:2], given, *CONV_PARALLEL[3:]], TOOLS)
    assert text.count('"id": "abcdefgh0"') == 1 and text.count('"call_id": "abcdefgh0"') == 1
    assert text.count('"call_id": "abcdefgh1"') == 1
    assert len({call_id(t, i) for t in range(5) for i in range(5)}) == 25


def test_llama_builtin_tool_call_uses_python_tag_and_eom(toks):
    fmt, tok = get_format("llama3"), toks["llama3"]
    search = {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "brave_search", "arguments": {"query": "Tokyo weather"}}}]}
    text = tok.apply_chat_template([*CONV[:2], search], tools=None, chat_template=fmt.chat_template, tokenize=False,
                                   builtin_tools=["brave_search", "wolfram_alpha"], date_string="26 Jul 2024")
    assert "Environment: ipython\nTools: brave_search, wolfram_alpha\n\n" in text
    assert text.endswith('<|python_tag|>brave_search.call(query="Tokyo weather")<|eom_id|>')
    assert fmt.parse(text.split("<|end_header_id|>\n\n")[-1]) == [
        {"name": "brave_search", "arguments": {"query": "Tokyo weather"}}]


A = '{"name": "a", "parameters": {"x": 1}}'
PARSE_CASES = [
    # Llama: bare JSON, python tag, prose around, parallel, arguments key, fences and non-calls
    ("llama3", A, [{"name": "a", "arguments": {"x": 1}}]),
    ("llama3", "<|python_tag|>" + A + "<|eom_id|>", [{"name": "a", "arguments": {"x": 1}}]),
    ("llama3", "Sure! " + A + " Let me know.", [{"name": "a", "arguments": {"x": 1}}]),
    ("llama3", A + "; " + A.replace('"a"', '"b"'), [{"name": "a", "arguments": {"x": 1}},
                                                   {"name": "b", "arguments": {"x": 1}}]),
    ("llama3", '{"name": "a", "arguments": {"x": 1}}', [{"name": "a", "arguments": {"x": 1}}]),
    ("llama3", "```json\n" + A + "\n```", []),  # fenced JSON is shown text, not a call
    ("llama3", '{"name": "w", "parameters": {"code": "```py\\nx\\n```"}}', [{"name": "w",
                                                                          "arguments": {"code": "```py\nx\n```"}}]),
    ("llama3", '{"name": "a", "parameters": {"x": 1}', []),  # cut off
    ("llama3", '{"city": "Tokyo"}', []),
    ("llama3", "<|eot_id|>" + A, []),
    ("llama3", '<|python_tag|>wolfram_alpha.call(query="2+2 (sum)")', [{"name": "wolfram_alpha",
                                                                         "arguments": {"query": "2+2 (sum)"}}]),
    ("llama3", "<|python_tag|>os.call(__import__('os').system('x'))", []),  # not literals: never evaluated
    # Mistral: v3 list, missing eos, prose before, compact v11 syntax, fenced, malformed
    ("mistral", '[TOOL_CALLS] [{"name": "a", "arguments": {"x": 1}, "id": "abcdefghi"}]',
     [{"name": "a", "arguments": {"x": 1}}]),
    ("mistral", 'I will check. [TOOL_CALLS] [{"name": "a", "arguments": {}}]</s>', [{"name": "a", "arguments": {}}]),
    ("mistral", '[TOOL_CALLS]a[ARGS]{"x": 1}', [{"name": "a", "arguments": {"x": 1}}]),
    ("mistral", '```\n[TOOL_CALLS] [{"name": "a", "arguments": {}}]\n```', [{"name": "a", "arguments": {}}]),
    ("mistral", '[{"name": "a", "arguments": {}}]', []),  # no [TOOL_CALLS]: prose
    ("mistral", '[TOOL_CALLS] [{"name": "a", "arguments": {"x": ', []),
    ("mistral", '[TOOL_CALLS] [{"name": "a", "arguments": {}}, {"arguments": {}}]', []),  # one bad entry: no call
    # Phi: block, missing close tag, prose, functools marker, fenced, malformed
    ("phi4", '<|tool_call|>[{"name": "a", "arguments": {"x": 1}}]<|/tool_call|>',
     [{"name": "a", "arguments": {"x": 1}}]),
    ("phi4", '<|tool_call|>[{"name": "a", "arguments": {"x": 1}}]', [{"name": "a", "arguments": {"x": 1}}]),
    ("phi4", 'Checking. <|tool_call|>{"name": "a", "arguments": {}}<|/tool_call|> Done.', [{"name": "a",
                                                                                            "arguments": {}}]),
    ("phi4", 'functools[{"name": "a", "arguments": {"x": 1}}]', [{"name": "a", "arguments": {"x": 1}}]),
    ("phi4", '```\n<|tool_call|>[{"name": "a", "arguments": {}}]<|/tool_call|>\n```', [{"name": "a",
                                                                                         "arguments": {}}]),
    ("phi4", '<|tool_call|>[{"name": "a", "arguments": {"x": </|tool_call|>', []),
    ("phi4", '<|end|><|tool_call|>[{"name": "a", "arguments": {}}]', []),
    # Qwen: prose, parallel blocks, arguments as a JSON string, a cut-off close tag, malformed or nameless calls, a
    # call after the turn ended, a delimiter inside an argument string, reasoning skipped, fences
    ("qwen2_5", "I'm sorry, I can't check the weather.", []),
    ("qwen2_5", '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", '
     '"arguments": {"y": [1, 2]}}\n</tool_call>', [{"name": "a", "arguments": {"x": 1}},
                                                   {"name": "b", "arguments": {"y": [1, 2]}}]),
    ("qwen2_5", '<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>',
     [{"name": "a", "arguments": {"x": 1}}]),
    ("qwen2_5", '<tool_call>{"name": "a", "arguments": {"x": 1}}', [{"name": "a", "arguments": {"x": 1}}]),
    ("qwen2_5", '<tool_call>{"name": "a", "arguments": {"x": </tool_call>', []),
    ("qwen2_5", '<tool_call>{"arguments": {}}</tool_call>', []),
    ("qwen2_5", '<tool_call>["a"]</tool_call>', []),
    ("qwen2_5", '<|im_end|><tool_call>{"name": "a", "arguments": {}}</tool_call>', []),
    ("qwen2_5", '<tool_call>{"name": "e", "arguments": {"t": "</tool_call>"}}</tool_call>',
     [{"name": "e", "arguments": {"t": "</tool_call>"}}]),
    ("qwen2_5", "<think>maybe <tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call></think>No call.", []),
    ("qwen2_5", '```\n<tool_call>{"name": "a", "arguments": {}}</tool_call>\n```', [{"name": "a", "arguments": {}}]),
    ("qwen2_5", '```json\n{"name": "a", "arguments": {}}\n```', []),
]


@pytest.mark.parametrize(("family", "text", "calls"), PARSE_CASES)
def test_parse(family, text, calls):
    assert get_format(family).parse(text) == calls


def test_mistral_masks_hold_when_tools_move_to_the_last_user_turn(toks):
    """The v3 template writes tools and system prompt at the *last* user turn, so an earlier turn's prompt is not a
    prefix of the whole conversation; its span is found from its own completion text instead."""
    fmt, tok = get_format("mistral"), toks["mistral"]
    conv = [CONV[0], {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}, *CONV[1:]]
    text = fmt.render(tok, conv, TOOLS)
    assert text.index("[AVAILABLE_TOOLS]") > text.index("Hello!")
    segments = masked_segments(tok, fmt.tokenize_conversation(tok, conv, TOOLS), text)
    assert segments == [" Hello!</s>", *EXPECTED_MASKED["mistral"]]
