"""BFCL-style aggregation of verdicts, on hand-made numbers."""

import pytest

from toolcall_dist.eval.scoring import score

pytestmark = pytest.mark.unit

T, F = True, False


def test_full_aggregation_exact_numbers():
    result = score(
        {
            "simple_python": [T, T, T, F],  # 0.75
            "simple_java": [T, F],  # 0.5
            "multiple": [T, T, F, F, F],  # 0.4
            "parallel": [T],  # 1.0
            "live_simple": [T, T, T, F],  # 0.75 on 4
            "live_multiple": [T, T, F, F, F, F],  # 1/3 on 6
            "irrelevance": [T, T],  # 1.0
            "live_irrelevance": [T, F, F, F],  # 0.25
            "live_relevance": [T, F],  # 0.5
        }
    )
    assert result["categories"]["simple_python"] == {"accuracy": 0.75, "correct": 3, "total": 4}
    assert result["categories"]["live_multiple"] == {"accuracy": pytest.approx(1 / 3), "correct": 2, "total": 6}
    groups = result["groups"]
    assert list(groups) == ["simple", "non_live", "live", "irrelevance", "relevance"]
    assert groups["simple"] == {"accuracy": 0.625, "total": 6, "members": ["simple_python", "simple_java"]}
    # non_live: unweighted over simple (0.625), multiple (0.4), parallel (1.0).
    assert groups["non_live"]["accuracy"] == pytest.approx(0.675)
    assert groups["non_live"]["members"] == ["simple", "multiple", "parallel"]
    assert groups["non_live"]["total"] == 12
    # live: weighted by entries, (3 + 2) / (4 + 6); unweighted would give 0.5417.
    assert groups["live"] == {"accuracy": pytest.approx(0.5), "total": 10, "members": ["live_simple", "live_multiple"]}
    assert groups["irrelevance"]["accuracy"] == pytest.approx(0.625)  # unweighted (1.0 + 0.25) / 2
    assert groups["relevance"] == {"accuracy": 0.5, "total": 2, "members": ["live_relevance"]}
    # overall: unweighted over non_live, live, irrelevance (BFCL leaves relevance out).
    assert result["overall"] == pytest.approx((0.675 + 0.5 + 0.625) / 3) == pytest.approx(0.6)
    assert result["overall_members"] == ["non_live", "live", "irrelevance"]
    assert result["not_run"] == ["multi_turn", "agentic"]


def test_missing_categories_are_absent_not_zero():
    result = score({"live_parallel": [T, F, F, F], "simple_javascript": [T]})
    assert set(result["categories"]) == {"live_parallel", "simple_javascript"}
    assert result["groups"]["simple"]["accuracy"] == 1.0
    assert result["groups"]["non_live"]["accuracy"] == 1.0  # only the simple group was run
    assert result["groups"]["live"]["accuracy"] == 0.25
    assert "irrelevance" not in result["groups"] and "relevance" not in result["groups"]
    assert result["overall"] == pytest.approx(0.625)


def test_empty_and_relevance_only():
    empty = score({})
    assert empty == {
        "categories": {},
        "groups": {},
        "overall": None,
        "overall_members": [],
        "not_run": ["multi_turn", "agentic"],
    }
    only_relevance = score({"live_relevance": [T, T], "simple_python": []})  # no verdicts = not run
    assert set(only_relevance["categories"]) == {"live_relevance"}
    assert only_relevance["groups"]["relevance"]["accuracy"] == 1.0
    assert only_relevance["overall"] is None


def test_unknown_categories_reported_but_not_grouped():
    result = score({"synthetic_heldout": [T, F], "parallel_multiple": [F, F]})
    assert result["categories"]["synthetic_heldout"]["accuracy"] == 0.5
    assert result["groups"]["non_live"]["accuracy"] == 0.0
    assert result["overall"] == 0.0


def test_multi_turn_group_and_bfcls_weights_in_the_overall():
    result = score({"multi_turn_base": [T, F], "multi_turn_miss_func": [F, F, F, T], "multi_turn_long_context": [T],
                    "simple_python": [T, T], "multiple": [F, F], "parallel": [T, F], "parallel_multiple": [F, T],
                    "irrelevance": [T, T]})
    multi = result["groups"]["multi_turn"]
    assert multi["members"] == ["multi_turn_base", "multi_turn_miss_func", "multi_turn_long_context"]
    assert multi["accuracy"] == pytest.approx((0.5 + 0.25 + 1.0) / 3) and multi["total"] == 7  # unweighted mean
    non_live = (1.0 + 0.0 + 0.5 + 0.5) / 4
    # BFCL: non-live, live, irrelevance, multi-turn weighted 10/10/10/30 (live not run here)
    assert result["overall"] == pytest.approx((10 * non_live + 10 * 1.0 + 30 * multi["accuracy"]) / 50)
    assert result["overall_members"] == ["non_live", "irrelevance", "multi_turn"]
    assert result["not_run"] == ["agentic"]
    assert list(result["groups"])[-1] == "multi_turn"
