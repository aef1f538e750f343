"""A real CPU sweep, run as a user runs it: ``python -m toolcall_dist -m`` over 2 DPO betas x 2 no-tool ratios on the
reduced tiny model, trials as Ray tasks (``hydra/launcher=ray_trials``, two at a time), W&B offline. The Ray cluster
has one CPU and each training one worker of one CPU, so two trials running at once cannot both train: the second
training waits for the first one's resources. Midway, the first DPO training to register a checkpoint has its worker
killed: that trial's training resumes, and the others run on undisturbed. One sweep shared by the module's tests."""

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ray_storage import registered_steps
from reduced import DPO_BATCHES, SFT_BATCHES, data, heldout_eval, tiny_base  # tests/ is on sys.path

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BETAS, RATIOS = (0.05, 0.5), (0.0, 0.3)
REDUCED = [  # a tiny base built in seconds, one epoch each, short generations
    *data(240, 6), *tiny_base(160), "sft.epochs=1", *SFT_BATCHES, "sft.learning_rate=1e-3",
    "dpo.epochs=1", *DPO_BATCHES, *heldout_eval(32),
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}  # offline mode is what is under test
    env.update(PYTHONPATH=str(ROOT), RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "toolcall_dist", "-m", "+exp=quickstart", *REDUCED,
           "cluster.num_workers=1", "cluster.local_num_cpus=1", "tracking.log_model=true",
           f"dpo.beta={','.join(map(str, BETAS))}", f"data.ratios.no_tool={','.join(map(str, RATIOS))}",
           f"stages_dir={tmp}/stages", f"hydra.sweep.dir={tmp}/sweep", "hydra/launcher=ray_trials",
           "hydra.launcher.max_concurrent=2", "cluster.checkpoint_steps=2", "cluster.max_failures=1"]
    killed: dict = {}
    stop = threading.Event()

    def kill_one_dpo_worker_after_its_first_checkpoint():
        while not stop.wait(0.05):
            for run in (tmp / "stages" / "ray").glob("dpo-*"):
                worker = tmp / "stages" / run.name / "trainer" / "workers" / "rank0.json"
                if registered_steps(run.parent, run.name) and worker.exists():
                    killed.update(stage=run.name, pid=json.loads(worker.read_text())["pid"], at=time.time())
                    os.kill(killed["pid"], signal.SIGKILL)
                    return

    killer = threading.Thread(target=kill_one_dpo_worker_after_its_first_checkpoint, daemon=True)
    killer.start()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    finally:
        stop.set()
    assert proc.returncode == 0, proc.stderr[-4000:]
    return tmp, proc.stdout + proc.stderr, killed


def _trials(tmp):
    dirs = sorted((tmp / "sweep").glob("[0-9]*"), key=lambda d: int(d.name))
    return [(d, json.loads((d / "run.json").read_text()), json.loads((d / "config.json").read_text())) for d in dirs]


def test_four_trials_each_with_dpo_scores_for_its_own_config(sweep):
    tmp, _, _ = sweep
    trials = _trials(tmp)
    assert len(trials) == 4
    combos = {(c["dpo"]["beta"], c["data"]["ratios"]["no_tool"]) for _, _, c in trials}
    assert combos == {(b, r) for b in BETAS for r in RATIOS}
    for d, run, cfg in trials:
        assert cfg["output_dir"] == str(d)  # each trial writes into its own directory
        assert set(run["scores"]) == {"base", "sft", "dpo"}
        assert run["scores"]["dpo"]["heldout"]["categories"]["simple_python"]["total"] == 6
        assert json.loads((d / "results.json").read_text()) == run["scores"]


def test_sft_ran_once_per_distinct_data_config(sweep):
    tmp, _, _ = sweep
    trials = _trials(tmp)
    by_ratio = {}
    for _, run, cfg in trials:
        by_ratio.setdefault(cfg["data"]["ratios"]["no_tool"], []).append(run)
    for runs in by_ratio.values():  # same data -> one data dir and one SFT dir; DPO differs by beta
        assert len({r["stage_dirs"]["data"] for r in runs}) == 1
        assert len({r["stage_dirs"]["sft"] for r in runs}) == 1
        assert len({r["stage_dirs"]["dpo"] for r in runs}) == 2
        assert sum("sft" not in r["reused"] for r in runs) == 1  # built by one trial, reused by the other
    assert len({r["stage_dirs"]["sft"] for _, r, _ in trials}) == 2
    assert len({r["stage_dirs"]["base"] for _, r, _ in trials}) == 1
    assert sum("base" not in r["reused"] for _, r, _ in trials) == 1
    stages = tmp / "stages"
    assert len(list(stages.glob("data-*/done.json"))) == 2
    assert len(list(stages.glob("sft-*/done.json"))) == 2
    assert len(list(stages.glob("dpo-*/done.json"))) == 4


def test_reuse_is_in_each_trials_log(sweep):
    tmp, _, _ = sweep
    for d, run, _ in _trials(tmp):
        log = (d / "logs" / "run.log").read_text()
        for label in run["reused"]:
            assert f"[{label}] reusing {run['stage_dirs'][label]}" in log
        for label in set(run["stage_dirs"]) - set(run["reused"]):
            assert f"[{label}] running -> {run['stage_dirs'][label]}" in log


def test_one_report_with_every_trial_and_the_best_configuration(sweep):
    tmp, _, _ = sweep
    reports = list(tmp.rglob("sweep_report.md"))
    assert reports == [tmp / "sweep" / "sweep_report.md"]
    assert (tmp / "sweep" / "sweep_report.png").stat().st_size > 10_000
    md = reports[0].read_text()
    data = json.loads((tmp / "sweep" / "sweep_report.json").read_text())
    trials = _trials(tmp)
    assert [t["trial"] for t in data["trials"]] == [f"t{d.name}" for d, _, _ in trials]
    best = max(trials, key=lambda t: t[1]["scores"]["dpo"]["heldout"]["overall"])
    best_value = best[1]["scores"]["dpo"]["heldout"]["overall"]
    assert data["metric"] == "overall"
    assert data["trials"][[t["trial"] for t in data["trials"]].index(data["best"])]["scores"]["dpo"]["overall"] \
        == best_value
    assert f"= {100 * best_value:.1f} %" in md
    assert "| sft | 4 | 2 |" in md and "| dpo | 4 | 4 |" in md and "| data | 4 | 2 |" in md
    assert "Swept: dpo.beta, data.ratios.no_tool." in md


def test_wandb_offline_run_for_every_stage_of_every_trial(sweep):
    from toolcall_dist.tracking import read_offline_run

    tmp, _, killed = sweep
    sweep_id = f"quickstart-{(tmp / 'sweep').name}"
    for d, run, cfg in _trials(tmp):
        runs = [read_offline_run(r) for r in glob.glob(str(d / "wandb" / "wandb" / "offline-run-*"))]
        if run["stage_dirs"]["dpo"].endswith(killed["stage"]):
            # The SIGKILLed worker's W&B run is cut wherever the kill found it (possibly before its first record);
            # the resumed attempt's run is whole. Keep the DPO run that reached the end of training.
            cut = [r for r in runs if r["job_type"] is None
                   or (r["job_type"] == "dpo" and "train_runtime" not in r["summary"])]
            assert len(cut) == 1, [(r["job_type"], sorted(r["summary"])) for r in runs]
            runs = [r for r in runs if r is not cut[0]]
        by_job = {r["job_type"]: r for r in runs}
        stages = {"data", "base", "sft", "dpo", "eval_base", "eval_sft", "eval_dpo"}
        # one run per stage, reused or not, and the trial's progression table ("report")
        assert sorted(r["job_type"] for r in runs) == sorted(stages | {"report"})
        assert {r["group"] for r in runs} == {f"{sweep_id}-t{d.name}"} == {run["group"]}
        for job, r in by_job.items():
            assert r["config"]["dpo"]["beta"] == cfg["dpo"]["beta"]  # the trial's resolved config
            assert r["config"]["sweep"]["trial"] == f"t{d.name}"
            if job in run["reused"] and job not in ("sft", "dpo"):
                assert any(h.get("stage/reused") == 1 for h in r["history"])
                assert r["summary"]["reused_from"] == run["stage_dirs"][job]
        held = run["scores"]["dpo"]["heldout"]
        evals = [h for h in by_job["eval_dpo"]["history"] if "eval/heldout/simple_python" in h]
        assert evals[0]["eval/heldout/simple_python"] == held["categories"]["simple_python"]["accuracy"]
        assert evals[0]["eval/heldout/irrelevance"] == held["groups"]["irrelevance"]["accuracy"]
        models = [a["name"] for r in runs for a in r["artifacts"] if a["type"] == "model"]
        assert models == [f"model-{run['group']}"]  # tracking.log_model=true: the final model, once, from eval_dpo
        assert any(a["type"] == "model" for a in by_job["eval_dpo"]["artifacts"])
        if "dpo" not in run["reused"]:  # trained here: TRL's DPO metrics logged from rank 0 of the Ray job
            assert {"train/rewards/margins", "train/rewards/accuracies"} <= set().union(*by_job["dpo"]["history"])
        if "sft" not in run["reused"]:
            assert any("train/loss" in h for h in by_job["sft"]["history"])
        else:
            assert any(h.get("stage/reused") == 1 for h in by_job["sft"]["history"])


def test_trainings_wait_for_the_cluster_instead_of_sharing_it(sweep):
    """Six trainings on a one-CPU cluster: no two ever ran at once, and at least one was asked for while another
    was training and started only after that one ended (its trial ran on; its training waited for resources)."""
    tmp, _, _ = sweep
    timing = [json.loads(p.read_text())["timing"] for p in
              sorted((tmp / "stages").glob("sft-*/done.json")) + sorted((tmp / "stages").glob("dpo-*/done.json"))]
    assert len(timing) == 6
    spans = sorted((t["worker_start_at"], t["last_step_at"]) for t in timing)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start  # one training at a time
    waited = [(a, b) for a in timing for b in timing if a is not b
              and a["fit_called_at"] < b["worker_start_at"] and b["last_step_at"] <= a["worker_start_at"]]
    assert waited, "no training was requested while another one held the cluster"
    for a, b in waited:  # the wait shows in the waiting training's own timing
        assert a["fit_to_workers_s"] >= b["last_step_at"] - a["fit_called_at"] > 0


def test_a_killed_training_resumes_alone_and_the_other_trials_finish(sweep):
    """One DPO worker SIGKILLed after its training's first checkpoint: that training resumed from a checkpoint in a
    new worker; no other training restarted, and every trial finished (its DPO scores are in its run.json)."""
    tmp, _, killed = sweep
    assert killed, "no DPO training registered a checkpoint to kill a worker after"
    infos = {p.parent.name: json.loads(p.read_text()) for p in (tmp / "stages").glob("[sd][fp][to]-*/done.json")}
    assert len(infos) == 6
    hit = infos[killed["stage"]]
    assert hit["resumed_from_step"] is not None and hit["resumed_from_step"] % 2 == 0  # cluster.checkpoint_steps=2
    assert killed["pid"] not in {w["pid"] for w in hit["workers"]}
    assert hit["timing"]["worker_start_at"] > killed["at"]
    assert [n for n, i in infos.items() if i["resumed_from_step"] is not None] == [killed["stage"]]
    trials = _trials(tmp)
    assert len(trials) == 4 and all("dpo" in run["scores"] for _, run, _ in trials)
    assert sum(run["stage_dirs"]["dpo"].endswith(killed["stage"]) for _, run, _ in trials) == 1


def test_sweep_console_is_a_line_per_trial_start_and_end_and_the_report(sweep):
    tmp, out, _ = sweep
    lines = out.splitlines()
    trials = _trials(tmp)
    for d, _, _ in trials:
        assert sum(line.startswith(f"trial #{d.name} started: ") for line in lines) == 1
        assert f"trial #{d.name} finished: COMPLETED" in lines
    assert any(line.endswith(f"sweep report: {tmp / 'sweep' / 'sweep_report.md'}") for line in lines[-3:]), out[-2000:]
    assert not [line for line in lines if "(RayTrainWorker" in line or "Failed to query" in line]
    assert len(lines) <= 10 + 2 * len(trials), out
    assert "(RayTrainWorker pid=" in (tmp / "sweep" / "logs" / "run.log").read_text()
