"""Llama 3.1 / 3.2 tool format (JSON calls).

Turns are ``<|start_header_id|>ROLE<|end_header_id|>\\n\\n...<|eot_id|>``. With custom tools the system turn says
``Environment: ipython`` and the tool schemas go into the first user turn; the assistant answers with one JSON
object ``{"name": ..., "parameters": {...}}`` and ends the turn with ``<|eot_id|>``. Built-in tools (brave_search,
wolfram_alpha, code_interpreter, passed as ``builtin_tools``) are called as ``<|python_tag|>name.call(k="v")`` and
end with ``<|eom_id|>`` (end of message: the executor runs the call and the model continues). Tool output comes back
in the ``ipython`` role. The stock template allows one call per turn; several calls are written as JSON objects
joined by ``"; "`` (the convention vLLM's ``llama3_json`` parser reads), as assistant text, so the stock template and
this one render them alike.

Parsing: every JSON object with a string ``name`` and an object of ``parameters`` (or ``arguments``) is a call,
whether it opens the reply, follows ``<|python_tag|>`` or sits in prose; JSON objects without those keys are
content. Markdown code blocks: a call format without delimiters cannot tell a fenced JSON example from a call, so
a fenced block is reported as not-a-call (as vLLM's ``llama3_json`` parser, which needs the reply to start with
``{`` or ``<|python_tag|>``, would also miss it).
"""

from __future__ import annotations

import ast
import json
import re

from toolcall_dist.formats.base import ChatFormat, Message
from toolcall_dist.formats.jsonscan import Finder, cut_at, decode_or_skip, to_call

_HEADER = "<|start_header_id|>{}<|end_header_id|>\\n\\n"
_INSTRUCTIONS = (
    "Given the following functions, please respond with a JSON for a function call with its proper arguments that "
    "best answers the given prompt.\\n\\nRespond in the format {\\\"name\\\": function name, \\\"parameters\\\": "
    "dictionary of argument names and its value}.Do not use variables.\\n\\n"
)

# Written from Meta's prompt-format description; {% generation %} marks assistant text for HF's assistant masks.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- if date_string is not defined -%}{%- set date_string = '26 Jul 2024' -%}{%- endif -%}"
    "{%- if messages and messages[0].role == 'system' -%}"
    "{%- set system_message = messages[0].content | trim -%}{%- set messages = messages[1:] -%}"
    "{%- else -%}{%- set system_message = '' -%}{%- endif -%}"
    "{{- '" + _HEADER.format("system") + "' -}}"
    "{%- if builtin_tools is defined or tools -%}{{- 'Environment: ipython\\n' -}}{%- endif -%}"
    "{%- if builtin_tools is defined -%}"
    "{{- 'Tools: ' + builtin_tools | reject('equalto', 'code_interpreter') | join(', ') + '\\n\\n' -}}{%- endif -%}"
    "{{- 'Cutting Knowledge Date: December 2023\\nToday Date: ' + date_string + '\\n\\n' -}}"
    "{{- system_message + '<|eot_id|>' -}}"
    "{%- if tools -%}"
    "{%- if not messages -%}{{- raise_exception('Tools go into the first user message, and there is none') -}}"
    "{%- endif -%}"
    "{{- '" + _HEADER.format("user") + _INSTRUCTIONS + "' -}}"
    "{%- for t in tools -%}{{- t | tojson(indent=4) + '\\n\\n' -}}{%- endfor -%}"
    "{{- messages[0].content | trim + '<|eot_id|>' -}}{%- set messages = messages[1:] -%}"
    "{%- endif -%}"
    "{%- for m in messages -%}"
    "{%- if m.role == 'assistant' -%}"
    "{{- '" + _HEADER.format("assistant") + "' -}}{%- generation -%}"
    "{%- if m.tool_calls -%}"
    "{%- if m.tool_calls | length != 1 -%}{{- raise_exception('One tool call per assistant turn') -}}{%- endif -%}"
    "{%- set f = m.tool_calls[0].function if m.tool_calls[0].function is defined else m.tool_calls[0] -%}"
    "{%- if builtin_tools is defined and f.name in builtin_tools -%}"
    "{{- '<|python_tag|>' + f.name + '.call(' -}}"
    "{%- for k, v in f.arguments | items -%}{{- k + '=' + (v | tojson) -}}{%- if not loop.last -%}{{- ', ' -}}"
    "{%- endif -%}{%- endfor -%}{{- ')' -}}"
    "{%- else -%}{{- '{\"name\": \"' + f.name + '\", \"parameters\": ' + (f.arguments | tojson) + '}' -}}"
    "{%- endif -%}"
    "{{- '<|eom_id|>' if builtin_tools is defined else '<|eot_id|>' -}}"
    "{%- else -%}{{- m.content | trim + '<|eot_id|>' -}}{%- endif -%}"
    "{%- endgeneration -%}"
    "{%- elif m.role == 'tool' or m.role == 'ipython' -%}"
    "{{- '" + _HEADER.format("ipython") + "' -}}"
    "{%- if m.content is mapping or m.content is iterable -%}{{- m.content | tojson -}}"
    "{%- else -%}{{- m.content -}}{%- endif -%}{{- '<|eot_id|>' -}}"
    "{%- else -%}"
    "{{- '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content | trim + '<|eot_id|>' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '" + _HEADER.format("assistant") + "' -}}{%- endif -%}"
)

PYTHON_TAG = "<|python_tag|>"
FENCE = "```"
_BUILTIN_CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\.call\(")
_MAX_BUILTIN = 20_000  # characters of a built-in call handed to the (non-evaluating) Python parser
# Each JSON value nested past the decoder's recursion limit costs a full-depth attempt; a reply holding this many is
# adversarial, not a call, and the scan stops there (keeping the calls found before it) so its cost stays linear.
MAX_TOO_DEEP = 16


def _builtin_call(text: str, pos: int) -> tuple[dict | None, int]:
    """``name.call(k=literal, ...)`` at ``pos`` as a call (Python literals read with ``ast.literal_eval``)."""
    m = _BUILTIN_CALL.match(text, pos)
    if not m:
        return None, pos
    close = text.find(")", m.end())
    while close >= 0 and close - pos < _MAX_BUILTIN:
        try:
            node = ast.parse(text[m.start(1): close + 1].replace(".call(", "(", 1), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            close = text.find(")", close + 1)  # the ")" was inside a string argument: try the next one
            continue
        if not isinstance(node, ast.Call) or node.args or any(k.arg is None for k in node.keywords):
            return None, close + 1
        try:
            args = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return None, close + 1
        return {"name": m.group(1), "arguments": json.loads(json.dumps(args, default=str))}, close + 1
    return None, pos


def calls_text(calls: list[dict]) -> str:
    """Several calls as the assistant writes them: JSON objects joined by ``"; "``."""
    return "; ".join(json.dumps({"name": c["name"], "parameters": c["arguments"]}, ensure_ascii=False)
                     for c in calls)


class LlamaFormat(ChatFormat):
    family = "llama3"
    special_tokens = ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>",
                      PYTHON_TAG)
    eos = "<|eot_id|>"
    turn_ends = ("<|eot_id|>", "<|eom_id|>")
    bos = "<|begin_of_text|>"
    pad = "<|finetune_right_pad_id|>"
    chat_template = CHAT_TEMPLATE
    # The stock template stamps today's date into the system turn; a fixed date keeps training text reproducible.
    template_kwargs = {"date_string": "26 Jul 2024"}

    def prepare(self, messages: list[Message], tools: list[dict] | None) -> list[Message]:
        """A turn with several calls becomes assistant text (the stock template refuses more than one call)."""
        out = []
        for m in messages:
            if m.get("role") == "assistant" and len(m.get("tool_calls") or []) > 1:
                calls = [tc.get("function", tc) for tc in m["tool_calls"]]
                m = {"role": "assistant", "content": calls_text(calls)}
            out.append(m)
        return out

    def _parse(self, text: str) -> list[dict]:
        """Calls in order: JSON call objects anywhere outside code fences, and ``<|python_tag|>`` built-in calls.

        A fence is only a fence outside JSON: decoded objects are skipped whole, so a code block inside an argument
        string (a ``write_file`` content) does not hide the call.
        """
        text = cut_at(text, (*self.turn_ends, "<|end_of_text|>"))
        calls, pos, finder, too_deep = [], 0, Finder(text), 0
        while pos < len(text) and too_deep < MAX_TOO_DEEP:
            brace, tag, fence = (finder.find(m, pos) for m in ("{", PYTHON_TAG, FENCE))
            if fence >= 0 and all(fence < i or i < 0 for i in (brace, tag)):
                close = text.find(FENCE, fence + len(FENCE))  # a code block is shown text, never a call
                pos = len(text) if close < 0 else close + len(FENCE)
                continue
            if tag >= 0 and (brace < 0 or tag < brace):
                call, end = _builtin_call(text, tag + len(PYTHON_TAG))
                if call is not None:
                    calls.append(call)
                pos = max(end, tag + len(PYTHON_TAG))
                continue
            if brace < 0:
                break
            value, pos, status = decode_or_skip(text, brace)
            if status != "ok":  # not JSON: the next "{" may still start a call (past a too-deep run, which cannot)
                too_deep += status == "deep"
                continue
            # a JSON object that is not a call is content: its insides are not searched
            call = to_call(value, ("parameters", "arguments"))
            if call is not None:
                calls.append(call)
        return calls
