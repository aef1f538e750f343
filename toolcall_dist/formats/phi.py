"""Phi-4-mini tool format.

Turns are ``<|ROLE|>CONTENT<|end|>``. Tool definitions are a JSON list inside ``<|tool|>...<|/tool|>`` in the
system turn; the assistant calls with ``<|tool_call|>[{"name": ..., "arguments": {...}}, ...]<|/tool_call|>`` and
results come back in a ``<|tool_response|>`` turn. The stock template renders every message as
``<|ROLE|>CONTENT<|end|>`` and reads tool definitions from the system message's ``tools`` field (not from
``apply_chat_template(tools=...)``), so ``prepare`` writes the tools there, the calls into the assistant text and
the results under the ``tool_response`` role; the stock template and this module's then render the same text.

Parsing: every ``<|tool_call|>`` block whose JSON (a list of calls or one call) is complete, closing tag optional;
``functools[...]``, the plain-text marker of the prompt vLLM's ``phi4_mini_json`` parser expects, is read too.
Markdown code blocks: the delimiter marks a call, so a delimited call inside a fence is recovered; bare fenced JSON
is not a call.
"""

from __future__ import annotations

import json

from toolcall_dist.formats.base import ChatFormat, Message
from toolcall_dist.formats.jsonscan import Finder, calls_in_value, cut_at, decode_at

OPEN, CLOSE = "<|tool_call|>", "<|/tool_call|>"
FUNCTOOLS = "functools"

# Written from the format's description; {% generation %} marks assistant text for HF's assistant masks. A finished
# conversation ends with <|endoftext|> (the stock template's eos token); a turn ends with <|end|>.
CHAT_TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if m.role == 'assistant' -%}"
    "{{- '<|assistant|>' -}}{%- generation -%}{{- m.content + '<|end|>' -}}{%- endgeneration -%}"
    "{%- elif m.role == 'system' and m.tools is defined and m.tools is not none -%}"
    "{{- '<|system|>' + m.content + '<|tool|>' + m.tools + '<|/tool|><|end|>' -}}"
    "{%- else -%}{{- '<|' + m.role + '|>' + m.content + '<|end|>' -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>' -}}{%- else -%}{{- '<|endoftext|>' -}}{%- endif -%}"
)


def calls_text(calls: list[dict]) -> str:
    """Calls as the assistant writes them: one ``<|tool_call|>`` block holding a JSON list."""
    body = json.dumps([{"name": c["name"], "arguments": c["arguments"]} for c in calls], ensure_ascii=False)
    return OPEN + body + CLOSE


class PhiFormat(ChatFormat):
    family = "phi4"
    special_tokens = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|tool|>", "<|/tool|>", OPEN, CLOSE,
                      "<|tool_response|>")
    eos = "<|end|>"
    pad = "<|endoftext|>"
    chat_template = CHAT_TEMPLATE

    def prepare(self, messages: list[Message], tools: list[dict] | None) -> list[Message]:
        """Tools into the system message, calls into assistant text, results under the ``tool_response`` role."""
        out = [dict(m) for m in messages]
        if tools:
            if not out or out[0].get("role") != "system":
                out.insert(0, {"role": "system", "content": ""})
            schemas = [t.get("function", t) if t.get("type") == "function" else t for t in tools]
            out[0]["tools"] = json.dumps(schemas, ensure_ascii=False)
        for m in out:
            if m.get("role") == "assistant" and m.get("tool_calls"):
                calls = [tc.get("function", tc) for tc in m.pop("tool_calls")]
                m["content"] = (m.get("content") or "") + calls_text(calls)
            elif m.get("role") == "tool":
                m["role"] = "tool_response"
            m["content"] = m.get("content") or ""
        return out

    def _parse(self, text: str) -> list[dict]:
        """Calls of every complete ``<|tool_call|>`` (or ``functools``) block, in order."""
        text = cut_at(text, (self.eos, "<|endoftext|>"))
        calls, pos, finder = [], 0, Finder(text)
        while True:
            hits = [(i, m) for m in (OPEN, FUNCTOOLS) if (i := finder.find(m, pos)) >= 0]
            if not hits:
                return calls
            i, marker = min(hits)
            pos = i + len(marker)
            found = decode_at(text, pos)
            if found is None or (marker == FUNCTOOLS and not isinstance(found[0], list)):
                continue
            calls.extend(calls_in_value(found[0]) or [])
            pos = found[1]
