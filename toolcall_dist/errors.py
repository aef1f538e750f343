"""The project's error types, at the bottom of the import graph so that every layer can raise them."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value that cannot work; the message names the dotted key."""
