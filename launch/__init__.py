"""Launchers: submit an experiment to Slurm (``launch.slurm``) or to a running Ray cluster (``launch.ray_submit``)."""
