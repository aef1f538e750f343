"""Shared test helpers: composing the project's Hydra config exactly as ``python -m toolcall_dist`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

CONF_DIR = Path(__file__).resolve().parents[1] / "hydra_conf"


@pytest.fixture(scope="session")
def compose():
    """``compose(overrides) -> DictConfig`` against hydra_conf/ with the schema registered."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from toolcall_dist.config import register

    register()

    def _compose(overrides: list[str]):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose("config", overrides=overrides, return_hydra_config=False)

    return _compose
