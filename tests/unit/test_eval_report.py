"""The base -> SFT -> DPO progression table and chart, on hand-made scores."""

import pytest

from toolcall_dist.eval.report import markdown_table, plot_progression, progression_rows
from toolcall_dist.eval.scoring import score

pytestmark = pytest.mark.unit
T, F = True, False


def _scores(simple: int, irrelevant: int, over: int = 0) -> dict:
    s = score({"simple_python": [T] * simple + [F] * (4 - simple),
               "irrelevance": [T] * irrelevant + [F] * (4 - irrelevant)})
    s["categories"]["simple_python"]["over_length"] = over
    s["diagnostics"] = {"call_rate": simple / 4, "right_functions": simple / 8, "entries": 4}
    return s


SCORES = {"base": {"bfcl": _scores(0, 4, over=1), "heldout": _scores(1, 4)},
          "sft": {"bfcl": _scores(2, 3, over=1), "heldout": _scores(3, 2)},
          "dpo": {"bfcl": _scores(3, 4, over=1), "heldout": _scores(3, 3)}}


def test_rows_hold_every_category_group_and_the_change_per_step():
    columns, rows = progression_rows(SCORES)
    assert columns == ["set", "kind", "name", "entries", "over_length", "base", "sft", "dpo", "sft - base",
                       "dpo - sft"]
    by = {(r[0], r[2]): r for r in rows}
    assert [r[0] for r in rows].index("bfcl") > [r[0] for r in rows].index("heldout")  # held-out set first
    assert by[("bfcl", "simple_python")] == ["bfcl", "category", "simple_python", 4, 1, 0.0, 50.0, 75.0, 50.0, 25.0]
    assert by[("bfcl", "irrelevance")][5:] == [100.0, 75.0, 100.0, -25.0, 25.0]
    for i in range(len(columns)):  # one type per column (W&B tables reject mixed columns)
        assert len({type(r[i]) for r in rows if r[i] is not None}) == 1, columns[i]
    # overall = unweighted mean of non_live (= simple) and irrelevance
    assert by[("heldout", "overall")][5:] == pytest.approx([62.5, 62.5, 75.0, 0.0, 12.5])
    assert by[("heldout", "non_live")][1] == "group" and by[("heldout", "calls made")][5:8] == [25.0, 75.0, 75.0]


def test_a_model_without_a_set_gives_no_value_and_no_change():
    scores = {"base": {"bfcl": _scores(0, 4)}, "sft": {"bfcl": _scores(2, 4), "heldout": _scores(2, 2)}}
    columns, rows = progression_rows(scores)
    assert columns[-1] == "sft - base" and len(columns) == 8
    held = next(r for r in rows if r[0] == "heldout" and r[2] == "simple_python")
    assert held[5:] == [None, 50.0, None]


def test_markdown_and_chart(tmp_path):
    table = markdown_table(SCORES)
    assert "| bfcl | simple_python | 4 (1 over length) | 0.0 | 50.0 | 75.0 | +50.0 | +25.0 |" in table
    assert "| heldout | **overall** |  | 62.5 | 62.5 | 75.0 | +0.0 | +12.5 |" in table
    assert "| heldout | simple_python | 4 | 25.0 | 75.0 | 75.0 | +50.0 | +0.0 |" in table
    assert "Not run: multi_turn, agentic." in table
    png = plot_progression(SCORES, tmp_path / "p.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_rows_make_a_wandb_table():
    import wandb

    columns, rows = progression_rows(SCORES)
    table = wandb.Table(columns=columns, data=rows)  # raises on a column of mixed types
    assert len(table.data) == len(rows) and table.columns == columns


def test_the_lenient_parse_row_and_the_modes_note():
    def with_decode(changed: int) -> dict:
        s = _scores(2, 3)
        s["decode"] = {"mode": "bfcl", "other": "lenient", "entries": 8, "changed": changed, "gained": changed,
                       "lost": 0}
        s["prompt"] = "bfcl"
        return s

    scores = {"sft": {"bfcl": with_decode(2)}, "dpo": {"bfcl": with_decode(1)}}
    columns, rows = progression_rows(scores)
    row = next(r for r in rows if r[2] == "lenient parse: verdicts changed")
    assert row[1] == "diagnostic" and row[3] == 8 and row[5:] == [25.0, 12.5, -12.5]
    table = markdown_table(scores)
    assert "| bfcl | *lenient parse: verdicts changed* | 8 | 25.0 | 12.5 | -12.5 |" in table
    assert "decoded as BFCL's handler for the model family decodes them (eval.decode=bfcl)" in table
    assert "prompted with the text BFCL's handler writes (eval.prompt=bfcl)" in table
    assert "lenient parse" not in markdown_table(SCORES)  # scores written before the decode was recorded


def _with_errors(scores: dict, errors: dict) -> dict:
    from toolcall_dist.eval.error_kinds import ERROR_TYPES

    return {**scores, "errors": {**dict.fromkeys(ERROR_TYPES, 0), **errors}}


def test_error_rows_count_failures_per_kind_and_what_each_step_fixed(tmp_path):
    scores = {"base": {"bfcl": _with_errors(_scores(0, 4), {"no_call": 4})},
              "sft": {"bfcl": _with_errors(_scores(1, 3), {"wrong_value": 2, "missing_required": 1,
                                                          "call_not_needed": 1})},
              "dpo": {"bfcl": _with_errors(_scores(3, 4), {"wrong_value": 1})}}
    columns, rows = progression_rows(scores)
    by = {r[2]: r for r in rows}
    assert by["errors: wrong value"][1] == "errors"
    assert by["errors: wrong value"][5:] == [0.0, 2.0, 1.0, 2.0, -1.0]  # counts, not percentages
    assert by["errors: no or malformed call"][5:] == [4.0, 0.0, 0.0, -4.0, 0.0]
    assert by["errors: call where none needed"][5:] == [0.0, 1.0, 0.0, 1.0, -1.0]
    for i in range(len(columns)):
        assert len({type(r[i]) for r in rows if r[i] is not None}) == 1, columns[i]
    table = markdown_table(scores)
    assert "| bfcl | *errors: wrong value* |  | 0 | 2 | 1 | +2 | -1 |" in table
    assert plot_progression(scores, tmp_path / "p.png").stat().st_size > 0
