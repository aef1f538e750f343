"""What every family format shares: rendering through the tokenizer's chat template and assistant-token masks.

A family module subclasses ``ChatFormat`` with its delimiter tokens, a parser for its call syntax, and a template
used only for tokenizers that ship none (the tiny test tokenizer). Rendering always goes through
``tokenizer.apply_chat_template`` so training text is exactly what the serving stack will produce.
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


class ChatFormat:
    """Base class; subclasses set the class attributes and implement ``parse``."""

    family: str = ""
    special_tokens: tuple[str, ...] = ()  # must each be a single token in the deployed tokenizer
    eos: str = ""  # end of an assistant turn
    chat_template: str = ""  # used only when the tokenizer has no template of its own

    def parse(self, text: str) -> list[dict]:
        """Calls found in generated text as ``[{"name": str, "arguments": dict}]``; ``[]`` when there are none."""
        raise NotImplementedError

    # --- rendering -------------------------------------------------------------------------------------------
    def render(self, tokenizer, messages: list[Message], tools: list[dict] | None = None,
               add_generation_prompt: bool = False) -> str:
        """The conversation as the family's chat template writes it."""
        template = None if getattr(tokenizer, "chat_template", None) else self.chat_template
        return tokenizer.apply_chat_template(
            messages, tools=as_template_tools(tools), chat_template=template, tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )

    def render_prompt(self, tokenizer, messages: list[Message], tools: list[dict] | None = None) -> str:
        """Text up to and including the assistant header: what generation starts from."""
        return self.render(tokenizer, messages, tools, add_generation_prompt=True)

    def render_completion(self, tokenizer, prompt: list[Message], reply: Message, tools: list[dict] | None) -> str:
        """The assistant turn ``reply`` as text that follows ``render_prompt(prompt)``, ending at the eos token."""
        head = self.render_prompt(tokenizer, prompt, tools)
        full = self.render(tokenizer, [*prompt, reply], tools)
        if not full.startswith(head):
            raise ValueError(f"{self.family}: chat template is not prefix-stable; cannot split prompt/completion")
        return self._trim_after_eos(full[len(head):])

    def _trim_after_eos(self, text: str) -> str:
        # The newline a template writes after the eos token is not something the model should learn to emit.
        cut = text.rfind(self.eos)
        return text[: cut + len(self.eos)] if cut >= 0 else text.rstrip()

    def assistant_spans(self, tokenizer, messages: list[Message], tools: list[dict] | None = None
                        ) -> tuple[str, list[tuple[int, int]]]:
        """Full text and the character spans of each assistant turn (the loss-bearing text)."""
        full = self.render(tokenizer, messages, tools)
        spans = []
        for i, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            start = len(self.render_prompt(tokenizer, messages[:i], tools))
            end_text = self.render(tokenizer, messages[: i + 1], tools)
            if not full.startswith(end_text) or start > len(end_text):
                raise ValueError(f"{self.family}: chat template is not prefix-stable at message {i}")
            end = start + len(self._trim_after_eos(end_text[start:]))
            spans.append((start, end))
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
    def special_token_problems(self, tokenizer) -> list[str]:
        """Delimiters that are not one special token in ``tokenizer`` (invisible to a serving-side parser)."""
        problems = []
        for tok in self.special_tokens:
            ids = tokenizer.encode(tok, add_special_tokens=False)
            if len(ids) != 1:
                problems.append(f"{tok!r} encodes to {len(ids)} tokens {ids}, not one")
        return problems
