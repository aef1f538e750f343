"""``hydra/launcher=ray_trials``: sweep trials as Ray tasks on the experiment's Ray cluster.

A thin shell: Hydra requires launchers to be defined in ``hydra_plugins``; ``toolcall_dist.sweep.launch_on_ray``
does the work. Importing this module stays light (Hydra imports every plugin module on start-up).
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher


class RayTrialLauncher(Launcher):
    """Runs each trial's ``pipeline.run`` as a Ray task; see ``toolcall_dist.sweep``."""

    def __init__(self, max_concurrent: int | None = None, trial_cpus: float = 0, trial_gpus: float = 0) -> None:
        self.max_concurrent = max_concurrent
        self.trial_cpus = trial_cpus
        self.trial_gpus = trial_gpus
        self.config = self.hydra_context = self.task_function = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from toolcall_dist.sweep import launch_on_ray

        return launch_on_ray(self, job_overrides, initial_job_idx)
