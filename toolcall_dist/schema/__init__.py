"""One typed schema per Hydra config group (``hydra_conf/<group>/`` -> ``schema/<group>.py``), each with its own
checks; ``toolcall_dist.config`` assembles them into the root ``Config`` and validates a composed config."""
