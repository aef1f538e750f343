"""Mistral v0.3 tool format (tokenizer v3).

``<s>[AVAILABLE_TOOLS] [...][/AVAILABLE_TOOLS][INST] SYSTEM\\n\\nUSER[/INST]``: the tool list and the system prompt
are written at the *last* user turn. The assistant calls with ``[TOOL_CALLS] [{"name": ..., "arguments": {...},
"id": "abcDEF123"}, ...]</s>`` and answers with `` TEXT</s>``; results come back as
``[TOOL_RESULTS] {"content": ..., "call_id": "abcDEF123"}[/TOOL_RESULTS]``. The stock template requires a
9-character alphanumeric id on every call and on every result, so ``prepare`` gives calls without one a
deterministic id from their position and links each tool result to its call in order.

Parsing: after each ``[TOOL_CALLS]``, a JSON list of calls (v3) or a single call object; the later compact syntax
``[TOOL_CALLS]name[ARGS]{...}`` (tokenizer v11+, optionally with ``[CALL_ID]id``) is read too, so the parser serves
every Mistral generation. ``[THINK]...[/THINK]`` reasoning is skipped. Markdown code blocks: the ``[TOOL_CALLS]``
token marks a call, so a call inside a fence is recovered; a fenced JSON list without it is not a call.
"""

from __future__ import annotations

import hashlib
import re

from toolcall_dist.formats.base import ChatFormat, Message
from toolcall_dist.formats.jsonscan import calls_in_value, cut_at, decode_at

# Written from the v3 format's description; {% generation %} marks assistant text for HF's assistant masks.
CHAT_TEMPLATE = (
    "{%- if messages and messages[0].role == 'system' -%}"
    "{%- set system_message = messages[0].content -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- set user_messages = loop_messages | selectattr('role', 'equalto', 'user') | list -%}"
    "{{- bos_token -}}"
    "{%- for m in loop_messages -%}"
    "{%- if m.role == 'user' -%}"
    "{%- if tools and m == user_messages[-1] -%}"
    "{{- '[AVAILABLE_TOOLS] [' -}}"
    "{%- for t in tools -%}{{- t | tojson -}}{%- if not loop.last -%}{{- ', ' -}}{%- endif -%}{%- endfor -%}"
    "{{- '][/AVAILABLE_TOOLS]' -}}"
    "{%- endif -%}"
    "{%- if m == user_messages[-1] and system_message is defined -%}"
    "{{- '[INST] ' + system_message + '\\n\\n' + m.content + '[/INST]' -}}"
    "{%- else -%}{{- '[INST] ' + m.content + '[/INST]' -}}{%- endif -%}"
    "{%- elif m.role == 'assistant' -%}{%- generation -%}"
    "{%- if m.tool_calls -%}"
    "{{- '[TOOL_CALLS] [' -}}"
    "{%- for tc in m.tool_calls -%}"
    "{%- set f = tc.function if tc.function is defined else tc -%}"
    "{%- if tc.id is not defined or tc.id | length != 9 -%}"
    "{{- raise_exception('Tool call ids must be alphanumeric strings of length 9') -}}{%- endif -%}"
    "{{- '{\"name\": ' + (f.name | tojson) + ', \"arguments\": ' + (f.arguments | tojson)"
    " + ', \"id\": \"' + tc.id + '\"}' -}}"
    "{%- if not loop.last -%}{{- ', ' -}}{%- endif -%}"
    "{%- endfor -%}{{- ']' + eos_token -}}"
    "{%- else -%}{{- ' ' + m.content | trim + eos_token -}}{%- endif -%}"
    "{%- endgeneration -%}"
    "{%- elif m.role == 'tool' or m.role == 'tool_results' -%}"
    "{%- if m.tool_call_id is not defined or m.tool_call_id | length != 9 -%}"
    "{{- raise_exception('Tool call ids must be alphanumeric strings of length 9') -}}{%- endif -%}"
    "{{- '[TOOL_RESULTS] {\"content\": ' + m.content | string + ', \"call_id\": \"' + m.tool_call_id"
    " + '\"}[/TOOL_RESULTS]' -}}"
    "{%- else -%}{{- raise_exception('Only user, assistant and tool roles after an optional system message') -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
)

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_COMPACT = re.compile(r"\s*([^\s\[\]{}\"]+)(?:\[CALL_ID\]\s*[A-Za-z0-9_-]*)?\s*\[ARGS\]")
TOOL_CALLS = "[TOOL_CALLS]"


def call_id(turn: int, index: int) -> str:
    """A deterministic 9-character alphanumeric id for call ``index`` of assistant turn ``turn``."""
    digest = hashlib.sha256(f"{turn}:{index}".encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:9])


def _valid_id(value) -> bool:
    return isinstance(value, str) and len(value) == 9 and value.isascii() and value.isalnum()


class MistralFormat(ChatFormat):
    family = "mistral"
    special_tokens = ("<s>", "</s>", "[INST]", "[/INST]", TOOL_CALLS, "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
                      "[TOOL_RESULTS]", "[/TOOL_RESULTS]")
    eos = "</s>"
    bos = "<s>"
    pad = "<pad>"
    chat_template = CHAT_TEMPLATE

    def prepare(self, messages: list[Message], tools: list[dict] | None) -> list[Message]:
        """Calls get ids (kept when already valid), and tool results the id of the call they answer, in order."""
        out, pending, turn = [], [], 0
        for m in messages:
            if m.get("role") == "assistant" and m.get("tool_calls"):
                calls = []
                for j, tc in enumerate(m["tool_calls"]):
                    tc = dict(tc)
                    if not _valid_id(tc.get("id")):
                        tc["id"] = call_id(turn, j)
                    calls.append(tc)
                m = {**m, "tool_calls": calls}
                pending = [tc["id"] for tc in calls]
                turn += 1
            elif m.get("role") == "tool" and not _valid_id(m.get("tool_call_id")):
                m = {**m, "tool_call_id": pending.pop(0) if pending else call_id(turn, 99)}
            out.append(m)
        return out

    def _parse(self, text: str) -> list[dict]:
        """Calls after every ``[TOOL_CALLS]``: a JSON list (v3), one JSON object, or ``name[ARGS]{...}`` (v11+)."""
        text = cut_at(text, (self.eos,))
        if text.lstrip().startswith("[THINK]"):  # reasoning first: markers inside it are only words
            think_end = text.find("[/THINK]")
            if think_end < 0:
                return []  # reasoning cut off before it closed
            text = text[think_end + len("[/THINK]"):]
        calls, pos = [], 0
        while (i := text.find(TOOL_CALLS, pos)) >= 0:
            pos = i + len(TOOL_CALLS)
            compact = _COMPACT.match(text, pos)
            if compact:
                found = decode_at(text, compact.end())
                if found is not None and isinstance(found[0], dict):
                    calls.append({"name": compact.group(1), "arguments": found[0]})
                    pos = found[1]
                continue
            found = decode_at(text, pos)
            if found is not None:
                calls.extend(calls_in_value(found[0]) or [])
                pos = found[1]
        return calls
