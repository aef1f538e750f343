"""What kind of mistake a failed entry is: BFCL's error type refined into the few kinds a reader acts on.

Shared by the report (entries failing with each kind, per model stage: what SFT and DPO fixed) and the mine stage
(which tags its rejected replies ``mined:<kind>``). Pure: a BFCL error type, the decoded calls and the entry in,
a kind out.
"""

from __future__ import annotations

from toolcall_dist.eval.checker import check_entry
from toolcall_dist.eval.prompts import UNDERSCORE_TO_DOT

ERROR_TYPES = ("wrong_value", "missing_required", "unexpected_argument", "wrong_function", "wrong_count",
               "call_not_needed", "no_call")
NO_CALL_WANTED = ("irrelevance", "live_irrelevance")  # categories where any call is the mistake
# BFCL error type (the part after the colon) -> ours; type_error, value_error and the dict checkers are wrong values.
_BY_SUFFIX = {"wrong_count": "wrong_count", "wrong_func_name": "wrong_function",
              "function_not_found": "wrong_function", "missing_required": "missing_required",
              # an argument the answer needs though the schema calls it optional: the reply still left it out
              "missing_optional": "missing_required", "unexpected_param": "unexpected_argument"}


def error_kind(bfcl_type: str, calls: list[dict] | None, entry: dict, category: str) -> str:
    """The failure's kind among ``ERROR_TYPES``, from BFCL's error type, the decoded calls, the entry and its
    category.

    A parallel reply BFCL rejects as "cannot find a match" is looked at again: the first answer call no reply call
    matches is compared with the reply calls to the same function, which names what was wrong with them.
    """
    if category in NO_CALL_WANTED:
        return "call_not_needed"
    if not calls or bfcl_type.startswith("ast_decoder"):  # no call, or none BFCL's handler can read
        return "no_call"
    if bfcl_type.endswith("cannot_find_match"):
        return _unmatched_error(calls, entry)
    return _BY_SUFFIX.get(bfcl_type.rpartition(":")[2], "wrong_value")


def _unmatched_error(calls: list[dict], entry: dict) -> str:
    matched = set()
    for answer in entry["ground_truth"]:  # greedy, in the answer's order, as BFCL matches parallel calls
        name = next(iter(answer))
        func = next((f for f in entry["function"] if f["name"] == name), None)
        if func is None:
            return "wrong_function"
        one = {"id": entry["id"], "function": [func], "ground_truth": [answer]}
        verdicts = {j: check_entry([c], one, "simple_python", underscore_to_dot=UNDERSCORE_TO_DOT)
                    for j, c in enumerate(calls) if j not in matched}
        hit = next((j for j, v in verdicts.items() if v["valid"]), None)
        if hit is not None:
            matched.add(hit)
            continue
        same = [j for j in verdicts if calls[j].get("name") == name]
        if not same:
            return "wrong_function"
        return error_kind(verdicts[same[0]]["error_type"], [calls[same[0]]], entry, "simple_python")
    return "wrong_value"  # every answer call matched one: BFCL would not have failed the reply


def error_counts(failures: list[tuple[str, list[dict] | None, dict, str]]) -> dict[str, int]:
    """Entries per kind (every kind present, 0 where none) for ``(bfcl_type, calls, entry, category)`` failures."""
    counts = dict.fromkeys(ERROR_TYPES, 0)
    for failure in failures:
        counts[error_kind(*failure)] += 1
    return counts
