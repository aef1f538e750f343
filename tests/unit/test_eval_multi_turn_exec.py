"""The multi-turn backends driven without ``eval``, against BFCL's own execution, and the verdict against BFCL's
checker.

BFCL's ``execute_multi_turn_func_call`` (which ``eval``s each call string) runs here, inside the test only, on
BFCL's own ground truth; the project's ``Backends`` must give the same result texts and the same public state after
every turn of every entry of the four multi-turn categories. Hand-worked replies to one entry per category are
judged by ``mt_checker.check_entry`` and by BFCL's ``multi_turn_checker``; both must give the verdict worked out by
hand.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from toolcall_dist.eval.bfcl import MULTI_TURN_CATEGORIES, load_category
from toolcall_dist.eval.mt_backends import ERROR_PREFIX, Backends, CallError, parse_call
from toolcall_dist.eval.mt_checker import check_entry, is_long_context

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def bfcl_mt():
    """BFCL's multi-turn execution and checker modules (light imports: the backends and their constants)."""
    try:
        from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_checker, multi_turn_utils
    except Exception as exc:  # noqa: BLE001 - the message says what is missing
        pytest.fail(f"bfcl-eval is needed for this test (pip install --no-deps bfcl-eval): {exc}")
    return multi_turn_utils, multi_turn_checker


def _forget(utils, prefix: str) -> None:
    # BFCL keeps each entry's instances in its module's globals, keyed by model name and entry id
    for key in [k for k in vars(utils) if k.startswith(prefix)]:
        del vars(utils)[key]


def _public(instance) -> dict:
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


@pytest.mark.parametrize("category", MULTI_TURN_CATEGORIES)
def test_same_results_and_state_as_bfcl_on_every_ground_truth(bfcl_mt, category):
    utils, _ = bfcl_mt
    entries = load_category(category)
    assert len(entries) == 200
    calls = errors = 0
    for entry in entries:
        name = f"t{uuid.uuid4().hex[:8]}"
        mine = Backends(entry["involved_classes"], entry["initial_config"], is_long_context(category))
        for t, answer in enumerate(entry["ground_truth"]):
            theirs, instances = utils.execute_multi_turn_func_call(
                answer, entry["initial_config"], entry["involved_classes"], name, entry["id"],
                long_context=is_long_context(category), is_evaL_run=True)
            ours = [mine.run_string(call) for call in answer]
            assert ours == theirs, f"{entry['id']} turn {t}: results differ"
            assert set(instances) == set(mine.instances)
            for cls, inst in instances.items():
                assert _public(mine.instances[cls]) == _public(inst), f"{entry['id']} turn {t}: {cls} state differs"
            calls += len(answer)
            errors += sum(r.startswith(ERROR_PREFIX) for r in ours)
        _forget(utils, name)
    assert calls > 500 and errors < calls / 10  # the calls really ran (an executor that only errs would differ)


def test_state_changes_as_the_calls_say():
    entry = load_category("multi_turn_base", limit=101)[100]  # TradingBot: look up NVDA, then fund the account
    b = Backends(entry["involved_classes"], entry["initial_config"])
    before = b.instances["TradingBot"].account_info["balance"]
    assert not b.run_string("get_stock_info(symbol='NVDA')").startswith(ERROR_PREFIX)
    b.run_decoded({"name": "fund_account", "arguments": {"amount": 2203.4}})
    assert b.instances["TradingBot"].account_info["balance"] == pytest.approx(before + 2203.4)
    b.run_string("fund_account(100)")  # positional arguments are taken as BFCL's ground truth writes them
    assert b.instances["TradingBot"].account_info["balance"] == pytest.approx(before + 2303.4)


DANGEROUS = [
    "mv(source='a.txt', destination='b'",  # malformed
    "format_disk()",  # unknown method
    "mv(src='a.txt', dst='b')",  # wrong argument names
    "cd()",  # a required argument missing
    "__import__('os').system('touch SENTINEL')",
    "open('SENTINEL', 'w')",
    "len('abc')",  # a builtin: BFCL's eval would run it
    "os.system('touch SENTINEL')",  # attribute chain
    "a.b.c()",
    "ls.__globals__()",
    "__init__()",  # dunder method
    "_load_scenario({})",  # private method
    "cd(folder=pwd())",  # nested call
    "cd(*['x'])",
    "cd(**{'folder': 'x'})",
    "cd(folder=__import__('os').getcwd())",
    "cd(folder='a' + 'b')",
    "[cd(folder='a')]",
    "lambda: 1",
    "",
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_bad_and_dangerous_calls_are_error_results(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    entry = load_category("multi_turn_base", limit=1)[0]
    b = Backends(entry["involved_classes"], entry["initial_config"])
    fresh = Backends(entry["involved_classes"], entry["initial_config"])
    result = b.run_string(text.replace("SENTINEL", str(tmp_path / "x")))
    assert result.startswith(ERROR_PREFIX), result
    assert not (tmp_path / "x").exists() and not list(tmp_path.iterdir())
    assert b.state() == fresh.state()


@pytest.mark.parametrize("call", [
    {"name": "__import__", "arguments": {"name": "os"}},
    {"name": "__class__", "arguments": {}},
    {"name": "_load_scenario", "arguments": {"scenario": {}}},
    {"name": "ls.__globals__", "arguments": {}},
    {"name": "nonexistent_tool", "arguments": {}},
    {"name": "cd", "arguments": {"folder": "x", "bogus": 1}},
    {"name": "cd", "arguments": "folder='x'"},
    {"name": ["cd"], "arguments": {}},
    {"name": "exit", "arguments": {}},
])
def test_bad_decoded_calls_are_error_results(call):
    entry = load_category("multi_turn_base", limit=1)[0]
    b = Backends(entry["involved_classes"], entry["initial_config"])
    fresh = Backends(entry["involved_classes"], entry["initial_config"])
    assert b.run_decoded(call).startswith(ERROR_PREFIX)
    assert b.state() == fresh.state()


def test_parse_call_reads_only_literals():
    assert parse_call("mv(source='a', destination='b')") == ("mv", [], {"source": "a", "destination": "b"})
    assert parse_call("sort('f.txt')") == ("sort", ["f.txt"], {})
    assert parse_call("x(n=-1.5, l=[1, {'a': (2, 3)}], b=True, z=None)") == (
        "x", [], {"n": -1.5, "l": [1, {"a": (2, 3)}], "b": True, "z": None})
    for text in ("a.b()", "f(g())", "__import__('os')", "f(x=y)", "f", "_f()", "f(*a)"):
        with pytest.raises(CallError):
            parse_call(text)


# --- verdicts: hand-worked replies, BFCL's checker and ours --------------------------------------------------------
def _c(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


NVDA, FUND = _c("get_stock_info", symbol="NVDA"), _c("fund_account", amount=2203.4)
# (category, entry id, per turn the decoded steps, the verdict worked out by hand: "" passes, else the error type)
HAND_WORKED = [
    # base_100: turn 0 looks NVDA up, turn 1 funds the account with 2203.4
    ("multi_turn_base", "multi_turn_base_100", [[[NVDA]], [[FUND]]], ""),
    ("multi_turn_base", "multi_turn_base_100", [[[NVDA]], [[_c("fund_account", amount=2000.0)]]],
     "instance_state_mismatch"),  # the balance differs
    ("multi_turn_base", "multi_turn_base_100", [[[_c("get_stock_info", symbol="AAPL")]], [[FUND]]],
     "execution_response_mismatch"),  # no state changed, but NVDA's quote was never read
    ("multi_turn_base", "multi_turn_base_100", [[[NVDA]]], "force_terminated"),  # stopped after one turn
    ("multi_turn_base", "multi_turn_base_100", [[[NVDA], [NVDA]], [[FUND]]], ""),  # a repeated read is harmless
    # base_50: unlock all four doors and turn the headlights on, in one turn; door order does not matter
    ("multi_turn_base", "multi_turn_base_50",
     [[[_c("lockDoors", unlock=True, door=["rear_right", "rear_left", "passenger", "driver"]),
        _c("setHeadlights", mode="on")]]], ""),
    ("multi_turn_base", "multi_turn_base_50",
     [[[_c("lockDoors", unlock=True, door=["driver", "passenger"])], [_c("setHeadlights", mode="on")]]],
     "instance_state_mismatch"),  # two rear doors stay locked
    # miss_func_100: get_stock_info is missing in turn 0 (answer: no call), offered in turn 1
    ("multi_turn_miss_func", "multi_turn_miss_func_100", [[], [[NVDA]], [[FUND]]], ""),
    ("multi_turn_miss_func", "multi_turn_miss_func_100", [[[NVDA]], [], [[FUND]]], "empty_turn_model_response"),
    # miss_param_100: the symbol is missing in turn 0; "Nvidia." comes in turn 1
    ("multi_turn_miss_param", "multi_turn_miss_param_100", [[], [[NVDA]], [[FUND]]], ""),
    ("multi_turn_miss_param", "multi_turn_miss_param_100", [[[FUND]], [[NVDA]], [[FUND]]],
     "instance_state_mismatch"),  # funding in the turn it should have waited: funded twice
    # long_context_100: same task on the long-context scenario
    ("multi_turn_long_context", "multi_turn_long_context_100", [[[NVDA]], [[FUND]]], ""),
    ("multi_turn_long_context", "multi_turn_long_context_100", [[[NVDA]], []], "empty_turn_model_response"),
]


def _as_bfcl_strings(turns: list) -> list:
    # what BFCL's handler hands its checker: each decoded call as "name(k=repr(v),...)"
    return [[[f"{c['name']}({','.join(f'{k}={v!r}' for k, v in c['arguments'].items())})" for c in step]
             for step in steps] for steps in turns]


_counter = itertools.count()


@pytest.mark.parametrize(("category", "entry_id", "turns", "expected"), HAND_WORKED,
                         ids=[f"{h[1]}-{h[3] or 'pass'}-{i}" for i, h in enumerate(HAND_WORKED)])
def test_hand_worked_verdicts_match_bfcl(bfcl_mt, category, entry_id, turns, expected):
    utils, checker = bfcl_mt
    entry = next(e for e in load_category(category) if e["id"] == entry_id)
    ours = check_entry(turns, entry)
    name = f"hw{next(_counter)}{uuid.uuid4().hex[:6]}"
    test_entry = {"id": entry["id"], "initial_config": entry["initial_config"],
                  "involved_classes": entry["involved_classes"]}
    if len(turns) != len(entry["ground_truth"]):  # BFCL's runner fails the entry before its checker runs
        theirs = {"valid": False, "error_type": "multi_turn:force_terminated"}
    else:
        theirs = checker.multi_turn_checker(_as_bfcl_strings(turns), entry["ground_truth"], test_entry, category,
                                            name)
    _forget(utils, name)
    assert ours["valid"] == (expected == ""), ours
    assert theirs["valid"] == (expected == ""), theirs
    if expected:
        assert ours["error_type"] == theirs["error_type"] == f"multi_turn:{expected}"
