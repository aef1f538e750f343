"""Sweep plumbing without training: presets compose, resolvers outside a multirun, the stage lock, the launcher plugin
is found by Hydra, and the report from hand-written trial directories."""

import json
import multiprocessing
import time
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from toolcall_dist import sweep_report
from toolcall_dist.config import validate

pytestmark = pytest.mark.unit

CONF = Path(__file__).resolve().parents[2] / "hydra_conf"
PRESETS = sorted(p.stem for p in (CONF / "sweep").glob("*.yaml"))


def test_single_run_keeps_its_output_dir_and_has_no_sweep_identity(compose):
    conf = validate(compose(["+exp=quickstart"]))
    assert conf.output_dir == "outputs/quickstart"
    assert conf.sweep.id is None and conf.sweep.trial is None
    assert conf.sweep.model == "dpo" and conf.sweep.metric == "overall"


@pytest.mark.parametrize("preset", PRESETS)
def test_every_value_of_every_sweep_preset_composes_and_validates(compose, preset):
    params = yaml.safe_load((CONF / "sweep" / f"{preset}.yaml").read_text())["hydra"]["sweeper"]["params"]
    assert params
    exp = "quickstart" if not {"model"} & set(params) else "qwen_dpo"
    for key, values in params.items():
        # each value as Hydra's sweeper reads it: a comma list, or choice(...) of dicts
        sweep = OverridesParser.create().parse_overrides([f"{key}={values}"])[0]
        assert sweep.is_sweep_override()
        for text, value in zip(sweep.sweep_string_iterator(), sweep.sweep_iterator(), strict=True):
            conf = validate(compose([f"+exp={exp}", f"{key}={text}"]))
            if key == "model":
                assert conf.model.name == value
            else:
                obj = conf
                for part in key.split("."):
                    obj = getattr(obj, part)
                if isinstance(value, dict):
                    assert {k: getattr(obj, k) for k in value} == pytest.approx(value)
                else:
                    assert obj == pytest.approx(float(value))


def test_the_ray_trials_launcher_is_a_hydra_plugin():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    names = {c.__name__ for c in Plugins.instance().discover(Launcher)}
    assert "RayTrialLauncher" in names
    target = yaml.safe_load((CONF / "hydra" / "launcher" / "ray_trials.yaml").read_text())["_target_"]
    assert target.endswith(".RayTrialLauncher")


def _hold(root: str, name: str, log: str, pause: float) -> None:
    from toolcall_dist.pipeline import Stage

    with Stage(Path(root), "sft", "abc").lock():
        with open(log, "a") as f:
            f.write(f"{name}+\n")
        time.sleep(pause)
        with open(log, "a") as f:
            f.write(f"{name}-\n")


def test_stage_lock_lets_one_process_build_at_a_time(tmp_path):
    log = tmp_path / "log"
    ctx = multiprocessing.get_context("fork")
    first = ctx.Process(target=_hold, args=(str(tmp_path), "a", str(log), 0.6))
    first.start()
    while not log.exists():
        time.sleep(0.01)
    second = ctx.Process(target=_hold, args=(str(tmp_path), "b", str(log), 0.0))
    second.start()
    first.join(5)
    second.join(5)
    assert log.read_text().split() == ["a+", "a-", "b+", "b-"]


# --- the report ---------------------------------------------------------------------------------------------------
def _scores(non_live: float, irrelevance: float) -> dict:
    return {"categories": {"simple_python": {"accuracy": non_live, "correct": 0, "total": 10},
                           "irrelevance": {"accuracy": irrelevance, "correct": 0, "total": 10}},
            "groups": {"non_live": {"accuracy": non_live}, "irrelevance": {"accuracy": irrelevance}},
            "overall": (non_live + irrelevance) / 2}


def _trial(sweep: Path, num: int, beta: float, no_tool: float, scores: dict, reused: list[str]) -> None:
    d = sweep / str(num)
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["+exp=quickstart", f"dpo.beta={beta}",
                                                                 f"data.ratios.no_tool={no_tool}"]))
    cfg = {"model": {"family": "qwen2_5", "name": "tiny_qwen"}, "dpo": {"beta": beta}, "sweep": {"id": "q-sweep"},
           "data": {"ratios": {"good": 0.7, "bad": 0.3 - no_tool if no_tool < 0.3 else 0.0, "no_tool": no_tool}}}
    (d / "config.json").write_text(json.dumps(cfg))
    stage_dirs = {"data": f"/s/data-{no_tool}", "base": "/s/base-1", "sft": f"/s/sft-{no_tool}",
                  "dpo": f"/s/dpo-{no_tool}-{beta}"}
    (d / "run.json").write_text(json.dumps({"group": f"q-t{num}", "scores": {"dpo": {"heldout": scores}},
                                            "stage_dirs": stage_dirs, "reused": reused}))


@pytest.fixture
def fake_sweep(tmp_path):
    s = tmp_path / "sweep"
    _trial(s, 0, 0.05, 0.0, _scores(0.4, 0.2), [])
    _trial(s, 1, 0.05, 0.3, _scores(0.3, 0.9), ["base"])
    _trial(s, 2, 0.5, 0.0, _scores(0.5, 0.1), ["data", "base", "sft"])
    _trial(s, 3, 0.5, 0.3, _scores(0.2, 0.8), ["data", "base", "sft"])
    (s / "4" / ".hydra").mkdir(parents=True)  # a trial that failed before writing run.json
    return s


def test_report_collects_trials_and_lists_the_unfinished(fake_sweep):
    trials, unfinished = sweep_report.collect(fake_sweep)
    assert [t["trial"] for t in trials] == ["t0", "t1", "t2", "t3"] and unfinished == ["t4"]
    assert trials[1]["no_tool_share"] == pytest.approx(0.3 / 1.0)
    assert trials[0]["beta"] == 0.05


def test_report_shared_work_counts_builds_and_reuses(fake_sweep):
    rows = {r["stage"]: r for r in sweep_report.shared_work(sweep_report.collect(fake_sweep)[0])}
    assert rows["base"] == {"stage": "base", "trials": 4, "distinct": 1, "built": ["t0"],
                            "reused": ["t1", "t2", "t3"]}
    assert rows["sft"]["distinct"] == 2 and rows["sft"]["built"] == ["t0", "t1"]
    assert rows["dpo"]["distinct"] == 4 and rows["dpo"]["reused"] == []


@pytest.mark.parametrize(("metric", "trial"), [("overall", "t1"), ("non_live", "t2"), ("irrelevance", "t1"),
                                               ("simple_python", "t2"), ("live", None)])
def test_best_configuration_by_the_configured_metric(fake_sweep, metric, trial):
    top = sweep_report.best(sweep_report.collect(fake_sweep)[0], "dpo", metric)
    assert (top and top["trial"]) == trial


def test_report_files(fake_sweep):
    md = sweep_report.write_report(fake_sweep, model="dpo", metric="irrelevance").read_text()
    assert md.startswith("# Sweep q-sweep: 4 trials")
    assert "trial t1 (dpo.beta=0.05, data.ratios.no_tool=0.3) = 90.0 %" in md
    assert "| t2 | tiny_qwen | 0.5 | 0.00 | 50.0 | - | 10.0 | - | 30.0 | data, base, sft |" in md
    assert "| sft | 4 | 2 | t0, t1 | t2, t3 |" in md
    assert "Unfinished or failed trials (no run.json): t4." in md
    assert "Swept: dpo.beta, data.ratios.no_tool." in md
    png = fake_sweep / "sweep_report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    saved = json.loads((fake_sweep / "sweep_report.json").read_text())
    assert saved["best"] == "t1" and len(saved["trials"]) == 4


def test_plot_series_split_by_what_varies(fake_sweep):
    trials = sweep_report.collect(fake_sweep)[0]
    lines = sweep_report._series(trials, "dpo", "beta", ("model", "no_tool_share"),
                                 lambda s: s["groups"]["irrelevance"]["accuracy"])
    assert lines == {"no_tool_share=0": [(0.05, 20.0), (0.5, 10.0)], "no_tool_share=0.3": [(0.05, 90.0), (0.5, 80.0)]}
