"""Trust and secrets: a checkpoint's own Python code runs only with ``model.trust_remote_code=true`` (off by default,
passed to every loader), and secrets from the environment are redacted from what the project writes."""

from __future__ import annotations

import json

import pytest

from toolcall_dist.config import validate
from toolcall_dist.redact import redact, secret_values

pytestmark = pytest.mark.unit

# A local "checkpoint" whose tokenizer is custom code: importing it leaves a marker file, so a test sees whether the
# code ran. Nothing in it is needed to load; it only has to be imported.
EVIL = """
import pathlib
pathlib.Path({marker!r}).write_text("the checkpoint's code ran")
from transformers import PreTrainedTokenizerFast
class EvilTokenizer(PreTrainedTokenizerFast):
    pass
"""


@pytest.fixture
def remote_code_checkpoint(tmp_path):
    from toolcall_dist.models.tiny import train_tokenizer

    d = tmp_path / "ckpt"
    tok = train_tokenizer(["a tiny corpus of plain text"] * 4, 300, "qwen2_5")
    tok.save_pretrained(d)
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    cfg.update(auto_map={"AutoTokenizer": [None, "tokenization_evil.EvilTokenizer"]}, tokenizer_class="EvilTokenizer")
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    marker = tmp_path / "ran.txt"
    # the marker path makes each copy's code unique: transformers caches imported remote modules by content
    (d / "tokenization_evil.py").write_text(EVIL.format(marker=str(marker)))
    return d, marker


def test_trust_remote_code_is_off_by_default(compose):
    for exp in ("quickstart", "qwen_dpo", "smollm2_dpo"):
        assert validate(compose([f"+exp={exp}"])).model.trust_remote_code is False


@pytest.mark.parametrize("loader", ["eval", "base"])
def test_checkpoint_code_does_not_run_without_the_flag(remote_code_checkpoint, loader):
    from toolcall_dist.eval.generate import load_tokenizer
    from toolcall_dist.models.checkpoint import prepare_base

    d, marker = remote_code_checkpoint
    m = {"name": "x", "family": "qwen2_5", "path": str(d), "tiny": None, "gguf_file": None, "gguf_package": None,
         "add_format_tokens": False, "serving_parser": None, "dtype": "float32", "trust_remote_code": False}
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_tokenizer(str(d)) if loader == "eval" else prepare_base(m, d.parent / "out")
    assert not marker.exists()


@pytest.mark.parametrize("loader", ["eval", "base"])
def test_the_flag_is_what_lets_checkpoint_code_run(remote_code_checkpoint, loader):
    from toolcall_dist.eval.generate import load_tokenizer
    from toolcall_dist.models.checkpoint import prepare_base

    d, marker = remote_code_checkpoint
    m = {"name": "x", "family": "qwen2_5", "path": str(d), "tiny": None, "gguf_file": None, "gguf_package": None,
         "add_format_tokens": False, "serving_parser": None, "dtype": "float32", "trust_remote_code": True}
    try:
        load_tokenizer(str(d), trust_remote_code=True) if loader == "eval" else prepare_base(m, d.parent / "out")
    except (OSError, ValueError):  # no weights in this checkpoint: loading stops after the tokenizer
        pass
    assert marker.read_text() == "the checkpoint's code ran"


def test_trust_flag_changes_the_base_key_only_when_set():
    from toolcall_dist.pipeline import base_key_parts

    m = {"name": "q", "family": "qwen2_5", "path": "Q/x", "tiny": None, "dtype": "bfloat16", "gguf_file": None,
         "gguf_package": None, "add_format_tokens": False, "trust_remote_code": False}
    assert "trust_remote_code" not in base_key_parts(m)  # shipped and cached bases keep their keys
    assert base_key_parts({**m, "trust_remote_code": True})["trust_remote_code"] is True


ENV = {"WANDB_API_KEY": "0123456789abcdef0123456789abcdef01234567", "HF_TOKEN": "hf_abcdefghijklmnop",
       "MY_PASSWORD": "hunter2hunter2", "SOME_KEY": "1", "PATH": "/usr/bin:/bin", "HOME": "/root"}


def test_secret_values_are_taken_from_secret_looking_names_only():
    assert set(secret_values(ENV).values()) == {"WANDB_API_KEY", "HF_TOKEN", "MY_PASSWORD"}  # "1" is a flag


def test_redact_replaces_secrets_anywhere_in_a_config():
    cfg = {"tracking": {"entity": "team"}, "data": {"sources": [{"hub": "org/set", "path": "/x/hf_abcdefghijklmnop"}]},
           "note": "key=0123456789abcdef0123456789abcdef01234567;", "n": 3, "flags": [True, None], "home": "/root"}
    out = redact(cfg, ENV)
    assert out["data"]["sources"][0]["path"] == "/x/<redacted:HF_TOKEN>"
    assert out["note"] == "key=<redacted:WANDB_API_KEY>;"
    assert out["tracking"] == cfg["tracking"] and out["n"] == 3 and out["flags"] == [True, None]
    assert out["home"] == "/root" and redact(cfg, {}) is cfg
    assert not any(v in json.dumps(out) for v in ("0123456789abcdef", "hf_abcdefghijklmnop"))


def test_config_json_redacts_a_secret_pulled_from_the_environment(tmp_path, compose, monkeypatch):
    """A config value interpolated from a secret variable: the run uses it, config.json shows it redacted."""
    from toolcall_dist import pipeline

    monkeypatch.setenv("TOOLCALL_TEST_TOKEN", "tok-secret-value-31337")
    cfg = compose(["+exp=quickstart", "stages=[data]", "tracking=none", f"output_dir={tmp_path}/out",
                   f"stages_dir={tmp_path}/stages", "data.n_examples=40", "data.holdout_per_category=2",
                   "data.leakage_check=false", "eval.bfcl_data_dir=${oc.env:TOOLCALL_TEST_TOKEN}"])
    pipeline.run(cfg)
    written = (tmp_path / "out" / "config.json").read_text()
    assert "tok-secret-value-31337" not in written
    assert json.loads(written)["eval"]["bfcl_data_dir"] == "<redacted:TOOLCALL_TEST_TOKEN>"
