"""Prompts written as BFCL's function-calling handler of each family writes them (bfcl-eval 2026.3.23).

BFCL does not call a tokenizer's chat template: each open-weight handler builds the prompt text itself
(``_format_prompt``) from the entry's first turn and its function docs (already given the language hint; see
``eval.prompts.bfcl_tools``), and sends it to a completions endpoint. ``bfcl_prompt(family, messages, functions)``
writes the same text, character for character, for single-turn entries (system, user and plain assistant turns;
tool calls and tool results belong to multi-turn entries and raise ``ValueError``). Where it differs from the
family's chat template:

- **Qwen / Hermes** (``QwenFCHandler``; Qwen2.5, Qwen3, SmolLM2 here): each function is ``json.dumps(function)``
  on its own line inside ``<tools></tools>``, with no ``{"type": "function", "function": ...}`` envelope and with
  non-ASCII escaped; no default system line when the entry has none.
- **Llama 3.1** (``LlamaHandler_3_1``): tools as ``json.dumps(f, indent=4)`` in the first user turn, under BFCL's
  own instruction line; ``Environment: ipython`` and the fixed date always; turns stripped.
- **Mistral** (``MistralFCHandler``): ``[AVAILABLE_TOOLS][...]`` before the last user turn, each tool in the
  envelope with string values written between quotes *unescaped* and the ``return`` key left out; ``[INST]``
  without a space; the system text joins the last user turn only when that turn ends the conversation.
- **Phi-4-mini** (``PhiFCHandler``): ``json.dumps`` of each function on its own line inside ``<|tool|>``, and the
  default system text "You are a helpful assistant with some tools." when the entry has none.
"""

from __future__ import annotations

import json

from toolcall_dist.formats.bfcl_decode import HANDLERS

_QWEN_TOOLS_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_QWEN_TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
    "\n</tool_call><|im_end|>\n"
)
_LLAMA_SYSTEM = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
                 "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n")
_LLAMA_TOOLS_HEAD = (
    "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a "
    "function call with its proper arguments that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
    "Do not use variables.\n\n"
)
PHI_DEFAULT_SYSTEM = "You are a helpful assistant with some tools."


def _single_turn(messages: list[dict]) -> None:
    for m in messages:
        if m["role"] not in ("system", "user", "assistant") or m.get("tool_calls"):
            raise ValueError(f"BFCL prompts are written for single-turn entries; got a {m['role']!r} turn")


def _qwen(messages: list[dict], functions: list[dict]) -> str:
    first_is_system = messages[0]["role"] == "system"
    out = ""
    if functions:
        out += "<|im_start|>system\n" + (messages[0]["content"] + "\n\n" if first_is_system else "")
        out += _QWEN_TOOLS_HEAD + "".join("\n" + json.dumps(f) for f in functions) + _QWEN_TOOLS_TAIL
    elif first_is_system:
        out += f"<|im_start|>system\n{messages[0]['content']}<|im_end|>\n"
    # The last real user question: an assistant turn after it would get an (empty) reasoning block.
    last_query = max((i for i, m in enumerate(messages) if m["role"] == "user" and isinstance(m["content"], str)
                      and not (m["content"].startswith("<tool_response>")
                               and m["content"].endswith("</tool_response>"))), default=len(messages) - 1)
    for i, m in enumerate(messages):
        role, content = m["role"], m["content"]
        if role == "user" or (role == "system" and i != 0):
            out += f"<|im_start|>{role}\n{content}<|im_end|>\n"
        elif role == "assistant":
            reasoning = m.get("reasoning_content") or ""
            if not reasoning and "</think>" in content:
                parts = content.split("</think>")
                reasoning = parts[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
                content = parts[-1].lstrip("\n")
            if i > last_query and (i == len(messages) - 1 or reasoning):
                out += ("<|im_start|>assistant\n<think>\n" + reasoning.strip("\n") + "\n</think>\n\n"
                        + content.lstrip("\n"))
            else:
                out += f"<|im_start|>assistant\n{content}"
            for k, call in enumerate(m.get("tool_calls") or []):
                call = call.get("function", call)
                args = call["arguments"]
                out += ("\n" if k or content else "") + '<tool_call>\n{"name": "' + str(call["name"]) + \
                    '", "arguments": ' + (args if isinstance(args, str) else json.dumps(args)) + "}\n</tool_call>"
            out += "<|im_end|>\n"
        elif role == "tool":  # consecutive results share one user turn
            if i == 0 or messages[i - 1]["role"] != "tool":
                out += "<|im_start|>user"
            out += f"\n<tool_response>\n{content}\n</tool_response>"
            if i == len(messages) - 1 or messages[i + 1]["role"] != "tool":
                out += "<|im_end|>\n"
    return out + "<|im_start|>assistant\n"


def _llama(messages: list[dict], functions: list[dict]) -> str:
    system, rest = "", messages
    if messages[0]["role"] == "system":
        system, rest = messages[0]["content"].strip(), messages[1:]
    out = _LLAMA_SYSTEM + system + "<|eot_id|>"
    first_user = True
    for m in rest:
        if m["role"] == "user" and first_user:  # the tools go into the first user turn, even when there are none
            first_user = False
            out += _LLAMA_TOOLS_HEAD + "".join(json.dumps(f, indent=4) + "\n\n" for f in functions)
            out += m["content"].strip() + "<|eot_id|>"
        else:
            out += f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>"
    return out + "<|start_header_id|>assistant<|end_header_id|>\n\n"


def mistral_tools(functions: list[dict]) -> str:
    """BFCL's ``[AVAILABLE_TOOLS]`` block: string values are quoted as they are, not JSON-escaped."""
    docs = []
    for tool in functions:
        fields = (f'"{k}": "{v}"' if isinstance(v, str) else f'"{k}": {json.dumps(v)}'
                  for k, v in tool.items() if k != "return")
        docs.append('{"type": "function", "function": {' + ", ".join(fields) + "}}")
    return "[AVAILABLE_TOOLS][" + ", ".join(docs) + "][/AVAILABLE_TOOLS]"


def _mistral(messages: list[dict], functions: list[dict]) -> str:
    system, loop = None, messages
    if messages[0]["role"] == "system":
        system, loop = messages[0]["content"], messages[1:]
    users = [m for m in loop if m["role"] == "user"]
    out = "<s>"
    for i, m in enumerate(loop):
        if m["role"] == "user":
            if functions and m == users[-1]:  # compared by value, as BFCL does: an equal earlier turn gets them too
                out += mistral_tools(functions)
            if i == len(loop) - 1 and system:
                out += f"[INST]{system}\n\n{m['content']}[/INST]"
            else:
                out += f"[INST]{m['content']}[/INST]"
        elif m["role"] == "assistant":
            out += f"{m['content']}</s>"
    return out


def _phi(messages: list[dict], functions: list[dict]) -> str:
    if sum(m["role"] == "system" for m in messages) > 1:
        raise ValueError("BFCL's Phi handler takes at most one system message")
    system = PHI_DEFAULT_SYSTEM
    if messages[0]["role"] == "system":
        system, messages = messages[0]["content"], messages[1:]
    tools = "".join(json.dumps(f) + "\n" for f in functions)
    out = f"<|system|>{system}<|tool|>{tools}<|/tool|><|end|>"
    out += "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in messages)
    return out + "<|assistant|>"


_WRITERS = {"qwen": _qwen, "llama": _llama, "mistral": _mistral, "phi": _phi}


def bfcl_prompt(family: str, messages: list[dict], functions: list[dict]) -> str:
    """The prompt BFCL's handler for ``family`` sends for a single-turn entry's first turn ``messages`` with the
    (language-hinted) function docs ``functions``. ``ValueError`` for an unknown family or a multi-turn entry."""
    if family not in HANDLERS:
        raise ValueError(f"no BFCL handler mirrored for family {family!r}; known: {sorted(HANDLERS)}")
    if not messages:
        raise ValueError("an entry's first turn has no message")
    _single_turn(messages)
    return _WRITERS[HANDLERS[family]](messages, functions)


def bfcl_chat_prompt(family: str, messages: list[dict], functions: list[dict]) -> str:
    """The prompt BFCL's handler sends at a step of a multi-turn conversation: ``messages`` may hold assistant turns
    with ``tool_calls`` (``{"name", "arguments"}``, or wrapped under ``"function"``) and ``tool`` results.

    Written for the Qwen / Hermes handler (Qwen2.5, Qwen3, SmolLM2 here): the calls as ``<tool_call>`` blocks of
    the assistant turn, consecutive results as ``<tool_response>`` blocks of one user turn. ``ValueError`` for the
    other families, whose multi-turn text is not mirrored (the caller renders them with the chat template).
    """
    if HANDLERS.get(family) != "qwen":
        raise ValueError(f"BFCL's multi-turn prompt is mirrored for the Qwen/Hermes handler only, not {family!r}")
    if not messages:
        raise ValueError("a conversation has no message")
    return _qwen(messages, functions)


def has_chat_prompt(family: str) -> bool:
    """Whether ``bfcl_chat_prompt`` writes BFCL's multi-turn text for ``family``."""
    return HANDLERS.get(family) == "qwen"
