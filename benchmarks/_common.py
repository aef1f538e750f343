"""What the training benchmarks share: a random-weight model of a chosen size, the project's datasets for it, the
plain-dict config a Ray worker receives, and writing a result section into docs/performance.md."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_DIR = ROOT / "assets" / "stages" / "base-72ef7919d90e" / "model"  # the shipped tiny Qwen tokenizer


def compose_config(overrides: list[str]):
    """The project's DictConfig for ``overrides``, validated, as ``python -m toolcall_dist`` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from toolcall_dist.config import register, validate

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "hydra_conf"), version_base="1.3"):
        cfg = hydra_compose("config", overrides=overrides)
    validate(cfg)
    return cfg


def compose(overrides: list[str]) -> dict:
    """The resolved config for ``overrides`` as a plain dict."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(compose_config(overrides), resolve=True)


def random_model(out: Path, hidden: int, layers: int, dtype: str = "float32", **shape) -> Path:
    """A Qwen2-architecture model with random weights and the tiny tokenizer (throughput needs no training). ``shape``
    overrides Qwen2Config fields (heads, MLP width, vocabulary: a larger vocabulary still takes the tiny tokenizer's
    ids, which lie inside it)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    cfg = Qwen2Config(**{"vocab_size": len(tok), "hidden_size": hidden, "intermediate_size": 4 * hidden,
                         "num_hidden_layers": layers, "num_attention_heads": max(2, hidden // 64),
                         "num_key_value_heads": max(1, hidden // 128), "max_position_embeddings": 2048, **shape},
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    Qwen2ForCausalLM(cfg).to(getattr(torch, dtype)).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def worker_config(cfg: dict, stage: str, model_dir: Path, dataset_dir: Path, work: Path) -> dict:
    """The plain dict ``train/ray_job`` hands each worker (what ``stages._train_config`` builds in a run)."""
    return {**cfg, "added_tokens": [], "resolved": cfg, "group": "bench", "dtype": cfg["model"]["dtype"],
            "model_dir": str(model_dir), "dataset_dir": str(dataset_dir), "trainer_dir": str(work / "trainer"),
            "model_out": str(work / "model"), "run_name": f"bench-{stage}-{work.name}", "wandb_dir": str(work),
            "storage_path": str(work / "ray"), "stage": stage}


RESULT = "RESULT "  # the line on which a part process prints its JSON result


def run_part(script: str, name: str, work: Path, argv: list[str]) -> dict:
    """Run one measurement, ``script --part name``, in a fresh process (its own memory peak, no state left by the
    others) and return the JSON it printed on its ``RESULT`` line (``answer_part`` prints it)."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, script, *argv, "--part", name, "--work", str(work)],
                          capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith(RESULT)]
    if proc.returncode or not lines:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT):])


def answer_part(args, work: Path, part) -> bool:
    """In a process ``run_part`` started (``--part`` given): run ``part(name, args, work)``, print its result on the
    ``RESULT`` line and return True; otherwise return False."""
    import json

    if not args.part:
        return False
    print(RESULT + json.dumps(part(args.part, args, work)), flush=True)
    return True


def run_job(python: str, script: str, job):
    """Run ``script --job FILE`` with the interpreter ``python`` (another environment's, e.g. one with vLLM), the
    project on its path, and return its answer: the job goes into FILE as JSON and the answer comes back in it
    (``answer_job`` writes it)."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.json"
        path.write_text(json.dumps(job))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        subprocess.run([python, script, "--job", str(path)], env=env, check=True)
        return json.loads(path.read_text())


def answer_job(path: str, fn) -> None:
    """In a process ``run_job`` started: replace the job in ``path`` by ``fn(job)``'s answer."""
    import json

    Path(path).write_text(json.dumps(fn(json.loads(Path(path).read_text()))))


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU" if not _has_cuda() else _gpu_name()


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0)


def update_performance_doc(name: str, title: str, command: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- bench:name -->`` markers in docs/performance.md."""
    doc = ROOT / "docs" / "performance.md"
    text = doc.read_text()
    stamp = datetime.date.today().isoformat()
    section = (f"<!-- bench:{name} -->\n## {title}\n\nMeasured {stamp} on {machine()}, load average "
               f"{os.getloadavg()[0]:.1f} at the end, with:\n\n    {command}\n\n{body.strip()}\n"
               f"<!-- /bench:{name} -->")
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def table(header: list[str], rows: list[list]) -> str:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(out)
