"""OmegaConf resolvers config.yaml uses for sweep trials: where a trial writes and how it is named. Registered by
``config.register``; imports nothing of the project's, so the config layer knows nothing of Ray or the launcher."""

from __future__ import annotations

from pathlib import Path


def _multirun():
    """The job's Hydra config when this process runs a multirun trial, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    return hc if hc.mode == RunMode.MULTIRUN else None


def trial_dir(single_run_dir: str) -> str:
    """``output_dir``: ``single_run_dir`` for a single run; the trial's own Hydra job directory in a multirun, so
    trials never share results, configs or W&B files."""
    hc = _multirun()
    return single_run_dir if hc is None else str(Path(hc.sweep.dir) / str(hc.sweep.subdir))


def sweep_id(name: str) -> str | None:
    """``sweep.id``: ``<name>-<sweep dir name>`` (a timestamp by default) in a multirun, else None."""
    hc = _multirun()
    return None if hc is None else f"{name}-{Path(hc.sweep.dir).name}"


def trial_id() -> str | None:
    """``sweep.trial``: ``t<job number>`` in a multirun, else None."""
    hc = _multirun()
    return None if hc is None else f"t{hc.job.num}"


def register_resolvers() -> None:
    """``${tcd.trial_dir:...}``, ``${tcd.sweep_id:...}`` and ``${tcd.trial_id:}`` for config.yaml."""
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("tcd.trial_dir", trial_dir, replace=True)
    OmegaConf.register_new_resolver("tcd.sweep_id", sweep_id, replace=True)
    OmegaConf.register_new_resolver("tcd.trial_id", trial_id, replace=True)
