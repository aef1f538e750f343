"""What both launchers share: splitting launcher options from experiment overrides, and composing the experiment
locally so a bad override fails before anything is queued."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class LaunchError(ValueError):
    """A launcher argument or experiment that cannot be submitted; the message names the key."""


def split_args(argv: list[str], prefix: str) -> tuple[dict, list[str], bool]:
    """(``<prefix>.*`` launcher options as a dict, experiment overrides, ``-m``/``--multirun`` given?)."""
    from omegaconf import OmegaConf

    opts, overrides, multirun = [], [], False
    for a in argv:
        if a in ("-m", "--multirun"):
            multirun = True
        elif a.startswith(prefix + "."):
            opts.append(a[len(prefix) + 1:])
        else:
            overrides.append(a)
    return OmegaConf.to_container(OmegaConf.from_dotlist(opts)), overrides, multirun


def parse_options(schema: type, raw: dict, prefix: str):
    """``raw`` merged into the dataclass ``schema``; an unknown key or a bad type fails naming ``<prefix>.<key>``."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), raw))
    except OmegaConfBaseException as e:
        raise LaunchError(f"{prefix}.{e.full_key}: {e.msg.splitlines()[0]}") from None


def compose_experiment(overrides: list[str], env: dict[str, str] | None = None):
    """Compose and validate the experiment as the job will see it (``env``: variables the job will have set)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    from toolcall_dist.config import ConfigError, register, validate

    register()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(PROJECT_ROOT / "hydra_conf"), version_base="1.3"):
            cfg = compose("config", overrides=overrides)
        return validate(cfg)
    except (ConfigError, HydraException) as e:
        raise LaunchError(f"experiment config: {e}") from None
    finally:
        GlobalHydra.instance().clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
