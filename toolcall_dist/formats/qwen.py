"""Qwen2.5 / Qwen3 (Hermes-style) tool format.

Tools are listed as JSON lines inside ``<tools></tools>`` in the system turn; the assistant emits one
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` block per call; results come back in a user turn as
``<tool_response>`` blocks. The template below is used only for tokenizers without a template of their own (the
tiny test tokenizer); real Qwen tokenizers render with their shipped template.
"""

from __future__ import annotations

import json
import re

from toolcall_dist.formats.base import ChatFormat

_TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
    "\n</tool_call>"
)

# Written from the format's description; {% generation %} marks assistant text for HF's assistant-token masks.
CHAT_TEMPLATE = (
    "{%- set sys = messages[0].content if messages and messages[0].role == 'system' else "
    "'You are a helpful assistant.' -%}"
    "{%- if tools -%}"
    "{{- '<|im_start|>system\\n' + sys + '\\n\\n' + " + json.dumps(_TOOLS_PREAMBLE) + " -}}"
    "{%- for tool in tools -%}{{- '\\n' + (tool | tojson) -}}{%- endfor -%}"
    "{{- " + json.dumps(_TOOLS_FOOTER) + " + '<|im_end|>\\n' -}}"
    "{%- else -%}{{- '<|im_start|>system\\n' + sys + '<|im_end|>\\n' -}}{%- endif -%}"
    "{%- for m in messages -%}"
    "{%- if m.role == 'user' -%}{{- '<|im_start|>user\\n' + m.content + '<|im_end|>\\n' -}}"
    "{%- elif m.role == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}{%- generation -%}"
    "{%- if m.content -%}{{- m.content -}}{%- endif -%}"
    "{%- for tc in (m.tool_calls or []) -%}"
    "{%- set f = tc.function if tc.function is defined else tc -%}"
    "{%- if loop.first and not m.content -%}{{- '<tool_call>\\n' -}}"
    "{%- else -%}{{- '\\n<tool_call>\\n' -}}{%- endif -%}"
    "{{- '{\"name\": \"' + f.name + '\", \"arguments\": ' -}}"
    "{%- if f.arguments is string -%}{{- f.arguments -}}{%- else -%}{{- f.arguments | tojson -}}{%- endif -%}"
    "{{- '}\\n</tool_call>' -}}"
    "{%- endfor -%}{{- '<|im_end|>' -}}{%- endgeneration -%}{{- '\\n' -}}"
    "{%- elif m.role == 'tool' -%}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}"
    "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' -}}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

_CALL_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)


def _to_call(obj) -> dict | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some models emit the arguments object as a JSON string
        try:
            args = json.loads(args)
        except (ValueError, RecursionError):
            return None
    return {"name": obj["name"], "arguments": args} if isinstance(args, dict) else None


class QwenFormat(ChatFormat):
    family = "qwen2_5"
    special_tokens = ("<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>",
                      "</tool_response>")
    eos = "<|im_end|>"
    chat_template = CHAT_TEMPLATE

    def parse(self, text: str) -> list[dict]:
        """Every well-formed ``<tool_call>`` block, in order; a block cut off by the token limit still counts."""
        calls = []
        for body in _CALL_RE.findall(text.split(self.eos)[0]):
            try:
                obj = json.loads(body.strip())
            except (ValueError, RecursionError):
                continue  # a malformed block is not a call, as a serving-side parser would drop it
            call = _to_call(obj)
            if call is not None:
                calls.append(call)
        return calls


class SmolLM2Format(QwenFormat):
    """SmolLM2-Instruct: ChatML turns like Qwen's, but no tool tokens and a template without tool support.

    The same Hermes-style calls are used; the four tool delimiters are added to its tokenizer through the explicit
    ``model.add_format_tokens`` opt-in, and this module's template (which renders tools) replaces the shipped one.
    """

    family = "smollm2"
    # SmolLM2's own default system prompt, so a conversation without one reads as the model was tuned on.
    chat_template = CHAT_TEMPLATE.replace("'You are a helpful assistant.'",
                                          "'You are a helpful AI assistant named SmolLM, trained by Hugging Face'")
