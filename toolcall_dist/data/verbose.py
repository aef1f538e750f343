"""Tools written the way real APIs (and BFCL's live categories) write them: long descriptions and many optional
parameters that the request does not touch.

The library's tools are terse: descriptions of ~45 characters, parameter descriptions of ~20, at most two optional
parameters. BFCL's live functions average ~110 and ~90 characters and carry up to 20 optional parameters (live
simple: 1.3 a function on average, live multiple 1.9). A model trained only on terse tools meets an unfamiliar
shape there, and the error BFCL counts most in it is filling a parameter the user never mentioned.
``verbose_share`` rewrites a share of the SFT records' tools: a second sentence for the function's description, each
parameter's description extended with whether it is required (and its default, as BFCL writes it: "Default is
'en'."), and 2-6 extra optional
parameters with defaults. The calls are unchanged, so the lesson is that an optional parameter the request does not
mention stays out of the call. The extra parameters' names are the project's own and never collide with a tool's.
"""

from __future__ import annotations

import random

from .bfcl_format import default_sentence
from .tools import copy_json

EXTRA_PARAMS: dict[str, dict] = {
    "response_language": {"type": "string", "enum": ["en", "de", "fr", "es", "ja"], "default": "en",
                          "description": "Language of the free-text fields in the response, as an ISO 639-1 code."},
    "include_metadata": {"type": "boolean", "default": False,
                         "description": "Whether the response also carries request metadata (timing, data source, "
                                        "cache status)."},
    "page_size": {"type": "integer", "default": 20,
                  "description": "Maximum number of items per page when the response is a list; larger lists are "
                                 "split into pages."},
    "region": {"type": "string", "default": "auto",
               "description": "Data region the request is served from; 'auto' picks the one nearest the user."},
    "timeout_seconds": {"type": "number", "default": 30.0,
                        "description": "How long to wait for the upstream service before giving up."},
    "sort_order": {"type": "string", "enum": ["asc", "desc"], "default": "asc",
                   "description": "Order of list results by their primary key."},
    "verbose": {"type": "boolean", "default": False,
                "description": "Return every available field instead of the summary fields only."},
    "dry_run": {"type": "boolean", "default": False,
                "description": "Validate the request and report what would happen, without doing it."},
    "max_retries": {"type": "integer", "default": 3,
                    "description": "How many times a failed upstream request is retried before an error is "
                                   "returned."},
    "cache_ttl_seconds": {"type": "integer", "default": 300,
                          "description": "How long a cached answer may be reused; 0 always asks the upstream "
                                         "service."},
    "client_version": {"type": "string", "default": "1.0",
                       "description": "Version of the calling client, for compatibility handling."},
    "output_format": {"type": "string", "enum": ["json", "text"], "default": "json",
                      "description": "Shape of the response body."},
}
DETAILS = (
    "The response is a JSON object; fields that do not apply to the request are left out.",
    "Results reflect the provider's most recent data at the time of the request.",
    "Errors are reported in an `error` field with a short message instead of raising.",
    "It only reads data: nothing is changed on the user's behalf.",
    "Values are validated before the request is sent, and an invalid one is reported back.",
    "Requests are rate-limited per user; a limited request returns an error that says when to retry.",
)


def verbose_tool(tool: dict, rng: random.Random) -> dict:
    """``tool`` with a longer description, each parameter's description saying whether it is required (and its
    default), and 2-6 extra optional parameters (a new dict; the calls that fit ``tool`` fit it too)."""
    out = copy_json(tool)
    out["description"] = f"{out.get('description', '').rstrip()} {rng.choice(DETAILS)}".lstrip()
    params = out["parameters"]
    props, required = params.setdefault("properties", {}), set(params.get("required", []))
    for name, prop in props.items():
        desc = prop.get("description", "").rstrip()
        if name in required:
            prop["description"] = f"{desc} Required."
        elif "default" in prop and "default" not in desc.lower():
            prop["description"] = f"{desc} Optional. {default_sentence(prop['default'])}"
        elif "default" not in prop:
            prop["description"] = f"{desc} Optional."
    free = [n for n in EXTRA_PARAMS if n not in props]
    for name in rng.sample(free, min(len(free), rng.randint(2, 6))):
        extra = copy_json(EXTRA_PARAMS[name])
        extra["description"] += f" Optional. {default_sentence(extra['default'])}"
        props[name] = extra
    return out


def verbose_share(records: list[dict], share: float, seed: int) -> int:
    """Rewrite the tools of ``share`` of ``records`` (chosen by ``seed``) with ``verbose_tool``, in place; returns
    how many."""
    if not 0 <= share <= 1:
        raise ValueError(f"data.verbose_tools must be in [0, 1], got {share}")
    rng, n = random.Random(f"{seed}:verbose_tools"), 0
    for rec in records:
        if rng.random() < share:
            rec["tools"] = [verbose_tool(t, rng) for t in rec["tools"]]
            n += 1
    return n
