"""Hydra launcher plugin of toolcall_dist (Hydra only loads plugins from the ``hydra_plugins`` namespace)."""
