"""Stage order, the content-addressed artifact cache, and the run result.

data -> base -> sft -> mine -> dpo -> eval, mine only where ``dpo.pairs.mined`` > 0 or ``stages`` names it. Each
stage writes into ``<stages_dir>/<stage>-<key>/`` where ``key`` hashes the config the stage depends on plus the keys
of the stages it reads; a directory holding ``done.json`` is reused as is, so a re-run, a resumed run or a sweep
trial repeats no work. Only this module knows the order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolcall_dist import atomic, preempt, preflight
from toolcall_dist.config import validate
from toolcall_dist.preempt import EXIT_PREEMPTED, Preempted  # noqa: F401  (what __main__ and slurm/ act on)
from toolcall_dist.redact import redact

log = logging.getLogger("toolcall_dist")
PROJECT_ROOT = Path(__file__).resolve().parents[1]

SHOWN = {"console": True}  # a line for the console (console.py), beside the log file

# Bump a stage's version when its code changes what it writes, so old cached artifacts are not reused.
STAGE_VERSIONS = {"data": 2, "base": 4, "sft": 1, "mine": 1, "dpo": 1, "eval": 3}


@dataclass
class RunResult:
    """What a run produced; tests and sweep reports read it instead of parsing logs."""

    output_dir: Path
    stage_dirs: dict[str, Path] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    scores: dict[str, dict] = field(default_factory=dict)  # model stage -> BFCL score dict
    table: str = ""


def _legacy_form(d: dict, defaults: dict) -> dict:
    """``d`` without the options added after its stage was first cached wherever they hold ``defaults``, the values
    the older stages ran with: those stages keep their keys, and any other value makes a new one."""
    return {k: v for k, v in d.items() if not (k in defaults and v == defaults[k])}


def _data_key(d: dict) -> dict:
    """The data config as the data stage's key: options added later (a multi-step share, computation negatives,
    Python-typed, Java/JavaScript-typed and verbose tools) enter it only when set."""
    return {**_legacy_form(d, {"python_types": 0.0, "java_js": 0.0, "verbose_tools": 0.0}),
            "shapes": _legacy_form(d["shapes"], {"multi_step": 0}),
            "no_tool_kinds": _legacy_form(d["no_tool_kinds"], {"computation": 0})}


# DPO options added after DPO stages were first cached, with the values those stages trained with (gradient
# checkpointing recomputes the same activations, so false and TRL's former default, true, train the same updates).
DPO_KEY_DEFAULTS = {"sampling": "random", "gradient_checkpointing": False}


def _dpo_key(d: dict) -> dict:
    """The DPO config as the DPO stage's key: without ``pairs`` (the caller adds them when mined pairs are used) and
    without the later options at their defaults."""
    return _legacy_form({k: v for k, v in d.items() if k != "pairs"}, DPO_KEY_DEFAULTS)


EVAL_MODELS_DEFAULT = ["base", "sft", "dpo"]


def _eval_key(r: dict) -> dict:
    """The eval config as one model's evaluation key (the model's own stage key joins it).

    - Sharding changes where generation runs, not what it writes: it stays out.
    - Which other models a run evaluates is no part of one model's evaluation: ``eval.models`` enters as the
      default list whatever it holds, so ``eval.models=[base,sft]`` finds the evaluations a full run makes, and
      evaluations cached before this rule keep their keys.
    - Settings added later enter only when set, so stages cached before them keep their keys; the multi-turn
      settings count only where a multi-turn category runs."""
    multi = any(c.startswith("multi_turn_") for c in r["eval"]["categories"])
    key = _legacy_form({k: v for k, v in r["eval"].items() if k not in ("num_shards", "dtype")
                        and (multi or not k.startswith("multi_turn_"))}, {"live_limit": None})
    key["models"] = EVAL_MODELS_DEFAULT
    if dtype := _dtype_part(r):
        key["dtype"] = dtype[0]
    return key


def stage_key(stage: str, *parts: Any) -> str:
    blob = json.dumps([stage, STAGE_VERSIONS[stage], *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def base_key_parts(model: dict) -> dict:
    """The model config that decides the base weights. Options added after the first release enter the key only when
    set, so cached and shipped bases stay valid; the serving parser's name changes no weight and never enters."""
    parts = {k: model[k] for k in ("name", "family", "path", "tiny", "dtype")}
    parts.update({k: model[k] for k in ("gguf_file", "gguf_package", "add_format_tokens", "trust_remote_code")
                  if model.get(k)})
    if model.get("tiny"):
        from toolcall_dist.models.tiny import BUILD_VERSION

        parts["tiny_build"] = BUILD_VERSION
    return parts


class Stage:
    """One cached stage directory; a finished copy under ``prebuilt`` (read-only, e.g. shipped in the repo) is used
    in place of building it again."""

    def __init__(self, root: Path, stage: str, key: str, prebuilt: Path | None = None):
        self.name, self.key, self.dir = stage, key, root / f"{stage}-{key}"
        self.lock_path = root / f".{stage}-{key}.lock"
        if prebuilt is not None and not self.done and Stage(prebuilt, stage, key).done:
            self.dir = prebuilt / self.dir.name

    @property
    def done(self) -> bool:
        """Whether the stage finished: its ``done.json`` exists and is a complete JSON object. It is written
        atomically and last, so a stage interrupted at any point (a half-written dataset, a killed process) is
        not taken for finished; an unreadable one (copied by hand, an older version) is not trusted either."""
        try:
            return isinstance(json.loads((self.dir / "done.json").read_text(encoding="utf-8")), dict)
        except (OSError, ValueError):
            return False

    @contextmanager
    def lock(self):
        """Hold the stage's build lock: sweep trials running at once that need the same stage build it once (the
        others wait here, then find ``done.json``). ``flock`` is released by the kernel if the holder dies."""
        with open(self.lock_path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def finish(self, info: dict) -> dict:
        atomic.write_json(self.dir / "done.json", info, indent=1, default=str)
        return info

    def info(self) -> dict:
        """The stage's ``done.json``; ``*_dir`` values written relative to the stage directory are made absolute."""
        info = json.loads((self.dir / "done.json").read_text())
        for k, v in info.items():
            if k.endswith("_dir") and isinstance(v, str) and not os.path.isabs(v) and (self.dir / v).exists():
                info[k] = str(self.dir / v)
        return info


def plan_stages(r: dict, root: Path, prebuilt: Path | None = None) -> tuple[dict[str, Stage], dict[str, list[str]]]:
    """The cached stages of the resolved config ``r`` (``{name: Stage}``, eval aside: it has one per model) and the
    stages each one reads (``deps``)."""
    data = Stage(root, "data", stage_key("data", _data_key(r["data"])))
    # The tiny model's warm-up chats carry the system turn's reference date, so it is part of the base's key.
    base = Stage(root, "base", stage_key("base", base_key_parts(r["model"]), r["data"]["reference_date"]), prebuilt)
    train_common = [r["peft"], r["deepspeed"], r["cluster"]["num_workers"], r["seed"]]
    if r["model"]["attn_implementation"]:  # enters the keys only when set, so earlier stages stay valid
        train_common.append(r["model"]["attn_implementation"])
    sft = Stage(root, "sft", stage_key("sft", data.key, base.key, _legacy_form(r["sft"], {"call_turn_only": 0.0}),
                                       *train_common))
    # Sharding, as in the eval, changes where replies are generated, not what they are. No DPO setting enters the
    # key: a beta sweep mines once.
    mine_cfg = {k: v for k, v in r["mine"].items() if k != "num_shards"}
    mine_parts = [data.key, sft.key, mine_cfg, r["eval"]["decode"], r["seed"], *_dtype_part(r)]
    mine = Stage(root, "mine", stage_key("mine", *mine_parts))
    pairs = r["dpo"]["pairs"]
    mined = pairs["mined"] > 0
    dpo_parts = [data.key, sft.key, _dpo_key(r["dpo"]), *train_common]
    # A synthetic-only mix uses those pairs whole: its DPO stages keep the keys they had before mining. The count
    # and sibling sources enter the mix's key only when weighted, so mixes cached before them keep theirs.
    if mined or pairs["count"] > 0 or pairs["sibling"] > 0:
        dpo_parts += [_legacy_form(pairs, {"count": 0.0, "sibling": 0.0})]
    if mined:
        dpo_parts += [mine.key]
    dpo = Stage(root, "dpo", stage_key("dpo", *dpo_parts))
    deps = {"data": [], "base": [], "sft": ["data", "base"], "mine": ["data", "base", "sft"],
            "dpo": ["data", "base", "sft", *(["mine"] if mined else [])],
            "eval": [*(["data"] if r["eval"]["heldout_categories"] else []), *r["eval"]["models"]]}
    return {"data": data, "base": base, "sft": sft, "mine": mine, "dpo": dpo}, deps


def _dtype_part(r: dict) -> list[str]:
    """The dtype the eval and the mining generate in, for their keys: resolved, so a cache built in bf16 is not
    taken for fp32; absent where it is ``model.dtype`` (keys from before ``eval.dtype`` stay valid)."""
    from toolcall_dist.hardware import generation_dtype

    dtype = generation_dtype(r)
    return [] if dtype == r["model"]["dtype"] else [dtype]


def _run_mine(ctx, st, stages: dict) -> dict:
    from toolcall_dist.mining.stage import run_mine  # imported only by runs that mine

    return run_mine(ctx, st, stages)


def run(cfg) -> RunResult:
    """Validate ``cfg`` (a composed DictConfig), then run the stages it names; returns a RunResult.

    SIGUSR1 or SIGTERM during the run stops it at a checkpoint (see ``preempt.py``) and raises ``Preempted``.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread only
        return _run(cfg)
    previous = preempt.install()
    try:
        return _run(cfg)
    finally:
        preempt.restore(previous)


def _run(cfg) -> RunResult:
    from omegaconf import OmegaConf

    conf = validate(cfg)  # ConfigError before anything heavy starts
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("hydra", None)
    out = Path(conf.output_dir).absolute()
    root = Path(conf.stages_dir).absolute()
    prebuilt = Path(conf.prebuilt_stages_dir) if conf.prebuilt_stages_dir else None
    if prebuilt is not None and not prebuilt.is_absolute():
        prebuilt = PROJECT_ROOT / prebuilt
    result = RunResult(output_dir=out)
    r = resolved

    stages, deps = plan_stages(r, root, prebuilt)

    def reuse(stage: Stage, label: str) -> dict:
        log.info("[%s] reusing %s (inputs and config unchanged)", label, stage.dir, extra=SHOWN)
        result.reused.append(label)
        info = stage.info()
        impl.log_reused(ctx, label, stage.dir, info)  # every stage of every trial has its W&B run
        return info

    def ensure(stage: Stage, fn, label: str | None = None) -> dict:
        label = label or stage.name
        result.stage_dirs[label] = stage.dir
        if stage.done:
            return reuse(stage, label)
        if preempt.requested():
            raise Preempted(f"stop requested before stage {label}")
        with stage.lock():
            if stage.done:  # another run of a concurrent sweep built it while this one waited for the lock
                return reuse(stage, label)
            stage.dir.mkdir(parents=True, exist_ok=True)
            t0 = time.time()
            log.info("[%s] running -> %s", label, stage.dir)
            info = fn(stage)
            info["seconds"] = round(time.time() - t0, 1)
            log.info("[%s] done in %.1fs -> %s", label, info["seconds"], stage.dir, extra=SHOWN)
            return stage.finish(info)

    from toolcall_dist import stages as impl

    # A sweep trial's stages share one W&B group per trial (sweep.id/trial come from Hydra's multirun).
    group = f"{conf.sweep.id}-{conf.sweep.trial}" if conf.sweep.trial else f"{conf.name}-{stages['dpo'].key}"
    ctx = impl.Context(cfg=r, output_dir=out, group=group)
    # Targets are the stages asked for; whatever they read runs first (or is reused from the cache).
    todo: set[str] = set()

    def add(s: str) -> None:
        todo.add(s)
        for d in deps[s]:
            add(d)

    for s in conf.stages:
        add(s)
    # Bounded checks (writable paths, Ray head reachable, input files, BFCL data) before anything runs.
    pending = {n for n in todo if n == "eval" or not stages[n].done}
    preflight.check({**r, "output_dir": str(out), "stages_dir": str(root)}, pending=pending)
    atomic.write_json(out / "config.json", redact(resolved), indent=1)  # no token from the environment on disk
    runners = {"data": impl.run_data, "base": impl.run_base, "sft": impl.run_sft, "mine": _run_mine,
               "dpo": impl.run_dpo}
    for name, runner in runners.items():
        if name in todo:
            ensure(stages[name], lambda st, fn=runner: fn(ctx, st, stages))
    if "eval" in todo:
        data_key = stages["data"].key if conf.eval.heldout_categories else None
        eval_key = _eval_key(r)
        for model in conf.eval.models:
            ev = Stage(root, "eval", stage_key("eval", stages[model].key, data_key, eval_key))
            info = ensure(ev, lambda st, m=model: impl.run_eval(ctx, st, stages, m), label=f"eval_{model}")
            result.scores[model] = info["scores"]
        result.table = impl.write_report(ctx, result.scores, result.stage_dirs)
        log.info("\n%s\n(also in %s)", result.table, out / "results.md", extra=SHOWN)
    # What the sweep report reads per trial: which stage directories it used, which it reused, its scores.
    (out / "run.json").write_text(json.dumps({**asdict(result), "group": group}, indent=1, default=str))
    return result
