"""Qwen2.5 / Qwen3 (Hermes-style) tool format.

Tools are listed as JSON lines inside ``<tools></tools>`` in the system turn; the assistant emits one
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` block per call; results come back in a user turn as
``<tool_response>`` blocks. The template below is used only for tokenizers without a template of their own (the
tiny test tokenizer); real Qwen tokenizers render with their shipped template.

Parsing: a call is a ``<tool_call>`` opener followed by a complete JSON call object (or a list of them); the closing
tag may be missing (generation stopped at ``<|im_end|>``), prose may surround the blocks, Qwen3 reasoning
(``<think>...</think>``) is skipped. Markdown code blocks: the ``<tool_call>`` token is what makes a call, so a
block inside a code fence is still recovered, while a bare JSON object in a fence (no opener) is not a call, as
vLLM's ``hermes`` parser would treat it.
"""

from __future__ import annotations

import json

from toolcall_dist.formats.base import ChatFormat
from toolcall_dist.formats.jsonscan import calls_in_value, cut_at, decode_at

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

OPEN = "<tool_call>"


def visible_part(text: str) -> str:
    """The answer part of a Qwen3 output: reasoning (``<think>...</think>``, or text before a bare ``</think>``
    when the prompt pre-filled ``<think>``) is dropped; a reasoning block cut off before ``</think>`` leaves nothing.
    A ``</think>`` that only appears after a call opener is inside the call's arguments and is left alone."""
    close = text.find("</think>")
    if text.lstrip().startswith("<think>"):  # markers inside the reasoning are only words
        return "" if close < 0 else text[close + len("</think>"):]
    if close >= 0 and text.find(OPEN, 0, close) < 0:
        return text[close + len("</think>"):]
    return text


class QwenFormat(ChatFormat):
    family = "qwen2_5"
    special_tokens = ("<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>",
                      "</tool_response>")
    eos = "<|im_end|>"
    chat_template = CHAT_TEMPLATE

    def _parse(self, text: str) -> list[dict]:
        """Every ``<tool_call>`` block whose JSON is complete, in order (a missing ``</tool_call>`` is tolerated).

        The JSON is decoded from the opener on, so a ``</tool_call>`` inside an argument string does not end the
        call; a block whose JSON is malformed or cut off is not a call, as a serving-side parser would drop it.
        """
        text = cut_at(visible_part(text), (self.eos, "<|endoftext|>"))
        calls, pos = [], 0
        while (i := text.find(OPEN, pos)) >= 0:
            pos = i + len(OPEN)
            found = decode_at(text, pos)
            if found is None:
                continue
            value, pos = found  # resume after the JSON: markers inside its strings are not openers
            calls.extend(calls_in_value(value) or [])
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
