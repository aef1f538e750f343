"""The serving command: the parser each family's trained calls need, the model's own chat template and the eval's
dtype; a family whose parser cannot read the format is refused; a directory that is no run is named."""

from __future__ import annotations

import json
import shlex

import pytest

from toolcall_dist.serve import PARSERS, command, locate, main

pytestmark = pytest.mark.unit


def _run_dir(tmp_path, family: str, stages=("sft", "dpo"), parser=None):
    out = tmp_path / "out"
    out.mkdir()
    dirs = {}
    for s in stages:
        model = tmp_path / "stages" / f"{s}-abc" / "model"
        model.mkdir(parents=True)
        (model / "config.json").write_text("{}")
        (model / "chat_template.jinja").write_text("{{ messages }}")
        dirs[s] = str(model.parent)
    (out / "run.json").write_text(json.dumps({"stage_dirs": {"data": str(tmp_path / "d"), **dirs}}))
    cfg = {"name": "quickstart", "model": {"family": family, "serving_parser": parser, "dtype": "float32"},
           "eval": {"dtype": None}, "cluster": {"use_gpu": False}}
    (out / "config.json").write_text(json.dumps(cfg))
    return out


def test_the_dpo_model_behind_its_familys_parser_with_its_template(tmp_path):
    out = _run_dir(tmp_path, "qwen2_5")
    spec = locate(out)
    assert spec["model_dir"].endswith("dpo-abc/model") and spec["parser"] == "hermes" and spec["dtype"] == "float32"
    argv = command(spec, port=8123, vllm="/x/vllm")
    assert argv[:3] == ["/x/vllm", "serve", spec["model_dir"]]
    joined = shlex.join(argv)
    for part in ("--enable-auto-tool-choice", "--tool-call-parser hermes", "--port 8123", "--dtype float32",
                 f"--chat-template {spec['model_dir']}/chat_template.jinja", "--served-model-name quickstart-dpo"):
        assert part in joined
    assert locate(out, "sft")["model_dir"].endswith("sft-abc/model")
    module = command(spec, port=8123, python="/v/bin/python")
    assert module[:5] == ["/v/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--model", spec["model_dir"]]
    assert module[5:] == argv[3:]


def test_the_configs_parser_wins_and_every_family_has_one(tmp_path):
    assert locate(_run_dir(tmp_path, "llama3", parser="pythonic"))["parser"] == "pythonic"
    assert set(PARSERS) == {"qwen2_5", "smollm2", "llama3", "mistral", "phi4"}


def test_phi4_is_refused_with_the_reason(tmp_path, capsys):
    assert main([str(_run_dir(tmp_path, "phi4"))]) == 2
    err = capsys.readouterr().err
    assert "refusing" in err and "phi4_mini_json" in err and "<|tool_call|>" in err


def test_what_cannot_be_served_is_named(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert f"{tmp_path}: not a run's output directory" in capsys.readouterr().err
    out = _run_dir(tmp_path, "qwen2_5", stages=("sft",))
    assert main([str(out), "--stage", "dpo"]) == 2
    assert "no dpo model in this run" in capsys.readouterr().err
    assert main([str(out), "--start", "--vllm", "no-such-vllm-here"]) == 3
    captured = capsys.readouterr()
    assert captured.out.startswith("no-such-vllm-here serve ") and "vLLM is not installed here" in captured.err
