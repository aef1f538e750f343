"""Raw replies decoded as BFCL's handler for each family decodes them, expected calls worked out by hand.

The malformed shapes are the ones small models write: a missing closing tag, a missing newline, a fenced or bare
call, prose around the call, two blocks, invalid JSON in one of two blocks. ``None`` means BFCL's handler cannot
decode the reply (scored as "no call" in irrelevance, a failure elsewhere); ``[]`` means it decodes to no call.
"""

import pytest

from toolcall_dist.formats.bfcl_decode import bfcl_decode, served_text

pytestmark = pytest.mark.unit

W = {"name": "get_weather", "arguments": {"city": "Paris"}}
T = {"name": "get_time", "arguments": {"tz": "CET"}}
QW = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
QT = '{"name": "get_time", "arguments": {"tz": "CET"}}'


def calls(family: str, text: str):
    return bfcl_decode(family, text).calls


@pytest.mark.parametrize("family", ["qwen2_5", "qwen3", "smollm2"])
@pytest.mark.parametrize(("text", "expected"), [
    (f"<tool_call>\n{QW}\n</tool_call><|im_end|>", [W]),  # the well-formed reply, end token included
    (f"<tool_call>\n{QW}\n</tool_call>\n<tool_call>\n{QT}\n</tool_call>", [W, T]),  # two blocks, in order
    (f"<tool_call>\n{QW}", []),  # closing tag missing: the regex needs it
    (f"<tool_call>\n{QW}<|im_end|>", []),
    (f"<tool_call>{QW}</tool_call>", []),  # no newline after the opener and before the closer
    (f"<tool_call>\n{QW}</tool_call>", []),
    (f"```json\n{QW}\n```", []),  # fenced call without the tags
    (f"```\n<tool_call>\n{QW}\n</tool_call>\n```", [W]),  # a well-formed block inside a fence still counts
    (QW, []),  # bare JSON
    (f"Let me check.\n<tool_call>\n{QW}\n</tool_call>\nDone.", [W]),  # prose around the block
    (f"<tool_call>\n{{'name': 'f'}}\n</tool_call>\n<tool_call>\n{QT}\n</tool_call>", [T]),  # bad JSON block skipped
    (f"<tool_call>\n{QW},\n</tool_call>", []),  # the only block does not load: no call
    (f"<tool_call>\n[{QW}]\n</tool_call>", None),  # loads, but a list: the handler raises
    ('<tool_call>\n{"name": "f", "args": {}}\n</tool_call>', None),  # no "arguments" key
    ('<tool_call>\n{"name": "f", "arguments": "{\\"x\\": 1}"}\n</tool_call>', None),  # arguments as a JSON string
    (f"<think>\nThe user wants Paris.\n</think>\n\n<tool_call>\n{QW}\n</tool_call>", [W]),  # reasoning dropped
    (f"<tool_call>\n{QW}\n</tool_call>\n</think>\nNo call after all.", []),  # only text after the last </think>
    (f"<tool_call>\n\n{QW}\n\n</tool_call>", [W]),  # extra blank lines stay inside the JSON, which loads
    ("", []),
    ("I can't look that up.", []),
])
def test_qwen_hermes(family, text, expected):
    assert calls(family, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>', [W]),
    ('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>', [W]),
    ('{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {"tz": "CET"}}',
     [W, T]),  # BFCL splits on ";" and loads each piece as JSON
    ('[{"name": "get_weather", "parameters": {"city": "Paris"}}, {"name": "get_time", "parameters": {"tz": "CET"}}]',
     [W, T]),  # without ";", one Python literal: a list
    ('{"name": "get_weather", "parameters": {"city": "Paris"}}, {"name": "get_time", "parameters": {"tz": "CET"}}',
     [W, T]),  # ... or a tuple
    ('{"name": "get_weather", "parameters": {"city": "Paris"}};', None),  # the empty piece after ";" is not JSON
    ('{"name": "f", "parameters": {"q": "a; b"}}', None),  # a ";" inside a string splits the call apart
    ('{"name": "get_weather", "arguments": {"city": "Paris"}}', None),  # "arguments" is not read
    ('Here it is: {"name": "get_weather", "parameters": {"city": "Paris"}}', None),  # prose around the call
    ('```json\n{"name": "get_weather", "parameters": {"city": "Paris"}}\n```', None),  # fenced
    ('{"name": "f", "parameters": {"flag": true}}', None),  # JSON true is not a Python name BFCL's eval knows
    ("{'name': 'f', 'parameters': {'flag': True}}", [{"name": "f", "arguments": {"flag": True}}]),
    ("[]", []),
    ("", None),
])
def test_llama_3_1(text, expected):
    assert calls("llama3", text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (f"[TOOL_CALLS] [{QW}]</s>", [W]),  # the control token never reaches BFCL's handler
    (f"[TOOL_CALLS] [{QW}, {QT}]</s>", [W, T]),
    (f"[TOOL_CALLS] {QW}</s>", None),  # one object, not a list: iterating it gives its keys
    (f"[TOOL_CALLS] [{QW}] Done.</s>", None),  # text after the list: not JSON
    (f"Sure: [TOOL_CALLS] [{QW}]", None),  # prose before it
    (f"```json\n[{QW}]\n```", None),
    ("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", None),  # the v11 compact syntax
    ('[{"name": "get_weather", "parameters": {"city": "Paris"}}]', None),  # no "arguments"
    ("[]", []),
    ("{}", []),  # an empty object iterates to nothing
    ("I can't look that up.</s>", None),
])
def test_mistral(text, expected):
    assert calls("mistral", text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (f"<|tool_call|>[{QW}]<|/tool_call|><|end|>", [W]),
    (f"<|tool_call|>[{QW}]<|end|>", [W]),  # closing tag missing: one block to the end of the reply
    (f"<|tool_call|>{QW}, {QT}<|/tool_call|>", [W, T]),  # parallel calls without their list get one
    (f"<|tool_call|>[{QW}]<|/tool_call|><|tool_call|>[{QT}]<|/tool_call|>", [W, T]),  # two blocks
    (f"<|tool_call|>[{QW}]<|/tool_call|><|tool_call|>[oops<|/tool_call|>", None),  # one block is text
    (f"I'll call it: <|tool_call|>[{QW}]<|/tool_call|> then answer.", [W]),  # prose around the block
    (f"<|tool_call|>[{QW}]<|/tool_call|> and <|tool_call|>[{QT}]", [W]),  # an unclosed later block is not read
    ("<|tool_call|>[\"{'name': 'f', 'arguments': {}}\"]<|/tool_call|>", [{"name": "f", "arguments": {}}]),
    ('<|tool_call|>[{"name": "f", "arguments": {}, "type": "dict"}]<|/tool_call|>', None),  # a third key
    ("<|tool_call|>[]<|/tool_call|>", None),  # at least one call is needed
    (f"```json\n[{QW}]\n```", None),
    (QW, None),
])
def test_phi_4_mini(text, expected):
    assert calls("phi4", text) == expected


def test_served_text_cuts_at_the_stop_token_and_drops_control_tokens():
    assert served_text("qwen2_5", "<tool_call>\nx\n</tool_call><|im_end|>\nmore") == "<tool_call>\nx\n</tool_call>"
    assert served_text("mistral", "[TOOL_CALLS] [1]</s>[INST]") == " [1]"
    assert served_text("llama3", "<|python_tag|>{}<|eom_id|>{}") == "{}"
    assert served_text("phi4", "<|tool_call|>[]<|end|>x") == "<|tool_call|>[]"  # kept: Phi's handler reads it


def test_undecodable_replies_say_why_and_nothing_raises():
    assert "not a Python literal" in bfcl_decode("llama3", "get_weather(city='Paris')").error
    assert bfcl_decode("qwen2_5", "<tool_call>\n" + "[" * 100_000 + "\n</tool_call>").calls == []
    assert bfcl_decode("llama3", "[" * 100_000).calls is None
    assert bfcl_decode("phi4", None).calls is None
    with pytest.raises(ValueError, match="gpt9"):
        bfcl_decode("gpt9", "")
