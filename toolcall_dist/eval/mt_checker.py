"""BFCL's multi-turn verdict, reimplemented on the safe backends (``eval.mt_backends``).

An entry passes when, after every turn whose ground truth is not empty, two things hold (bfcl-eval 2026.3.23,
``multi_turn_checker``):

- **state**: every backend instance the model's calls drove has the same public attributes as the instance the
  ground-truth calls drove (both start from the entry's ``initial_config``; state carries over between turns);
- **responses**: every result of the turn's ground-truth calls is among the results of the model's calls so far,
  counted with repetition and in any order (a call made in an earlier turn counts).

Before that: a model that was stopped (BFCL's per-turn step limit, or a prompt that did not fit) has fewer turns
than the ground truth and fails the whole entry (``force_terminated``); a turn whose ground truth has calls but
where the model made none fails (``empty_turn_model_response``). A turn with an empty ground truth (the model
should not be able to act) is not checked itself, but whatever the model called in it still changes the state
the next turns are compared on. The model's steps are the decoded, non-empty ones; undecodable replies are left
out, as BFCL leaves them out.
"""

from __future__ import annotations

from toolcall_dist.eval.mt_backends import Backends


def is_long_context(category: str) -> bool:
    """Whether the backends load the long-context version of the scenario (BFCL: ``long_context`` in the name)."""
    return "long_context" in category


def _fail(kind: str, message: str, turn: int | None) -> dict:
    return {"valid": False, "error_type": f"multi_turn:{kind}", "error": message, "turn": turn}


def state_differences(model: Backends, truth: Backends) -> dict[str, list[str]]:
    """Per class, the public attributes whose values differ (BFCL compares every public attribute of the
    ground-truth instance with the model instance's attribute of the same name)."""
    out = {}
    for name, gt in truth.instances.items():
        mine = model.instances[name]
        diff = [attr for attr in vars(gt)
                if not attr.startswith("_") and getattr(mine, attr, None) != getattr(gt, attr)]
        if diff:
            out[name] = diff
    return out


def missing_responses(truth_results: list[str], model_results: list[str]) -> list[str]:
    """Ground-truth results not found among the model's, each model result used at most once."""
    pool = list(model_results)
    missing = []
    for item in truth_results:
        if item in pool:
            pool.remove(item)
        else:
            missing.append(item)
    return missing


def check_entry(turns: list[list[list[dict]]], entry: dict) -> dict:
    """BFCL's verdict on ``turns`` (per user turn, the decoded non-empty steps, each a list of
    ``{"name", "arguments"}``) for a multi-turn ``entry`` (``initial_config``, ``involved_classes``,
    ``ground_truth``: per turn a list of call strings, ``category``).

    Returns ``{"valid", "error_type", "error", "turn"}`` (``turn``: the turn that failed, or ``None``).
    """
    answers = entry["ground_truth"]
    if len(turns) != len(answers):
        return _fail("force_terminated", f"the model was stopped after {len(turns)} of {len(answers)} turns", None)
    long_context = is_long_context(entry["category"])
    model = Backends(entry["involved_classes"], entry["initial_config"], long_context)
    truth = Backends(entry["involved_classes"], entry["initial_config"], long_context)
    so_far: list[str] = []
    for t, (steps, answer) in enumerate(zip(turns, answers, strict=True)):
        so_far += [model.run_decoded(call) for step in steps for call in step]
        expected = [truth.run_string(call) for call in answer]
        if not answer:
            continue
        if not steps or (len(steps) == 1 and not steps[0]):
            return _fail("empty_turn_model_response", f"no call in turn {t}, whose answer has calls", t)
        if diff := state_differences(model, truth):
            named = "; ".join(f"{cls}: {', '.join(attrs)}" for cls, attrs in diff.items())
            return _fail("instance_state_mismatch", f"turn {t}: backend state differs ({named})", t)
        if missing := missing_responses(expected, so_far):
            return _fail("execution_response_mismatch",
                         f"turn {t}: {len(missing)} result(s) of the answer's calls are missing, "
                         f"first {missing[0][:200]!r}", t)
    return {"valid": True, "error_type": "", "error": "", "turn": None}
