"""Replies decoded as BFCL's function-calling handler of each family decodes them (bfcl-eval 2026.3.23).

BFCL scores the text its OpenAI-compatible server returns, after the family handler turns it into calls; the
project's parsers (``ChatFormat.parse``) are more lenient on purpose. ``bfcl_decode(family, text)`` reproduces the
handler's outcome, reimplemented here (BFCL's handler modules import provider SDKs, and the Llama handler runs
``eval`` on model text):

- **The served text.** The server ends a reply at the stop token and leaves it out, and it drops the tokens the
  family's published tokenizer marks special (vLLM's ``skip_special_tokens``, which these handlers leave on). So
  the reply is cut at its first end-of-turn token, and Llama's and Mistral's control tokens (``<|python_tag|>``,
  ``[TOOL_CALLS]``, ...) are removed. Qwen's ``<tool_call>`` and Phi's ``<|tool_call|>`` stay: they are not special
  tokens there, and the handlers look for them.
- **Qwen / Hermes** (``QwenFCHandler``; Qwen2.5, Qwen3 and SmolLM2 here): text after the last ``</think>``; only
  ``<tool_call>\\n(.*?)\\n</tool_call>`` blocks (DOTALL) count. A block whose JSON does not load is skipped, the
  other blocks still count. Any loaded block that is not an object, lacks ``name`` or ``arguments``, or whose
  arguments are not an object makes the whole reply undecodable.
- **Llama 3.1** (``LlamaHandler_3_1``): with a ``;`` anywhere, every ``;``-separated piece must be JSON; otherwise
  the whole text must be one Python literal (BFCL calls ``eval``; ``ast.literal_eval`` here, so a reply that only
  evaluates as Python code, arithmetic or names, is undecodable here). A dict is one call; each call needs ``name``
  and ``parameters`` (``arguments`` is not read).
- **Mistral** (``MistralFCHandler``): the whole text must be JSON: a list of objects with ``name`` and
  ``arguments``; an empty list, ``{}`` or ``""`` is no call; anything else is undecodable.
- **Phi-4-mini** (``PhiFCHandler``): ``<|tool_call|>...<|/tool_call|>`` blocks, or, when there is none, one block
  from the first opener to the end of the text. A block not written as a list is wrapped in one; a block that is
  not JSON stays text; string elements are read as Python literals. Every element must be an object with exactly
  the keys ``name`` and ``arguments``, and there must be at least one, or the reply is undecodable.

The result is ``Decoded(calls, error)``: ``calls`` is ``[{"name", "arguments"}]`` as the handler produced them (values
unchecked: BFCL's checker judges them), or ``None`` when the handler fails to decode, which BFCL scores as "no call"
in the irrelevance categories and as a failure everywhere else; ``error`` says why.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, NamedTuple

from toolcall_dist.formats.jsonscan import cut_at


class Decoded(NamedTuple):
    """A reply as BFCL's handler decodes it: ``calls`` (``None``: undecodable) and the reason when undecodable."""

    calls: list[dict] | None
    error: str = ""


# What the server leaves out of a reply: the stop tokens end it; special tokens of the published tokenizer vanish.
_STOPS = {"qwen": ("<|im_end|>", "<|endoftext|>"), "llama": ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"),
          "mistral": ("</s>",), "phi": ("<|end|>", "<|endoftext|>")}
_SPECIAL = {"qwen": ("<|im_start|>",),
            "llama": ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|python_tag|>"),
            "mistral": ("<s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
                        "[TOOL_RESULTS]", "[/TOOL_RESULTS]"),
            "phi": ()}
HANDLERS = {"qwen2_5": "qwen", "qwen3": "qwen", "smollm2": "qwen", "llama3": "llama", "mistral": "mistral",
            "phi4": "phi"}

_QWEN_BLOCK = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)
_PHI_BLOCK = re.compile(r"<\|tool_call\|>(.*?)<\|/tool_call\|>", re.DOTALL)
_PHI_OPEN_BLOCK = re.compile(r"<\|tool_call\|>(.*?)(?:<\|/tool_call\|>)?$", re.DOTALL)


class _Undecodable(Exception):
    """The handler (or the inference step before it) raised: BFCL records the reply as undecodable."""


def served_text(family: str, text: str) -> str:
    """The reply as BFCL's client receives it from the server: cut at the stop token, special tokens left out."""
    handler = HANDLERS[family]
    text = cut_at(text, _STOPS[handler])
    for token in _SPECIAL[handler]:
        text = text.replace(token, "")
    return text


def _call(name: Any, arguments: Any) -> dict:
    try:
        hash(name)  # BFCL keys a dict by the name: an unhashable one raises
    except TypeError:
        raise _Undecodable(f"function name {name!r} is not hashable") from None
    return {"name": name, "arguments": arguments}


def _pairs(items: Any, arg_key: str) -> list[dict]:
    """``items`` read as BFCL's handlers read them: iterated, each indexed by ``name`` and ``arg_key``."""
    try:
        return [_call(item["name"], item[arg_key]) for item in items]
    except _Undecodable:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the handler would raise on (TypeError, KeyError, ...)
        raise _Undecodable(f"not a list of calls with name and {arg_key}: {type(exc).__name__}: {exc}") from None


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except Exception as exc:  # noqa: BLE001 - SyntaxError, ValueError, MemoryError, RecursionError ...
        raise _Undecodable(f"not a Python literal: {type(exc).__name__}") from None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001
        raise _Undecodable(f"not JSON: {type(exc).__name__}") from None


def _qwen(text: str) -> list[dict]:
    if "</think>" in text:
        text = text.split("</think>")[-1].lstrip("\n")
    loaded = []
    for block in _QWEN_BLOCK.findall(text):
        try:
            loaded.append(json.loads(block))
        except Exception:  # noqa: BLE001, S112 - the handler skips a block that does not load
            continue
    if any(type(v) is not dict for v in loaded):
        raise _Undecodable("a <tool_call> block holds JSON that is not an object")
    calls = _pairs(loaded, "arguments")
    if any(not isinstance(c["arguments"], dict) for c in calls):
        raise _Undecodable("arguments that are not an object")
    return calls


def _llama(text: str) -> list[dict]:
    if ";" in text:
        values = [_json(piece) for piece in text.split(";")]
    else:
        value = _literal(text)
        values = [value] if type(value) is dict else value
    return _pairs(values, "parameters")


def _mistral(text: str) -> list[dict]:
    return _pairs(_json(text), "arguments")


def _phi(text: str) -> list[dict]:
    blocks = _PHI_BLOCK.findall(text) or _PHI_OPEN_BLOCK.findall(text)
    items = []
    for block in blocks:
        if not block.startswith("[") and not block.endswith("]"):
            block = "[" + block + "]"  # parallel calls written without their list
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            value = block  # kept as text, which fails the shape check below
        except Exception as exc:  # noqa: BLE001 - RecursionError: the inference step itself fails
            raise _Undecodable(f"not JSON: {type(exc).__name__}") from None
        if type(value) is list:
            items.extend(_literal(v) if type(v) is str else v for v in value)
        else:
            items.append(value)
    if not items or any(type(v) is not dict or set(v) != {"name", "arguments"} for v in items):
        raise _Undecodable("no <|tool_call|> block of objects with exactly name and arguments")
    return [_call(v["name"], v["arguments"]) for v in items]


_DECODERS = {"qwen": _qwen, "llama": _llama, "mistral": _mistral, "phi": _phi}


def bfcl_decode(family: str, text: str) -> Decoded:
    """``text`` (a raw reply, end token included or not) decoded as BFCL's handler for ``family`` decodes it.

    Never raises on any text and never evaluates it; an unknown family is a ``ValueError``.
    """
    if family not in HANDLERS:
        raise ValueError(f"no BFCL handler mirrored for family {family!r}; known: {sorted(HANDLERS)}")
    if not isinstance(text, str):
        return Decoded(None, f"not text: {type(text).__name__}")
    try:
        return Decoded(_DECODERS[HANDLERS[family]](served_text(family, text)))
    except _Undecodable as exc:
        return Decoded(None, str(exc))
    except (RecursionError, MemoryError) as exc:  # pathological text: undecodable, as the handler would fail
        return Decoded(None, type(exc).__name__)
