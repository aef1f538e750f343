"""BFCL entries become prompts as BFCL's function-calling mode prepares them; the held-out set as training did."""

import copy

import pytest

from toolcall_dist.eval.prompts import bfcl_tools, entry_prompt, to_tool

pytestmark = pytest.mark.unit

FN = {"name": "math.hypot", "description": "Hypotenuse.",
      "parameters": {"type": "dict", "required": ["x"], "properties": {
          "x": {"type": "float", "description": "side"},
          "pts": {"type": "tuple", "items": {"type": "integer"}},
          "opts": {"type": "dict", "properties": {"type": {"type": "string", "default": "dict"}}},
          "anything": {"type": "any"}}}}


def test_held_out_functions_become_the_json_schema_tools_of_training():
    assert to_tool(FN) == {"name": "math.hypot", "description": "Hypotenuse.",
                           "parameters": {"type": "object", "required": ["x"], "properties": {
                               "x": {"type": "number", "description": "side"},
                               "pts": {"type": "array", "items": {"type": "integer"}},
                               "opts": {"type": "object",
                                        "properties": {"type": {"type": "string", "default": "dict"}}},
                               "anything": {"type": "string"}}}}


def test_python_functions_keep_their_docs_and_get_the_language_hint():
    original = copy.deepcopy(FN)
    (tool,) = bfcl_tools([FN], "live_simple")
    assert FN == original  # the entry is not modified
    assert tool["name"] == "math.hypot"  # dots kept: BFCL's open-model FC handlers offer names verbatim
    assert tool["description"] == "Hypotenuse. Note that the provided function is in Python 3 syntax."
    assert tool["parameters"] == FN["parameters"]


def test_java_and_javascript_parameters_become_source_text_strings():
    java = {"name": "Store.put", "description": "Put.", "parameters": {"type": "dict", "required": ["ids"],
                                                                       "properties": {
        "ids": {"type": "ArrayList", "description": "Ids.", "items": {"type": "long"}},
        "obj": {"type": "any", "description": "Anything."}}}}
    (tool,) = bfcl_tools([java], "simple_java")
    assert tool["description"] == "Put. Note that the provided function is in Java 8 SDK syntax."
    assert tool["parameters"]["properties"] == {
        "ids": {"type": "string", "description": "Ids. This is Java ArrayList type parameter in string representation."
                " The list elements are of type long; they are not in string representation."},
        "obj": {"type": "string",
                "description": "Anything. This parameter can be of any type of Java object in string representation."}}
    js = {"name": "run", "description": "Run.", "parameters": {"type": "dict", "required": [], "properties": {
        "cfg": {"type": "dict", "description": "Cfg.", "properties": {"m": {"type": "String"}}}}}}
    (tool,) = bfcl_tools([js], "simple_javascript")
    assert tool["parameters"]["properties"]["cfg"] == {
        "type": "string", "description": "Cfg. This is JavaScript dict type parameter in string representation. The "
        "dictionary entries have the following schema; they are not in string representation. "
        '{"m": {"type": "String"}}'}


def test_entry_prompt_renders_in_the_family_template(shipped_tiny_model):
    from toolcall_dist.eval.generate import load_tokenizer
    from toolcall_dist.formats import get_format

    tiny_tokenizer = load_tokenizer(str(shipped_tiny_model))
    entry = {"id": "x", "category": "simple_python", "function": [FN],
             "question": [[{"role": "user", "content": "Hypotenuse of 3 and 4?"}]]}
    fmt = get_format("qwen2_5")
    bfcl = entry_prompt(fmt, tiny_tokenizer, entry, bfcl=True)
    held = entry_prompt(fmt, tiny_tokenizer, entry, bfcl=False)
    assert bfcl.endswith("<|im_start|>assistant\n") and "<tools>" in bfcl
    assert '"type": "float"' in bfcl and "Python 3 syntax" in bfcl and "math.hypot" in bfcl
    assert '"type": "number"' in held and "Python 3 syntax" not in held


def test_bfcl_prompt_mode_writes_the_handlers_text_and_template_mode_the_chat_template(shipped_tiny_model):
    from toolcall_dist.eval.generate import load_tokenizer
    from toolcall_dist.formats import get_format

    tok = load_tokenizer(str(shipped_tiny_model))
    fn = {"name": "f", "description": "F.", "parameters": {"type": "dict", "properties": {}}}
    entry = {"id": "x", "category": "simple_python", "function": [fn],
             "question": [[{"role": "user", "content": "Call f."}]]}
    fmt = get_format("qwen2_5")
    assert entry_prompt(fmt, tok, entry, bfcl=True, prompt="bfcl") == (
        "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"name": "f", "description": "F. Note that the provided function is in Python 3 syntax.", '
        '"parameters": {"type": "dict", "properties": {}}}\n</tools>\n\nFor each function call, return a json object '
        "with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nCall f.<|im_end|>\n<|im_start|>assistant\n")
    template = entry_prompt(fmt, tok, entry, bfcl=True, prompt="template")
    assert template.startswith("<|im_start|>system\nYou are a helpful assistant.\n\n")  # the template's default line
    assert '{"type": "function", "function": {"name": "f"' in template
    held_out = entry_prompt(fmt, tok, entry, bfcl=False, prompt="bfcl")  # the held-out set is never BFCL-written
    assert held_out == fmt.render_prompt(tok, entry["question"][0], [to_tool(fn)])
    with pytest.raises(ValueError, match="prompt"):
        entry_prompt(fmt, tok, entry, prompt="raw")
