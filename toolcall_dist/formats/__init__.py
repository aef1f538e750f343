"""Per-family tool-call formats: render conversations in the family's own template, parse output back to calls."""

from toolcall_dist.formats.base import ChatFormat
from toolcall_dist.formats.llama import LlamaFormat
from toolcall_dist.formats.mistral import MistralFormat
from toolcall_dist.formats.phi import PhiFormat
from toolcall_dist.formats.qwen import QwenFormat, SmolLM2Format

_FORMATS: dict[str, type[ChatFormat]] = {
    "qwen2_5": QwenFormat, "qwen3": QwenFormat, "smollm2": SmolLM2Format,
    "llama3": LlamaFormat, "mistral": MistralFormat, "phi4": PhiFormat,
}


def get_format(family: str) -> ChatFormat:
    """The format object of ``family``; raises ValueError naming the known families."""
    try:
        return _FORMATS[family]()
    except KeyError:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(_FORMATS)}") from None


def families() -> list[str]:
    """Every family name ``get_format`` knows."""
    return sorted(_FORMATS)


__all__ = ["ChatFormat", "families", "get_format"]
