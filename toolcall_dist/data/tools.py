"""Tool library: clean JSON-Schema tools (``ALL_TOOLS``) backed by ``ToolSpec`` generation metadata.

To add tools, append ``ToolSpec`` objects to a domain module (or a new module listed in ``_MODULES``).
"""

from __future__ import annotations

from . import (
    tools_files,
    tools_health,
    tools_media,
    tools_numbers,
    tools_office,
    tools_outdoor,
    tools_places,
    tools_work,
)
from .toolspec import ToolSpec

_MODULES = (tools_outdoor, tools_office, tools_numbers, tools_places, tools_work, tools_media, tools_health,
            tools_files)

SPECS: list[ToolSpec] = [spec for mod in _MODULES for spec in mod.TOOLS]
SPEC_BY_NAME: dict[str, ToolSpec] = {s.name: s for s in SPECS}
if len(SPEC_BY_NAME) != len(SPECS):
    raise RuntimeError("duplicate tool names in the tool library")

ALL_TOOLS: list[dict] = [s.schema for s in SPECS]
DOMAINS: list[str] = sorted({s.domain for s in SPECS})

# Domains whose tools could plausibly serve each other's requests; never used as "irrelevant" distractors.
RELATED_DOMAINS: list[set[str]] = [{"math", "units", "finance"}, {"travel", "maps", "weather"},
                                   {"calendar", "messaging"}, {"food", "health", "shopping"}, {"files", "messaging"}]


def copy_json(obj):
    """Fast deep copy of JSON-like data (dict/list/scalars); faster than ``copy.deepcopy``."""
    if isinstance(obj, dict):
        return {k: copy_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_json(v) for v in obj]
    return obj


def get_spec(name: str) -> ToolSpec:
    """``ToolSpec`` for a tool name; raises KeyError with the known names if absent."""
    try:
        return SPEC_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known: {sorted(SPEC_BY_NAME)}") from None


def get_tool(name: str) -> dict:
    """Clean JSON-Schema dict of a tool (a fresh copy, safe to mutate)."""
    return copy_json(get_spec(name).schema)


def related(domain_a: str, domain_b: str) -> bool:
    """True if two domains are the same or could overlap in what they serve."""
    return domain_a == domain_b or any(domain_a in g and domain_b in g for g in RELATED_DOMAINS)


def specs_in_domain(domain: str) -> list[ToolSpec]:
    """All specs of one domain."""
    return [s for s in SPECS if s.domain == domain]


def library_subset(domains: list[str] | None) -> list[ToolSpec]:
    """The specs of ``domains`` (all of them for None); an unknown domain is a ValueError naming the known ones."""
    if domains is None:
        return list(SPECS)
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains:
        raise ValueError(f"data.domains: unknown domain(s) {unknown}; known: {DOMAINS}")
    return [s for s in SPECS if s.domain in domains]
