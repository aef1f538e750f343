"""The data stage's builder end to end: class ratios, split by tool, negatives, determinism, loaded sources,
quarantine accounting, and what ``export.save`` writes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from toolcall_dist.config import SYNTHETIC_CATEGORIES, ConfigError, DataConfig, SourceConfig
from toolcall_dist.data.builder import build, split_tools
from toolcall_dist.data.gates import normalise_text
from toolcall_dist.data.leakage import BFCLReference
from toolcall_dist.data.stats import token_lengths
from toolcall_dist.data.tools import SPEC_BY_NAME, SPECS

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"
NO_LEAKS = BFCLReference({}, set())


def _cfg(**over) -> dict:
    base = dict(n_examples=200, eval_examples=40, holdout_per_category=3, leakage_check=False)
    return dataclasses.asdict(DataConfig(**{**base, **over}))


def _names(rec: dict) -> set[str]:
    offered = {t["name"] for t in rec["tools"]}
    turns = rec.get("messages", []) + rec.get("prompt", []) + rec.get("chosen", []) + rec.get("rejected", [])
    return offered | {tc["function"]["name"] for m in turns for tc in m.get("tool_calls") or []}


@pytest.fixture(scope="module")
def built():
    return build(_cfg(), SYNTHETIC_CATEGORIES, reference=NO_LEAKS)


@pytest.mark.parametrize("ratios", [{"good": 0.6, "bad": 0.25, "no_tool": 0.15}, {"good": 3, "bad": 1, "no_tool": 1},
                                    {"good": 0.5, "bad": 0.0, "no_tool": 0.5}])
def test_class_ratios_within_tolerance(ratios):
    from omegaconf import OmegaConf

    cfg = _cfg(n_examples=160, eval_examples=0)
    cfg["ratios"] = ratios
    res = build(cfg, ["simple_python"], reference=NO_LEAKS)
    total = sum(ratios.values())
    n = sum(len(res.train[c]) for c in ("good", "bad", "no_tool"))
    assert n == 160
    for cls, r in ratios.items():
        assert abs(len(res.train[cls]) / n - r / total) <= 1 / n  # rounding to whole records only
    with pytest.raises(Exception, match="data.ratios.bad"):  # negative weights never reach the builder
        OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DataConfig), {"ratios": {"bad": -1}}))


def test_split_by_tool(built):
    train_tools, eval_tools = set(built.tools["train"]), set(built.tools["eval"])
    assert eval_tools and not train_tools & eval_tools
    assert train_tools | eval_tools == {s.name for s in SPECS}
    assert {SPEC_BY_NAME[n].domain for n in train_tools} == {s.domain for s in SPECS}  # every domain trains
    for cls, recs in built.train.items():
        for rec in recs:
            assert not _names(rec) & eval_tools, (cls, rec["id"])
    for rec in built.eval["good"]:
        called = {tc["function"]["name"] for m in rec["messages"] for tc in m.get("tool_calls") or []}
        assert called <= eval_tools
    for cat, (questions, _) in built.heldout.items():
        for q in questions:
            assert {f["name"] for f in q["function"]} <= eval_tools, cat
    assert split_tools(SPECS, 0.0, 1) == (sorted(s.name for s in SPECS), [])


def test_negatives_never_contain_a_call(built):
    for split in (built.train, built.eval):
        for rec in split["no_tool"]:
            final = rec["messages"][-1]
            assert final["role"] == "assistant" and final["content"] and not final.get("tool_calls")
            if rec["kind"] != "followup":  # a follow-up's call is earlier context, answered from its result
                assert not any(m.get("tool_calls") for m in rec["messages"])
    relevance = [p for p in built.train["when"] if p["pair_kind"] == "relevance"]
    assert relevance and all(not p["chosen"][0].get("tool_calls") and p["rejected"][0]["tool_calls"]
                             for p in relevance)


def test_same_seed_same_dataset(built):
    def dump(res):
        return json.dumps([res.train, res.eval, res.heldout, res.tools], sort_keys=True)

    assert dump(build(_cfg(), SYNTHETIC_CATEGORIES, reference=NO_LEAKS)) == dump(built)
    other = build(_cfg(seed=1), SYNTHETIC_CATEGORIES, reference=NO_LEAKS)
    assert [r["id"] for r in other.train["good"]] != [r["id"] for r in built.train["good"]]


def _sources() -> list[SourceConfig]:
    return [SourceConfig(format="glaive", path=str(FIX / "glaive.json"), weight=0.2),
            SourceConfig(format="xlam", path=str(FIX / "xlam.jsonl"), weight=0.2),
            SourceConfig(format="hermes", path=str(FIX / "hermes.jsonl"), weight=0.2),
            SourceConfig(format="bfcl", path=str(FIX / "bfcl" / "BFCL_v4_simple_python.json"))]


def test_loaded_sources_mix_in_and_every_rejection_is_counted(tmp_path):
    from toolcall_dist.data.export import save

    ref = BFCLReference({}, {"get_weather"})  # the xLAM fixture's get_weather row leaks a BFCL name
    res = build(_cfg(n_examples=100, sources=_sources()), ["simple_python"], reference=ref)
    stats = save(res, tmp_path)
    by_source = {s["format"]: s for s in res.sources}
    # glaive: 7 rows, 2 unreadable, 1 call lacks a required argument; xlam: 7 rows, 3 unreadable, 1 wrong type,
    # 1 leak; hermes: 5 rows, 2 unreadable; bfcl: 3 rows, 2 unsupported
    assert {f: (s["rows"], s["parse_failures"], s["admitted"]) for f, s in by_source.items()} == {
        "glaive": (7, 2, 4), "xlam": (7, 3, 2), "hermes": (5, 2, 3), "bfcl": (3, 2, 1)}
    assert stats["gate"]["parse"] == {"bfcl": 2, "glaive": 2, "hermes": 2, "xlam": 3}
    assert stats["gate"]["invalid"] == {"good": 2} and stats["gate"]["leakage"] == {"good": 1}
    quarantined = (tmp_path / "quarantine.jsonl").read_text().splitlines()
    assert stats["quarantined"] == len(quarantined) == 9 + 2 + 1
    reasons = [json.loads(q)["reason"] for q in quarantined]
    assert "call 0 to fx_rate_convert: 'to_currency' is a required property" in reasons
    assert "leakage: tool 'get_weather' (nearly) equals BFCL function 'get_weather'" in reasons
    # weight 0.2 of 60 good = 12 wanted per source; the fixtures hold fewer, so all valid ones are used
    assert by_source["glaive"]["used"]["good"] == 2 and by_source["glaive"]["shortfall"]["good"] == 10
    assert by_source["hermes"]["used"] == {"good": 2, "no_tool": 1, "bad": 2}
    sources = stats["sources"]
    assert sources["good"]["synthetic"] + sum(v for k, v in sources["good"].items() if k != "synthetic") == 60
    assert sources["bad"].get("xlam", 0) + sources["bad"].get("glaive", 0) >= 2  # loaded calls corrupted too
    assert all(r["pair_kind"] == "precision" for r in res.train["bad"] if r["source"] != "synthetic")
    assert [r["source"] for r in res.eval["good"] if r["source"] == "bfcl"] == ["bfcl"]
    assert not any(r["source"] == "bfcl" for recs in res.train.values() for r in recs)  # BFCL: evaluation only


def test_export_writes_datasets_jsonl_and_stats(built, tmp_path):
    from datasets import load_from_disk

    from toolcall_dist.data.export import save

    stats = save(built, tmp_path)
    sft, dpo, held = (load_from_disk(str(tmp_path / "hf" / n)) for n in ("sft", "dpo", "heldout"))
    lines = {c: (tmp_path / "train" / f"{c}.jsonl").read_text().splitlines() for c in built.train}
    assert sft["train"].num_rows == len(lines["good"]) + len(lines["no_tool"]) == 200 - len(built.train["bad"])
    assert dpo["train"].num_rows == len(lines["bad"]) + len(lines["when"])
    assert sft["eval"].num_rows == len(built.eval["good"]) + len(built.eval["no_tool"])
    first = json.loads(lines["good"][0])
    assert first == built.train["good"][0]
    row = sft["train"][0]
    assert row["messages"] == first["messages"] and row["tools"] == first["tools"] and row["kind"] == first["shape"]
    pair = dpo["train"][0]
    assert set(pair) == {"id", "kind", "pair_kind", "source", "prompt", "chosen", "rejected", "tools"}
    assert pair["prompt"] == built.train["bad"][0]["prompt"]
    assert list(held) == list(built.heldout) and held["simple_python"].num_rows == 3
    assert json.loads((tmp_path / "stats.json").read_text())["counts"] == stats["counts"]
    assert sum(stats["corruption_kinds"].values()) == len(built.train["bad"])
    assert sum(stats["pair_kinds"].values()) == len(built.train["bad"]) + len(built.train["when"])
    assert stats["token_lengths"]["sft"]["p50"] <= stats["token_lengths"]["sft"]["p100"]
    assert "| class |" in (tmp_path / "stats.md").read_text()


def test_token_lengths_hand_worked():
    recs = [{"tools": [], "messages": [{"role": "user", "content": "a b c"}]},  # [ ] a b c -> 5 pieces
            {"tools": [], "messages": [{"role": "user", "content": "one, two"}]}]  # [ ] one , two -> 5
    assert token_lengths(recs) == {"p50": 5, "p90": 5, "p95": 5, "p99": 5, "p100": 5}
    pair = {"tools": [], "prompt": [{"role": "user", "content": "x"}],
            "chosen": [{"role": "assistant", "content": "y"}],
            "rejected": [{"role": "assistant", "content": "y z w"}]}  # the longer side counts: [ ] x y z w
    assert token_lengths([pair]) == {f"p{q}": 6 for q in (50, 90, 95, 99, 100)}


def test_leakage_reference_quarantines_and_regenerates():
    # every greeting of a few words would leak if BFCL had them; long questions are compared exactly
    ref = BFCLReference({normalise_text("Who wrote Romeo and Juliet?"): "irrelevance_3"}, set())
    res = build(_cfg(n_examples=300, no_tool_kinds={"chitchat": 0, "knowledge": 1, "arithmetic": 0,
                                                     "irrelevant": 0, "followup": 0}), ["simple_python"],
                reference=ref)
    assert len(res.train["no_tool"]) == 45
    assert not any("Romeo" in r["messages"][1]["content"] for r in res.train["no_tool"])
    assert res.gate.summary()["leakage"]["no_tool"] >= 1


def test_source_config_is_validated():
    with pytest.raises(ConfigError, match="data.sources.format: unknown format 'csv'"):
        SourceConfig(format="csv", path="x.csv")
    with pytest.raises(ConfigError, match="evaluation only"):
        SourceConfig(format="bfcl", path="x.json", weight=0.5)
    with pytest.raises(ConfigError, match="set a local path or a hub name"):
        SourceConfig(format="glaive")
    with pytest.raises(ConfigError, match="weights sum to 1.2"):
        DataConfig(sources=[SourceConfig(format="glaive", path="a", weight=0.6),
                            SourceConfig(format="xlam", path="b", weight=0.6)])
    with pytest.raises(ConfigError, match="data.heldout_tool_fraction"):
        DataConfig(heldout_tool_fraction=1.0)
