"""Hydra multirun sweeps: where a trial writes, how it is named, and running trials concurrently on a Ray cluster.

A sweep is ``python -m toolcall_dist -m +exp=NAME dpo.beta=0.05,0.1 data.ratios.no_tool=0.0,0.3`` (or a preset,
``+sweep=beta``). Each trial is one ``pipeline.run``; trials share finished stages through the content-addressed
stage cache, so trials that differ only in ``dpo.beta`` build the data and the SFT model once.

Two launchers, chosen by config:

- Hydra's ``basic`` launcher (the default) runs trials one after another in this process: the fallback on one
  machine, where concurrent trials would only compete for the same cores.
- ``hydra/launcher=ray_trials`` submits every trial as a Ray task on the cluster ``cluster.address`` names (or a
  local one). A trial task holds no CPU or GPU by default (``trial_cpus``/``trial_gpus``): it mostly waits for its
  Ray Train jobs, and those request the workers' resources, so training jobs of different trials run side by side as
  far as the cluster's resources allow and queue when they are busy (Ray Train retries a worker group that cannot
  be placed). Two trials that need the same unfinished stage build it once: the second waits on the stage's file
  lock (``pipeline.Stage.lock``) and then reuses it.

Hydra plugins must live in the ``hydra_plugins`` package, so the launcher class is a thin shell in
``hydra_plugins/toolcall_dist_launcher``; the work is done here. Ray calls stay in this module and in ``train/``.
The per-trial directory and names that config.yaml resolves are ``resolvers.py``'s.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("toolcall_dist")
SHOWN = {"console": True}  # console.py: a line the sweep's console shows


# --- the Ray launcher -------------------------------------------------------------------------------------------
def _run_trial(hydra_context, task_function, sweep_config, cwd: str, singletons: dict):
    """One trial, inside a Ray task: Hydra's own ``run_job`` (job dir, .hydra/ files, logging, callbacks)."""
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals

    from toolcall_dist.config import register

    os.chdir(cwd)  # relative paths (stages_dir, the sweep dir) mean the same as on the driver
    Singleton.set_state(singletons)  # Hydra's global state (config store, job runtime) as the driver has it
    setup_globals()
    register()  # the config's resolvers, in this fresh worker process
    return run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def launch_on_ray(launcher, job_overrides, initial_job_idx: int) -> list:
    """Run the sweep's trials as Ray tasks, at most ``launcher.max_concurrent`` at a time (null: all); returns
    Hydra ``JobReturn``s in trial order. A trial whose task dies is returned as failed; the others still finish."""
    from hydra.core.utils import configure_log, setup_globals

    from toolcall_dist import console

    setup_globals()
    cfg = launcher.config
    configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
    sweep_dir = str(cfg.hydra.sweep.dir)  # resolved once: its ${now:} must not change between trials
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # every trial's lines reach the log, however alike
    # The console shows a line per trial as it starts and ends; what Ray forwards from the trials and their training
    # workers goes to <sweep dir>/logs/run.log.
    with console.session(sweep_dir, cfg.verbose, restore=True):
        return _launch(launcher, job_overrides, initial_job_idx, cfg, sweep_dir)


def _launch(launcher, job_overrides, initial_job_idx: int, cfg, sweep_dir: str) -> list:
    import ray
    from hydra.core.singleton import Singleton
    from hydra.core.utils import JobReturn, JobStatus, filter_overrides
    from omegaconf import open_dict

    from toolcall_dist.ray_cluster import init_ray

    init_ray(cfg.cluster)
    log.info("Launching %d trials on Ray (%s), at most %s at a time; cluster resources %s", len(job_overrides),
             cfg.cluster.address or "local cluster", launcher.max_concurrent or "all", ray.cluster_resources(),
             extra=SHOWN)
    task = ray.remote(max_calls=1, max_retries=0)(_run_trial).options(  # max_calls=1: a fresh process per trial
        num_cpus=launcher.trial_cpus, num_gpus=launcher.trial_gpus)
    limit = launcher.max_concurrent or len(job_overrides)
    pending: dict = {}
    returns: dict[int, JobReturn] = {}

    def collect(block_until: int) -> None:
        while len(pending) > block_until:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            idx, overrides = pending.pop(ref)
            try:
                returns[idx] = ray.get(ref)
            except ray.exceptions.RayError as e:  # the worker died: a failed trial, not a lost sweep
                log.error("trial #%d failed in Ray: %s", idx, e, extra=SHOWN)
                returns[idx] = JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=e)
            log.info("trial #%d finished: %s", idx, returns[idx].status.name, extra=SHOWN)

    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        collect(limit - 1)
        log.info("trial #%d started: %s", idx, " ".join(filter_overrides(overrides)), extra=SHOWN)
        sweep_config = launcher.hydra_context.config_loader.load_sweep_config(cfg, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = idx
            sweep_config.hydra.job.num = idx
            sweep_config.hydra.sweep.dir = sweep_dir
        ref = task.remote(launcher.hydra_context, launcher.task_function, sweep_config, os.getcwd(),
                          Singleton.get_state())
        pending[ref] = (idx, list(overrides))
    collect(0)
    # Disconnected here, while the session still sends what Ray forwards to the log: the trials' processes print
    # their shutdown errors as the driver leaves, after the console is given back.
    ray.shutdown()
    return [returns[i] for i in sorted(returns)]
