"""One reply judged twice: decoded as BFCL's handler for the family decodes it, and by the project's lenient parser.

BFCL's runner turns a handler's outcome into a verdict in two ways (``eval_runner``): in the irrelevance categories
a reply passes when it is undecodable or decodes to no call, in ``live_relevance`` when it decodes to at least one
call; elsewhere an undecodable reply fails (``ast_decoder:decoder_failed``) and decoded calls go to the AST checker.
``judge`` applies that to ``formats.bfcl_decode`` and, for the diagnostic, the checker to ``ChatFormat.parse``.
"""

from __future__ import annotations

from toolcall_dist.eval.checker import check_entry
from toolcall_dist.formats.bfcl_decode import Decoded, bfcl_decode

DECODES = ("bfcl", "lenient")


def _verdict(valid: bool, error_type: str = "", error: str = "") -> dict:
    return {"valid": valid, "error_type": "" if valid else error_type, "error": "" if valid else error}


def bfcl_verdict(decoded: Decoded, entry: dict, category: str, underscore_to_dot: bool | None = None) -> dict:
    """BFCL's verdict on a decoded reply: ``{"valid", "error_type", "error"}``, as ``checker.check_entry``."""
    calls = decoded.calls
    if "irrelevance" in category:  # no call, or a reply that does not decode, is what irrelevance asks for
        return _verdict(not calls, "irrelevance:call_produced", f"{len(calls or [])} call(s) decoded, expected none")
    if "relevance" in category:
        return _verdict(bool(calls), "relevance:no_call", decoded.error or "decoded to no call")
    if calls is None:
        return _verdict(False, "ast_decoder:decoder_failed", decoded.error)
    # BFCL's checker reads arguments with .items(); where it would crash on other values the verdict is a failure.
    if any(not isinstance(c["arguments"], dict) for c in calls):
        return _verdict(False, "ast_decoder:decoder_wrong_output_format", "arguments that are not an object")
    return check_entry(calls, entry, category, underscore_to_dot=underscore_to_dot)


def judge(fmt, text: str, entry: dict, category: str, underscore_to_dot: bool | None = None) -> dict:
    """Both readings of ``text``: ``{"bfcl": {calls, decode_error, verdict}, "lenient": {calls, verdict}}``.

    ``bfcl.calls`` is ``None`` where BFCL's handler cannot decode the reply.
    """
    decoded = bfcl_decode(fmt.family, text)
    lenient = fmt.parse(text)
    return {"bfcl": {"calls": decoded.calls, "decode_error": decoded.error,
                     "verdict": bfcl_verdict(decoded, entry, category, underscore_to_dot)},
            "lenient": {"calls": lenient,
                        "verdict": check_entry(lenient, entry, category, underscore_to_dot=underscore_to_dot)}}


def jsonable(value):
    """``value`` with what JSON cannot hold made printable: BFCL's Llama handler reads Python literals (tuples,
    sets, bytes, non-string keys), which the per-entry JSONL still has to record."""
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int, float, bool)) or k is None else repr(k): jsonable(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
