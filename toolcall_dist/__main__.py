"""`python -m toolcall_dist +exp=NAME [overrides]`: compose the experiment with Hydra and run the pipeline."""

import sys

import hydra

from toolcall_dist.config import ConfigError, register

register()


@hydra.main(version_base="1.3", config_path="../hydra_conf", config_name="config")
def main(cfg) -> None:
    from toolcall_dist import console, pipeline

    trial = cfg.sweep.trial  # set in a multirun: the trial's warnings and one last line on the console, the rest
    # in its own log (under the ray_trials launcher, that console is the Ray task's output, forwarded best-effort)
    try:
        # the console's lines; everything else to the run's log (a sweep trial gets its process's streams back)
        with console.session(cfg.output_dir, cfg.verbose, restore=bool(trial), quiet=bool(trial)):
            pipeline.run(cfg)
        if trial:
            print(f"trial {trial} finished: {cfg.output_dir}/results.md (log: {cfg.output_dir}/logs/run.log)",
                  flush=True)
    except ConfigError as e:  # a bad value: one clear line, not a traceback from deep inside a stage
        print(f"toolcall_dist: config error: {e}", file=sys.stderr)
        sys.exit(2)
    except pipeline.Preempted as e:  # checkpointed on SIGUSR1/SIGTERM: the same command resumes (slurm/ requeues)
        print(f"toolcall_dist: stopped on request: {e}; run the same command again to resume", file=sys.stderr)
        sys.exit(pipeline.EXIT_PREEMPTED)


if __name__ == "__main__":
    main()
