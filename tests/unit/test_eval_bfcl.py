"""Loading and writing BFCL category files, on hand-written data and on the installed bfcl-eval data."""

import json

import pytest
from conftest import require

from toolcall_dist.eval.bfcl import CATEGORIES, BFCLDataError, find_data_dir, load_category, write_category
from toolcall_dist.eval.checker import check_entry

pytestmark = pytest.mark.unit

FUNC = {"name": "add", "parameters": {"type": "dict", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}


def _question(i):
    return {"id": f"simple_python_{i}", "question": [[{"role": "user", "content": f"add {i}"}]], "function": [FUNC]}


def _answer(i):
    return {"id": f"simple_python_{i}", "ground_truth": [{"add": {"a": [i]}}]}


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def tiny_dir(tmp_path):
    _write(tmp_path / "BFCL_v4_simple_python.json", [_question(0), _question(1), _question(2)])
    # Answers in another order, with a blank line: the join is by id.
    _write(tmp_path / "possible_answer" / "BFCL_v4_simple_python.json", [_answer(2), "", _answer(0), _answer(1)])
    return tmp_path


def test_load_tiny_directory(tiny_dir):
    entries = load_category("simple_python", data_dir=tiny_dir)
    assert [e["id"] for e in entries] == ["simple_python_0", "simple_python_1", "simple_python_2"]
    assert entries[1] == {
        "id": "simple_python_1",
        "category": "simple_python",
        "question": [[{"role": "user", "content": "add 1"}]],
        "function": [FUNC],
        "ground_truth": [{"add": {"a": [1]}}],
    }
    assert len(load_category("simple_python", data_dir=str(tiny_dir), limit=2)) == 2
    assert check_entry([{"name": "add", "arguments": {"a": 2}}], entries[2])["valid"]


def test_bad_json_line_names_file_and_line(tiny_dir):
    path = tiny_dir / "BFCL_v4_simple_python.json"
    _write(path, [_question(0), '{"id": "simple_python_1", "question": ['])
    with pytest.raises(BFCLDataError, match=r"BFCL_v4_simple_python\.json:2: invalid JSON"):
        load_category("simple_python", data_dir=tiny_dir)
    _write(path, [_question(0), {"id": "x", "function": []}])
    with pytest.raises(BFCLDataError, match=r":2: missing key\(s\) question"):
        load_category("simple_python", data_dir=tiny_dir)


def test_missing_answer_names_the_id(tiny_dir):
    _write(tiny_dir / "possible_answer" / "BFCL_v4_simple_python.json", [_answer(0), _answer(2)])
    with pytest.raises(BFCLDataError, match="'simple_python_1'"):
        load_category("simple_python", data_dir=tiny_dir)


def test_unknown_category_lists_valid_ones(tiny_dir):
    # web search and memory (BFCL's agentic categories) are out of scope
    with pytest.raises(BFCLDataError, match="unknown BFCL category 'web_search'.*simple_python.*multi_turn_base"):
        load_category("web_search", data_dir=tiny_dir)


def test_missing_directory_says_how_to_install(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(BFCLDataError, match=r"nope.*pip install --no-deps bfcl-eval") as info:
        find_data_dir(missing)
    assert isinstance(info.value, ValueError)
    with pytest.raises(BFCLDataError, match="pip install --no-deps bfcl-eval"):
        load_category("parallel", data_dir=tmp_path)  # directory exists, file does not


def test_write_then_load_round_trip(tmp_path):
    entries = [
        {"id": f"simple_python_{i}", "question": _question(i)["question"], "function": [FUNC], "ground_truth": g}
        for i, g in enumerate(([{"add": {"a": [0]}}], [{"add": {"a": [1, ""]}}]))
    ]
    q_path, a_path = write_category(entries, "simple_python", tmp_path / "held_out")
    assert q_path.name == a_path.name == "BFCL_v4_simple_python.json"
    loaded = load_category("simple_python", data_dir=tmp_path / "held_out")
    assert [{k: e[k] for k in ("id", "question", "function", "ground_truth")} for e in loaded] == entries

    irrelevant = [{"id": "irrelevance_0", "question": [[{"role": "user", "content": "hi"}]], "function": [FUNC]}]
    _, no_answers = write_category(irrelevant, "irrelevance", tmp_path / "held_out")
    assert no_answers is None
    assert load_category("irrelevance", data_dir=tmp_path / "held_out")[0]["ground_truth"] is None
    with pytest.raises(BFCLDataError, match="no ground_truth"):
        write_category([{**entries[0], "ground_truth": None}], "multiple", tmp_path / "x")


needs_bfcl = pytest.mark.usefixtures("bfcl_installed")


@pytest.fixture()
def bfcl_installed():
    require("bfcl_eval")


# Entry counts of bfcl-eval 2026.3.23 (BFCL v4), read from the installed files.
REAL_COUNTS = {
    "simple_python": 400,
    "simple_java": 100,
    "simple_javascript": 50,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "irrelevance": 240,
    "live_simple": 258,
    "live_multiple": 1053,
    "live_parallel": 16,
    "live_parallel_multiple": 24,
    "live_irrelevance": 884,
    "live_relevance": 16,
}


@needs_bfcl
def test_real_data_counts_and_shapes():
    assert set(REAL_COUNTS) == set(CATEGORIES)
    for category, count in REAL_COUNTS.items():
        entries = load_category(category)
        assert len(entries) == count, category
        no_answers = category in ("irrelevance", "live_irrelevance", "live_relevance")
        assert all((e["ground_truth"] is None) == no_answers for e in entries), category
        # Some live_irrelevance entries offer no function at all, so only the type is checked there.
        assert all(e["category"] == category and isinstance(e["function"], list) and e["question"] for e in entries)
        assert all(e["function"] for e in entries) or category == "live_irrelevance"


_MISSING = object()


def _first(acceptable):
    """First acceptable value other than "" (which only marks the parameter as omittable)."""
    return next((a for a in acceptable if a != ""), _MISSING)


def _concrete(value):
    """Turn an acceptable-values dict (or a list of them) into the plain value a model would send."""
    if isinstance(value, dict):
        picked = {k: _first(v) if isinstance(v, list) else v for k, v in value.items()}
        return {k: v for k, v in picked.items() if v is not _MISSING}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_concrete(v) for v in value]
    return value


def _ground_truth_calls(entry):
    calls = []
    for answer in entry["ground_truth"]:
        ((name, params),) = answer.items()
        args = {p: _concrete(v) for p, acc in params.items() if (v := _first(acc)) is not _MISSING}
        calls.append({"name": name, "arguments": args})
    return calls


# Entries whose own answers do not make a passing call, because of the data: the answer lists a parameter the
# schema lacks (no call passes, in BFCL either), or the answer omits or only accepts "" for a required parameter.
UNPASSABLE = {
    "parallel_multiple": {"parallel_multiple_12", "parallel_multiple_26"},
    "live_simple": {"live_simple_106-63-0", "live_simple_112-68-0"},
    "live_multiple": {"live_multiple_507-149-4", "live_multiple_862-181-3", "live_multiple_964-207-0"},
}


@needs_bfcl
@pytest.mark.parametrize(
    "category",
    ["simple_python", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple"]
    + ["live_parallel", "live_parallel_multiple"],
)
def test_real_ground_truth_passes_its_own_checker(category):
    """Feeding each entry's first acceptable values back as the model's calls must pass."""
    failures = {}
    for entry in load_category(category):
        result = check_entry(_ground_truth_calls(entry), entry)
        if not result["valid"]:
            failures[entry["id"]] = result["error_type"]
    assert set(failures) == UNPASSABLE.get(category, set()), failures


@needs_bfcl
def test_real_irrelevance_entries_judged_on_call_presence():
    entry = load_category("irrelevance", limit=1)[0]
    assert check_entry([], entry)["valid"]
    assert not check_entry([{"name": entry["function"][0]["name"], "arguments": {}}], entry)["valid"]
