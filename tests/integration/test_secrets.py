"""Secrets never reach a written file: with dummy W&B and hub tokens in the environment, a real reduced quickstart run
(data, tiny base, SFT and DPO as Ray Train jobs with DeepSpeed, eval, W&B offline) writes its run and stage
directories, and no file in them (configs, logs, W&B run files, model cards, checkpoints) holds any of the tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reduced import DPO_BATCHES, SFT_BATCHES, data, heldout_eval, tiny_base  # tests/ is on sys.path

pytestmark = pytest.mark.integration

SECRETS = {
    "WANDB_API_KEY": "wandbdummy" + "7f3a9c" * 5,  # 40 characters, the shape of a real key
    "HF_TOKEN": "hf_DummyHubTokenForLeakTest0123456789",
    "HUGGING_FACE_HUB_TOKEN": "hf_AnotherDummyHubToken9876543210",
    "TOOLCALL_TEST_API_KEY": "apikey-dummy-4242-should-never-be-written",
}
# The quickstart, sized down as in test_quickstart.py (seconds of training, not minutes).
REDUCED = [
    *data(120, 3), "data.leakage_check=false", *tiny_base(80),
    "sft.epochs=1", *SFT_BATCHES, "dpo.epochs=1", *DPO_BATCHES, *heldout_eval(24),
]


def _files(*roots: Path) -> list[Path]:
    return sorted(p for r in roots for p in r.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def run(tmp_path_factory, compose):
    import ray

    from toolcall_dist import pipeline

    mp = pytest.MonkeyPatch()
    for k, v in SECRETS.items():
        mp.setenv(k, v)
    tmp = tmp_path_factory.mktemp("secrets")
    # tracking.mode=auto would go online because WANDB_API_KEY is set: offline is forced, as a CI job would.
    # eval.bfcl_data_dir pulls a secret into the config through the environment (unused: no BFCL category is run):
    # config.json and every W&B config must show it redacted.
    cfg = compose(["+exp=quickstart", f"output_dir={tmp}/out", f"stages_dir={tmp}/stages", "tracking.mode=offline",
                   "eval.bfcl_data_dir=${oc.env:TOOLCALL_TEST_API_KEY}", *REDUCED])
    try:
        result = pipeline.run(cfg)
    finally:
        ray.shutdown()
    yield tmp, result
    mp.undo()


def test_the_run_trained_and_logged_for_real(run):
    tmp, result = run
    assert set(result.scores) == {"base", "sft", "dpo"}
    assert list((tmp / "out" / "wandb").rglob("run-*.wandb")), "no offline W&B run files were written"
    assert (result.stage_dirs["sft"] / "model" / "model.safetensors").exists()


def test_no_written_file_contains_a_secret(run):
    tmp, _ = run
    files = _files(tmp / "out", tmp / "stages")
    assert len(files) > 50  # models, datasets, W&B files, logs, checkpoints: the scan sees the whole run
    leaks = [f"{p.relative_to(tmp)}: {name}" for p in files for name, value in SECRETS.items()
             if value.encode() in p.read_bytes()]
    assert leaks == []


def test_config_json_and_wandb_config_show_the_secret_redacted(run):
    from toolcall_dist.tracking import read_offline_run

    tmp, _ = run
    cfg = json.loads((tmp / "out" / "config.json").read_text())
    assert cfg["eval"]["bfcl_data_dir"] == "<redacted:TOOLCALL_TEST_API_KEY>"
    runs = sorted(p.parent for p in (tmp / "out" / "wandb").rglob("run-*.wandb"))
    assert runs
    for d in runs:
        logged = read_offline_run(str(d))
        if logged["config"].get("eval"):  # stage runs log the resolved config
            assert logged["config"]["eval"]["bfcl_data_dir"] == "<redacted:TOOLCALL_TEST_API_KEY>"
