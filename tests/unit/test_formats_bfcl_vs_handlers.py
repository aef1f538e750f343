"""``bfcl_decode`` and ``bfcl_prompt`` against BFCL's own handler code, run on real entries and many replies.

BFCL's handler modules import its base handler (which imports the OpenAI SDK) and the ``overrides`` package, neither
installed; the test loads each handler's source file with one-line stand-ins for those imports, so what runs is
BFCL's code, unchanged. The base handler only adds the server round trip, so the handlers are driven as BFCL's runner
drives them: the reply through ``_parse_query_response_prompting`` (an exception there is recorded by BFCL as an
error string, which does not decode), then ``decode_ast``. BFCL's Llama and Phi handlers ``eval`` model text: the
loaded modules' builtins lack imports, file access and attribute access by name, and the replies below are this
file's own and canitoolcall's fixed cases.
"""

from __future__ import annotations

import builtins
import glob
import importlib.util
import json
import os
import sys
import types

import pytest

from toolcall_dist.eval.bfcl import find_data_dir, load_category
from toolcall_dist.eval.prompts import bfcl_tools
from toolcall_dist.formats.bfcl_decode import bfcl_decode, served_text
from toolcall_dist.formats.bfcl_prompt import bfcl_prompt

pytestmark = pytest.mark.unit

HANDLERS = {"qwen2_5": ("qwen_fc", "QwenFCHandler"), "llama3": ("llama_3_1", "LlamaHandler_3_1"),
            "mistral": ("mistral_fc", "MistralFCHandler"), "phi4": ("phi_fc", "PhiFCHandler")}
# Code the handlers create at run time (eval'd text, generator expressions) reads the module's builtins: these.
SAFE_BUILTINS = {k: v for k, v in vars(builtins).items()
                 if k not in {"__import__", "open", "exec", "eval", "compile", "breakpoint", "input", "globals",
                              "locals", "vars", "getattr", "setattr", "delattr", "exit", "quit", "help"}}
CATEGORIES = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
              "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
              "live_irrelevance", "live_relevance")


@pytest.fixture(scope="module")
def handlers():
    """One BFCL handler object per family, built without ``__init__`` (which would start an API client)."""
    root = find_data_dir().parent / "model_handler" / "local_inference"
    base = types.ModuleType("bfcl_eval.model_handler.local_inference.base_oss_handler")
    base.OSSHandler = type("OSSHandler", (), {})
    overrides = types.ModuleType("overrides")
    overrides.override = overrides.final = lambda f: f
    utils = types.ModuleType("bfcl_eval.model_handler.utils")
    utils.convert_to_function_call = lambda calls: calls
    stand_ins = {m.__name__: m for m in (base, overrides, utils)}
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    out = {}
    try:
        for family, (module_name, cls) in HANDLERS.items():
            spec = importlib.util.spec_from_file_location(f"bfcl_reference_{module_name}", root / f"{module_name}.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.__builtins__ = SAFE_BUILTINS  # what the handlers' eval() of model text may reach
            out[family] = object.__new__(getattr(module, cls))
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    return out


def _response(text: str):
    choice = types.SimpleNamespace(text=text)
    return types.SimpleNamespace(choices=[choice], usage=types.SimpleNamespace(prompt_tokens=0, completion_tokens=0))


def bfcl_reference(handler, family: str, raw: str):
    """BFCL's decoded calls for a raw reply (``[{name: args}]``), or ``None`` where BFCL cannot decode it."""
    text = served_text(family, raw)  # what the server hands the handler
    try:
        result = text if family == "llama3" else handler._parse_query_response_prompting(_response(text))[
            "model_responses"]
        return handler.decode_ast(result, "python", False)
    except Exception:  # noqa: BLE001 - any exception is BFCL's "failed to decode"
        return None


def ours(family: str, raw: str):
    calls = bfcl_decode(family, raw).calls
    return None if calls is None else [{c["name"]: c["arguments"]} for c in calls]


Q = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
Q2 = '{"name": "get_time", "arguments": {"tz": "CET"}}'
L = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
L2 = '{"name": "get_time", "parameters": {"tz": "CET"}}'
HAND = {
    "qwen2_5": [f"<tool_call>\n{Q}\n</tool_call>", f"<tool_call>\n{Q}\n</tool_call><|im_end|>", f"<tool_call>\n{Q}",
                f"<tool_call>{Q}</tool_call>", f"```json\n{Q}\n```", Q, f"Sure.\n<tool_call>\n{Q}\n</tool_call>\nOK.",
                f"<tool_call>\n{Q}\n</tool_call>\n<tool_call>\n{Q2}\n</tool_call>",
                f"<tool_call>\n{{bad json}}\n</tool_call>\n<tool_call>\n{Q2}\n</tool_call>",
                "<tool_call>\n[1, 2]\n</tool_call>", '<tool_call>\n{"name": "f"}\n</tool_call>',
                '<tool_call>\n{"name": "f", "arguments": "{}"}\n</tool_call>',
                '<tool_call>\n{"name": ["f"], "arguments": {}}\n</tool_call>',
                f"<think>\nhmm\n</think>\n\n<tool_call>\n{Q}\n</tool_call>", f"<tool_call>\n{Q}\n</tool_call></think>",
                f"<tool_call>\n\n{Q}\n\n</tool_call>", "", "No tool fits this question.",
                '<tool_call>\n{"name": "f", "arguments": {"s": "a\n</tool_call>"}}\n</tool_call>'],
    "llama3": [L, f"<|python_tag|>{L}<|eom_id|>", f"{L}; {L2}", f"{L};", f"[{L}, {L2}]", f"{L}, {L2}", f"\n{L}",
               f"  \n {L}", Q, f"Here you go: {L}", f"```json\n{L}\n```", '{"name": "f", "parameters": {"x": true}}',
               "{'name': 'f', 'parameters': {'x': True}}", '{"name": "f", "parameters": {"q": "a; b"}}', "[]", "''",
               "42", "[1]", '{"name": ["f"], "parameters": {}}', "", "I cannot help with that.",
               '{"name": "f", "parameters": {"x": (1, 2)}}'],
    "mistral": [f"[TOOL_CALLS] [{Q}]</s>", f"[{Q}, {Q2}]", Q, f"[TOOL_CALLS] {Q}", "[]", "{}", '""', '"abc"', "null",
                "42", f"Sure: [{Q}]", f"[{Q}] trailing", '[{"name": "f"}]', '[{"name": "f", "arguments": "x"}]',
                "[[1]]", '[{"name": ["f"], "arguments": {}}]', "", "I cannot help with that."],
    "phi4": [f"<|tool_call|>[{Q}]<|/tool_call|>", f"<|tool_call|>{Q}<|/tool_call|>", f"<|tool_call|>{Q}, {Q2}",
             f"<|tool_call|>[{Q}]<|end|>", f"<|tool_call|>[{Q}]\n", f"Sure. <|tool_call|>[{Q}]<|/tool_call|> done",
             f"<|tool_call|>[{Q}]<|/tool_call|><|tool_call|>[{Q2}]<|/tool_call|>",
             f"<|tool_call|>[{Q}]<|/tool_call|><|tool_call|>bad<|/tool_call|>",
             '<|tool_call|>["{\'name\': \'f\', \'arguments\': {}}"]<|/tool_call|>', "<|tool_call|>[]<|/tool_call|>",
             '<|tool_call|>[{"name": "f", "arguments": {}, "id": 1}]<|/tool_call|>', f"functools[{Q}]", Q, "",
             '<|tool_call|>["not python"]<|/tool_call|>', '<|tool_call|>[{"name": ["f"], "arguments": {}}]'],
}


def _canitoolcall_texts() -> list[str]:
    spec = importlib.util.find_spec("canitoolcall")
    if spec is None or spec.origin is None:
        return []
    texts = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "_data", "fixtures", "*", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line).get("raw_output") or "" for line in f]
    return [t for t in texts if isinstance(t, str)]


@pytest.mark.parametrize("family", sorted(HANDLERS))
def test_decoding_agrees_with_the_handler(handlers, family):
    texts = HAND[family] + _canitoolcall_texts()
    assert len(texts) > 400  # canitoolcall's 469 replies of every family, plus the malformed shapes above
    disagree = [(t, ours(family, t), bfcl_reference(handlers[family], family, t)) for t in texts
                if ours(family, t) != bfcl_reference(handlers[family], family, t)]
    assert disagree == []
    outcomes = {ours(family, t) is None for t in texts} | {bool(ours(family, t)) for t in texts}
    assert outcomes == {True, False}  # decoded calls, no call and undecodable replies all occur


@pytest.mark.parametrize("family", sorted(HANDLERS))
def test_prompts_equal_the_handlers_on_every_single_turn_entry(handlers, family):
    n = 0
    for category in CATEGORIES:
        for entry in load_category(category):
            tools = bfcl_tools(entry["function"], category)
            messages = entry["question"][0]
            expected = handlers[family]._format_prompt(messages, tools)
            assert bfcl_prompt(family, messages, tools) == expected, entry["id"]
            n += 1
    assert n > 3600
