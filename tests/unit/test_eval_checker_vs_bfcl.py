"""Our checker against BFCL's own ``ast_checker`` on thousands of outputs built from BFCL v4's real entries.

BFCL's checker module imports its model registry (``bfcl_eval.constants.model_config``), which imports every
provider SDK; the registry is only read for a model's ``underscore_to_dot`` flag, so the test loads the checker's
module file with a one-model registry in its place. Everything else it runs is BFCL's code, unchanged. Outputs are
the ground truth and its systematic corruptions (each rule the checker has: names, counts, required / unexpected /
omitted parameters, types, string normalisation, list order, dict keys, order of parallel calls), so both verdicts
occur in bulk; the test needs verdict and error type to agree on every one.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import types
from pathlib import Path

import pytest

from toolcall_dist.eval.bfcl import find_data_dir, load_category
from toolcall_dist.eval.checker import check_entry, language_of

pytestmark = pytest.mark.unit

AST_CATEGORIES = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
                  "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
MODEL = "local_fc_model"  # BFCL looks models up with "_" read as "/"


@pytest.fixture(scope="module")
def bfcl_checker():
    """BFCL's ``ast_checker`` and its ``Language`` enum, loaded from the installed package's source file."""
    try:
        root = find_data_dir().parent
        from bfcl_eval.constants.enums import Language
    except Exception as exc:  # noqa: BLE001 - the message says what is missing
        pytest.fail(f"bfcl-eval is needed for this test (pip install --no-deps bfcl-eval): {exc}")
    registry = types.ModuleType("bfcl_eval.constants.model_config")
    registry.MODEL_CONFIG_MAPPING = {MODEL.replace("_", "/"): types.SimpleNamespace(underscore_to_dot=False)}
    saved = sys.modules.get(registry.__name__)
    sys.modules[registry.__name__] = registry
    try:
        path = root / "eval_checker" / "ast_eval" / "ast_checker.py"
        spec = importlib.util.spec_from_file_location("bfcl_reference_ast_checker", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop(registry.__name__, None)
        else:
            sys.modules[registry.__name__] = saved
    languages = {"python": Language.PYTHON, "java": Language.JAVA, "javascript": Language.JAVASCRIPT}
    return module.ast_checker, languages


# ------------------------------------------------------------------ model outputs from ground truth
def _java_text(value, type_name: str):
    """A Java source literal for ``value`` of BFCL Java type ``type_name`` (as a model is asked to write it)."""
    if isinstance(value, str):
        return value if type_name != "String" else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_name == "long" and isinstance(value, int):
        return f"{value}L"
    if type_name == "float" and isinstance(value, (int, float)):
        return f"{value}f"
    if isinstance(value, list):
        items = ", ".join(json.dumps(v) if isinstance(v, str) else _java_text(v, "") for v in value)
        return f"new ArrayList<>(Arrays.asList({items}))" if type_name == "ArrayList" else f"new int[]{{{items}}}"
    if isinstance(value, dict):
        first = {k: (v[0] if isinstance(v, list) and v else v) for k, v in value.items()}
        puts = " ".join(f'put("{k}", {json.dumps(v)});' for k, v in first.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
    return str(value)


def _js_text(value, type_name: str):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f"'{v}'" if isinstance(v, str) else _js_text(v, "") for v in value) + "]"
    if isinstance(value, dict):
        first = {k: (v[0] if isinstance(v, list) and v else v) for k, v in value.items()}
        pairs = [f"{k}: " + (f"'{v}'" if isinstance(v, str) else _js_text(v, "")) for k, v in first.items()]
        return "{" + ", ".join(pairs) + "}"
    return str(value)


def _pick(acceptable, rng: random.Random, omit_optional: bool):
    """One acceptable value, or the marker ``OMIT`` when the parameter may be left out and we leave it out."""
    options = [a for a in acceptable if a != ""] if isinstance(acceptable, list) else [acceptable]
    if not options or ("" in acceptable and omit_optional):
        return OMIT
    value = rng.choice(options)
    if isinstance(value, dict):  # a dict answer lists acceptable values per key: pick one each
        value = {k: v[0] for k, v in value.items() if isinstance(v, list) and v and v[0] != ""}
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        value = [{k: v[0] for k, v in d.items() if isinstance(v, list) and v and v[0] != ""} for d in value]
    return value


OMIT = object()


def _truth_calls(entry: dict, rng: random.Random, omit_optional: bool) -> list[tuple[str, dict]]:
    language = language_of(entry["category"])
    funcs = {f["name"]: f for f in entry["function"]}
    calls = []
    for answer in entry["ground_truth"]:
        name, params = next(iter(answer.items()))
        props = ((funcs.get(name) or {}).get("parameters") or {}).get("properties") or {}
        args = {}
        for param, acceptable in params.items():
            value = _pick(acceptable, rng, omit_optional)
            if value is OMIT:
                continue
            type_name = (props.get(param) or {}).get("type", "")
            if language == "java":
                value = _java_text(value, type_name)
            elif language == "javascript":
                value = _js_text(value, type_name)
            args[param] = value
        calls.append((name, args))
    return calls


def _shout(text: str) -> str:
    return text.upper().replace(" ", "-") + "."


def _variants(entry: dict, rng: random.Random) -> list[list[tuple[str, dict]]]:
    """The ground truth and a corruption for each of the checker's rules."""
    full = _truth_calls(entry, rng, omit_optional=False)
    out = [full, _truth_calls(entry, rng, omit_optional=True), _truth_calls(entry, rng, omit_optional=False)]
    first_name, first_args = full[0]
    props = next((f.get("parameters", {}).get("properties", {}) for f in entry["function"]
                  if f["name"] == first_name), {})

    def with_first(name=first_name, args=first_args):
        return [(name, args), *full[1:]]

    out.append(with_first(name=first_name + "_v2"))
    out.append(with_first(name=first_name.replace(".", "_")))
    out.append(with_first(args={**first_args, "unexpected_arg": 1}))
    declared = [p for p in props if p not in first_args]
    if declared:
        out.append(with_first(args={**first_args, declared[0]: "x"}))
    if first_args:
        param = rng.choice(sorted(first_args))
        value = first_args[param]
        out.append(with_first(args={k: v for k, v in first_args.items() if k != param}))
        swaps = {str: lambda v: _shout(v), int: lambda v: float(v), float: lambda v: int(v) if v == int(v) else v + 1,
                 bool: lambda v: int(v), list: lambda v: list(reversed(v)) if len(v) > 1 else [],
                 dict: lambda v: dict(list(v.items())[1:])}
        for kind, change in swaps.items():
            if type(value) is kind:
                out.append(with_first(args={**first_args, param: change(value)}))
        out.append(with_first(args={**first_args, param: 12345}))
        out.append(with_first(args={**first_args, param: "12345"}))
        out.append(with_first(args={**first_args, param: [value]}))
    out.append(list(reversed(full)))
    out.append(full + full[:1])
    out.append(full[:-1])
    out.append([])
    return out


def _both_verdicts(reference, languages, entry: dict, calls: list[tuple[str, dict]]):
    category = entry["category"]
    ours = check_entry([{"name": n, "arguments": a} for n, a in calls], entry, category, underscore_to_dot=False)
    try:
        theirs = reference(entry["function"], [{n: a} for n, a in calls], entry["ground_truth"],
                           languages[language_of(category)], category, MODEL)
    except Exception as exc:  # noqa: BLE001 - BFCL crashes on some malformed outputs; counted by the caller
        return ours, exc
    return ours, theirs


def test_verdicts_match_bfcl_on_real_entries(bfcl_checker):
    reference, languages = bfcl_checker
    rng = random.Random(20261124)
    compared, valid, crashed, mismatches = 0, 0, 0, []
    for category in AST_CATEGORIES:
        for entry in load_category(category):
            for calls in _variants(entry, rng):
                ours, theirs = _both_verdicts(reference, languages, entry, calls)
                if isinstance(theirs, Exception):
                    crashed += 1
                    assert not ours["valid"], (entry["id"], calls, theirs)  # where BFCL crashes we fail the entry
                    continue
                compared += 1
                valid += theirs["valid"]
                same = ours["valid"] == theirs["valid"] and (
                    theirs["valid"] or ours["error_type"] == theirs["error_type"])
                if not same:
                    mismatches.append((entry["id"], calls, ours, theirs.get("error_type"), theirs.get("error")))
    assert not mismatches, f"{len(mismatches)} of {compared} verdicts differ; first: {mismatches[:3]}"
    assert compared > 20_000 and crashed < compared // 100
    assert 0.15 < valid / compared < 0.6  # both verdicts occur in bulk, so agreement is not vacuous


def test_every_real_ground_truth_passes_both(bfcl_checker):
    """The answer itself (first acceptable value of every parameter) passes in every AST category."""
    reference, languages = bfcl_checker
    rng = random.Random(0)
    for category in AST_CATEGORIES:
        entries = load_category(category)
        results = [_both_verdicts(reference, languages, e, _truth_calls(e, rng, omit_optional=False)) for e in entries]
        theirs = sum(1 for _, t in results if not isinstance(t, Exception) and t["valid"])
        ours = sum(1 for o, _ in results if o["valid"])
        assert ours == theirs, category
        if category in ("simple_python", "multiple", "parallel", "live_simple"):
            assert ours >= 0.9 * len(entries), (category, ours, len(entries))


def test_data_dir_has_every_category():
    root = find_data_dir()
    for category in AST_CATEGORIES:
        assert (root / f"BFCL_v4_{category}.json").is_file()
        assert (Path(root) / "possible_answer" / f"BFCL_v4_{category}.json").is_file()


def test_all_thirteen_categories_load_and_score():
    """Every single-turn category loads, and an empty reply scores as BFCL scores it: right only where no call is
    wanted (irrelevance, live_irrelevance), wrong everywhere else (live_relevance wants any call)."""
    from toolcall_dist.eval.bfcl import CATEGORIES
    from toolcall_dist.eval.scoring import score

    verdicts = {}
    for category in CATEGORIES:
        entries = load_category(category)
        assert entries, category
        verdicts[category] = [check_entry([], e, category)["valid"] for e in entries]
        assert all(verdicts[category]) == ("irrelevance" in category), category
        assert any(verdicts[category]) == ("irrelevance" in category), category
    result = score(verdicts)
    assert len(result["categories"]) == 13
    assert result["groups"]["irrelevance"]["accuracy"] == 1.0 and result["groups"]["relevance"]["accuracy"] == 0.0
    assert result["overall"] == pytest.approx(1 / 3)  # non_live 0, live 0, irrelevance 1
