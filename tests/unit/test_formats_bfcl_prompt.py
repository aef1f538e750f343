"""Prompts written as BFCL's handler for each family writes them: hand-written expected texts for small entries."""

import pytest

from toolcall_dist.formats.bfcl_prompt import bfcl_prompt, mistral_tools

pytestmark = pytest.mark.unit

FN = {"name": "math.hypot", "description": "Hypotenuse. Note that the provided function is in Python 3 syntax.",
      "parameters": {"type": "dict", "properties": {"x": {"type": "float"}}, "required": ["x"]}}
FN_JSON = ('{"name": "math.hypot", "description": "Hypotenuse. Note that the provided function is in Python 3 '
           'syntax.", "parameters": {"type": "dict", "properties": {"x": {"type": "float"}}, "required": ["x"]}}')
USER = {"role": "user", "content": "Hypotenuse of 3 and 4?"}
QWEN_TOOLS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    + FN_JSON + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call><|im_end|>\n"
)


@pytest.mark.parametrize("family", ["qwen2_5", "qwen3", "smollm2"])
def test_qwen_lists_bare_function_docs_and_no_default_system_line(family):
    assert bfcl_prompt(family, [USER], [FN]) == (
        "<|im_start|>system\n" + QWEN_TOOLS
        + "<|im_start|>user\nHypotenuse of 3 and 4?<|im_end|>\n<|im_start|>assistant\n")


def test_qwen_puts_the_entry_system_text_before_the_tools_and_escapes_non_ascii():
    fn = {"name": "météo", "description": "Wetter", "parameters": {"type": "dict", "properties": {}}}
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Météo à Paris ?"},
                {"role": "assistant", "content": "Which day?"}, {"role": "user", "content": "Today."}]
    assert bfcl_prompt("qwen2_5", messages, [fn]) == (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist with the user "
        "query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"name": "m\\u00e9t\\u00e9o", "description": "Wetter", "parameters": {"type": "dict", "properties": {}}}'
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
        "</tool_call><|im_end|>\n"
        "<|im_start|>user\nMétéo à Paris ?<|im_end|>\n<|im_start|>assistant\nWhich day?<|im_end|>\n"
        "<|im_start|>user\nToday.<|im_end|>\n<|im_start|>assistant\n")
    assert bfcl_prompt("qwen2_5", messages[:2], []) == (  # no functions: the system turn stands alone
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nMétéo à Paris ?<|im_end|>\n"
        "<|im_start|>assistant\n")


def test_llama_writes_indented_docs_into_the_first_user_turn():
    assert bfcl_prompt("llama3", [{"role": "user", "content": "  Hypotenuse of 3 and 4?\n"}],
                       [{"name": "f", "parameters": {}}]) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a "
        "function call with its proper arguments that best answers the given prompt.\n\n"
        'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
        'Do not use variables.\n\n{\n    "name": "f",\n    "parameters": {}\n}\n\n'
        "Hypotenuse of 3 and 4?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")


def test_mistral_quotes_strings_unescaped_and_joins_the_system_text_to_the_last_turn():
    fn = {"name": "f", "description": 'Say "hi"', "parameters": {"type": "dict"}, "return": {"type": "str"}}
    assert mistral_tools([fn]) == ('[AVAILABLE_TOOLS][{"type": "function", "function": {"name": "f", '
                                   '"description": "Say "hi"", "parameters": {"type": "dict"}}}][/AVAILABLE_TOOLS]')
    assert bfcl_prompt("mistral", [{"role": "system", "content": "Be brief."}, USER], [fn]) == (
        "<s>" + mistral_tools([fn]) + "[INST]Be brief.\n\nHypotenuse of 3 and 4?[/INST]")


def test_phi_lists_json_lines_under_its_default_system_text():
    assert bfcl_prompt("phi4", [USER], [FN, FN]) == (
        "<|system|>You are a helpful assistant with some tools.<|tool|>" + FN_JSON + "\n" + FN_JSON + "\n"
        "<|/tool|><|end|><|user|>Hypotenuse of 3 and 4?<|end|><|assistant|>")


def test_multi_turn_entries_and_unknown_families_are_refused():
    with pytest.raises(ValueError, match="single-turn"):
        bfcl_prompt("qwen2_5", [USER, {"role": "tool", "content": "{}"}], [FN])
    with pytest.raises(ValueError, match="gpt9"):
        bfcl_prompt("gpt9", [USER], [FN])
