"""The `slurm` tier's cluster: Debian's Slurm (installed when missing) running two nodes on this machine."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from minislurm import MiniSlurm, ensure_installed  # tests/slurm is on sys.path (pytest's rootdir-less import)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A started two-node Slurm cluster; jobs submitted with ``slurm_cluster.env`` run on it. Ray nodes get a short
    temp root of their own (unix socket paths must stay under ~107 characters)."""
    ensure_installed()
    cluster = MiniSlurm(tmp_path_factory.mktemp("slurm"), cpus_per_node=2)
    ray_tmp = Path(tempfile.mkdtemp(prefix="tcdray."))
    cluster.env.update({"TOOLCALL_RAY_TMPDIR": str(ray_tmp), "WANDB_MODE": "offline"})
    cluster.env.pop("WANDB_API_KEY", None)
    cluster.env.pop("RAY_ADDRESS", None)
    cluster.ray_tmp = ray_tmp
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(ray_tmp, ignore_errors=True)
