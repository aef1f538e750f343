"""Typed experiment config: the root schema Hydra composes into, and ``validate``, which runs before anything heavy.

Every group in ``hydra_conf/<group>/`` merges into its dataclass in ``schema/<group>.py`` (one module per group, its
checks beside it), so a misspelt key fails at composition time (Hydra's struct mode) and a bad value fails in
``__post_init__`` with the dotted key named, before Ray starts. Checks across groups (batch arithmetic against the
cluster's size) run here, in ``Config.__post_init__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolcall_dist.errors import ConfigError
from toolcall_dist.schema.checks import check
from toolcall_dist.schema.cluster import ClusterConfig
from toolcall_dist.schema.data import SOURCE_FORMATS, DataConfig, SourceConfig
from toolcall_dist.schema.deepspeed import DeepSpeedConfig
from toolcall_dist.schema.dpo import DPOConfig
from toolcall_dist.schema.eval import BFCL_CATEGORIES, SYNTHETIC_CATEGORIES, EvalConfig
from toolcall_dist.schema.mine import MineConfig
from toolcall_dist.schema.model import FAMILIES, ModelConfig
from toolcall_dist.schema.peft import PeftConfig
from toolcall_dist.schema.sft import SFTConfig
from toolcall_dist.schema.sweep import SweepConfig
from toolcall_dist.schema.tracking import TrackingConfig

# Names other modules read from here: the error type, and the groups' constants and schemas.
__all__ = ["BFCL_CATEGORIES", "FAMILIES", "SOURCE_FORMATS", "STAGES", "SYNTHETIC_CATEGORIES", "Config", "ConfigError",
           "DataConfig", "SourceConfig", "grad_accum_steps", "register", "validate"]

STAGES = ("data", "base", "sft", "mine", "dpo", "eval")


@dataclass
class Config:
    name: str = "default"
    seed: int = 0
    output_dir: str = "outputs/default"
    stages_dir: str = "outputs/stages"  # content-addressed stage artifacts, shared by runs and sweep trials
    prebuilt_stages_dir: str | None = "assets/stages"  # finished stages shipped with the repo (relative: to it)
    stages: list[str] = field(default_factory=lambda: ["data", "base", "sft", "dpo", "eval"])
    verbose: bool = False  # everything on the console (Ray, workers, W&B), not only progress, stages and results
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    mine: MineConfig = field(default_factory=MineConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    peft: PeftConfig = field(default_factory=PeftConfig)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)

    def __post_init__(self) -> None:
        for s in self.stages:
            check(s in STAGES, "stages", f"unknown stage {s!r}; known: {STAGES}")
        for train_cfg, key in ((self.sft, "sft"), (self.dpo, "dpo")):
            grad_accum_steps(train_cfg.global_batch_size, train_cfg.micro_batch_size, self.cluster.num_workers, key)
        check(not self.sft.liger_kernel or self.cluster.use_gpu, "sft.liger_kernel",
              "Liger's kernels are Triton GPU kernels; set cluster.use_gpu=true or sft.liger_kernel=false")


def grad_accum_steps(global_batch: int, micro: int, world: int, key: str = "sft") -> int:
    """Gradient accumulation steps such that micro x accumulation x world = global batch, or a ConfigError."""
    per_step = micro * world
    check(global_batch > 0 and global_batch % per_step == 0, f"{key}.global_batch_size",
          f"{global_batch} is not a multiple of {key}.micro_batch_size x cluster.num_workers = {micro} x {world}")
    return global_batch // per_step


def register() -> None:
    """Register the schema with Hydra's ConfigStore as ``base_config`` (config.yaml lists it first), and the
    resolvers config.yaml uses for sweep trials."""
    from hydra.core.config_store import ConfigStore

    from toolcall_dist.resolvers import register_resolvers

    ConfigStore.instance().store(name="base_config", node=Config)
    register_resolvers()


def unknown_keys(value: Any, schema: type, prefix: str = "") -> list[str]:
    """Dotted keys of the plain dict ``value`` that the dataclass ``schema`` (and its nested dataclasses, lists of
    them and optional ones) does not declare. Hydra's ``+key=value`` appends past struct mode, and the conversion
    to the dataclass would then drop the key without a word: a misspelt setting must fail instead."""
    import dataclasses
    import typing

    if not isinstance(value, dict):
        return []
    hints = typing.get_type_hints(schema)
    out = []
    for key, sub in value.items():
        path = f"{prefix}{key}"
        if key not in hints:
            out.append(path)
            continue
        hint = hints[key]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = next((a for a in [hint, *args] if dataclasses.is_dataclass(a)), None)
        if inner is not None and isinstance(sub, dict):
            out += unknown_keys(sub, inner, f"{path}.")
        elif isinstance(sub, list):  # list[SomeConfig]
            item = next((a for a in args if dataclasses.is_dataclass(a)), None)
            for i, elem in enumerate(sub if item is not None else []):
                out += unknown_keys(elem, item, f"{path}[{i}].")
    return out


def validate(cfg: Any) -> Config:
    """Turn a composed DictConfig into a checked ``Config``; raises ConfigError naming the bad key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    plain = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
    plain = {k: v for k, v in plain.items() if k != "hydra"} if isinstance(plain, dict) else plain
    if extra := unknown_keys(plain, Config):
        raise ConfigError(f"{extra[0]}: unknown config key" + (f" (and {len(extra) - 1} more: {extra[1:]})"
                                                               if len(extra) > 1 else ""))
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:  # type errors from the schema: report the key, not a traceback
        raise ConfigError(f"{e.full_key}: {e.msg}") from None
    if not isinstance(obj, Config):
        raise ConfigError("config does not follow the base_config schema (is 'base_config' first in defaults?)")
    return obj
