"""What every family format shares: rendering through a chat template, assistant-token masks, and the delimiter lint.

A family module subclasses ``ChatFormat`` with its delimiter tokens, a parser for its call syntax, and a template
used only for tokenizers that ship none with tool support (the tiny test tokenizers, SmolLM2). Rendering always goes
through ``tokenizer.apply_chat_template`` so training text is exactly what the serving stack will produce; a family
whose stock template ignores part of the conversation (Phi-4-mini's ignores ``tool_calls``) rewrites the messages
first in ``prepare``, so the stock template and the family template see the same thing.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]


def as_template_tools(tools: list[dict] | None) -> list[dict] | None:
    """Wrap bare ``{"name", "description", "parameters"}`` schemas in the OpenAI ``{"type": "function"}`` envelope."""
    if not tools:
        return None
    return [t if t.get("type") == "function" and "function" in t else {"type": "function", "function": t}
            for t in tools]


def template_supports_tools(template) -> bool:
    """Whether a tokenizer's own chat template reads a tool list (a template that never mentions tools drops them)."""
    if isinstance(template, dict):  # named templates: transformers picks "tool_use" when tools are passed
        template = template.get("tool_use") or template.get("default")
    return isinstance(template, str) and "tools" in template


class ChatFormat:
    """Base class; subclasses set the class attributes and implement ``_parse``."""

    family: str = ""
    special_tokens: tuple[str, ...] = ()  # must each be a single token in the deployed tokenizer
    eos: str = ""  # end of an assistant turn (the tiny tokenizer's eos token)
    turn_ends: tuple[str, ...] = ()  # every token that can end an assistant turn; () means (eos,)
    bos: str | None = None  # written by the template itself, never added by the tokenizer call
    pad: str = "<|endoftext|>"  # the tiny tokenizer's padding token
    chat_template: str = ""  # used only when the tokenizer has no tool-capable template of its own
    template_kwargs: dict[str, Any] = {}  # extra template variables that keep rendering deterministic

    # --- parsing ---------------------------------------------------------------------------------------------
    def parse(self, text: str) -> list[dict]:
        """Calls found in generated text as ``[{"name": str, "arguments": dict}]``; ``[]`` when there are none.

        Never raises and never evaluates the text: parsers only read JSON (and, for Llama's built-in tools,
        Python literals through ``ast.literal_eval``).
        """
        if not isinstance(text, str):
            return []
        try:
            return self._parse(text)
        except (ValueError, RecursionError, MemoryError):  # pathological input: no call rather than a crash
            return []

    def _parse(self, text: str) -> list[dict]:
        raise NotImplementedError

    # --- rendering -------------------------------------------------------------------------------------------
    def prepare(self, messages: list[Message], tools: list[dict] | None) -> list[Message]:
        """Family hook: messages as both the stock and the family template expect them (default: unchanged)."""
        return messages

    def template_for(self, tokenizer) -> str | None:
        """``None`` (use the tokenizer's own template) when it supports tools, else this family's template."""
        return None if template_supports_tools(getattr(tokenizer, "chat_template", None)) else self.chat_template

    def render(self, tokenizer, messages: list[Message], tools: list[dict] | None = None,
               add_generation_prompt: bool = False) -> str:
        """The conversation as the family's chat template writes it."""
        return tokenizer.apply_chat_template(
            self.prepare(messages, tools), tools=as_template_tools(tools), chat_template=self.template_for(tokenizer),
            tokenize=False, add_generation_prompt=add_generation_prompt, **self.template_kwargs,
        )

    def render_prompt(self, tokenizer, messages: list[Message], tools: list[dict] | None = None) -> str:
        """Text up to and including the assistant header: what generation starts from."""
        return self.render(tokenizer, messages, tools, add_generation_prompt=True)

    def render_completion(self, tokenizer, prompt: list[Message], reply: Message, tools: list[dict] | None) -> str:
        """The assistant turn ``reply`` as text that follows ``render_prompt(prompt)``, ending at its end token."""
        head = self.render_prompt(tokenizer, prompt, tools)
        full = self.render(tokenizer, [*prompt, reply], tools)
        if not full.startswith(head):
            raise ValueError(f"{self.family}: chat template is not prefix-stable; cannot split prompt/completion")
        return full[len(head): self._turn_end(full, len(head))]

    def _turn_end(self, text: str, start: int) -> int:
        """Index just past the first turn-end token at or after ``start`` (the assistant's last trained token)."""
        ends = [i + len(t) for t in (self.turn_ends or (self.eos,)) if (i := text.find(t, start)) >= 0]
        if not ends:
            raise ValueError(f"{self.family}: no end-of-turn token after position {start}")
        return min(ends)

    def assistant_spans(self, tokenizer, messages: list[Message], tools: list[dict] | None = None
                        ) -> tuple[str, list[tuple[int, int]]]:
        """Full text and the character spans of each assistant turn (the loss-bearing text).

        A turn starts where the generation prompt of the conversation before it ends, and ends just past its first
        turn-end token. Templates that move text between turns (Mistral writes the tools before the *last* user
        turn) are not prefix-stable for earlier turns; the turn's own completion text is then looked up after the
        previous span instead.
        """
        full = self.render(tokenizer, messages, tools)
        spans: list[tuple[int, int]] = []
        for i, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            head = self.render_prompt(tokenizer, messages[:i], tools)
            floor = spans[-1][1] if spans else 0
            if full.startswith(head) and len(head) >= floor:
                start = len(head)
            else:
                completion = self.render_completion(tokenizer, messages[:i], msg, tools)
                start = full.find(completion, floor)
                if not completion or start < 0:
                    raise ValueError(f"{self.family}: cannot locate assistant message {i} in the rendered text")
            spans.append((start, self._turn_end(full, start)))
        return full, spans

    def tokenize_conversation(self, tokenizer, messages: list[Message], tools: list[dict] | None = None
                              ) -> dict[str, list[int]]:
        """``input_ids`` and ``assistant_masks`` (1 on tokens inside an assistant turn) for SFT."""
        text, spans = self.assistant_spans(tokenizer, messages, tools)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        # A token is the assistant's when its character span overlaps an assistant turn's span.
        mask = [int(end > start and any(s < end and start < e for s, e in spans))
                for start, end in enc["offset_mapping"]]
        return {"input_ids": list(enc["input_ids"]), "assistant_masks": mask}

    # --- lint ------------------------------------------------------------------------------------------------
    def split_delimiters(self, tokenizer) -> dict[str, list[int]]:
        """Delimiters that are not one token in ``tokenizer``, with the token ids each became."""
        encoded = {tok: tokenizer.encode(tok, add_special_tokens=False) for tok in self.special_tokens}
        return {tok: ids for tok, ids in encoded.items() if len(ids) != 1}

    def special_token_problems(self, tokenizer) -> list[str]:
        """Delimiters that are not one token in ``tokenizer`` (invisible to a serving-side parser), one message
        each naming the delimiter and the pieces it became, e.g. ``'<tool_call>' became ['<', 'tool', ...]``."""
        return [f"{tok!r} became {[tokenizer.decode([i]) for i in ids]} (ids {ids}): a format delimiter must be one "
                "token" for tok, ids in self.split_delimiters(tokenizer).items()]
