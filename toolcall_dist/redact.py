"""Keep secrets from the environment out of every file the project writes.

A config can pull a value from the environment (``${oc.env:HF_TOKEN}``), and a resolved config is written to
``config.json`` and to each W&B run's config. ``redact`` replaces, anywhere in a JSON-like value, the value of every
environment variable whose name says it is a secret (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``...) with
``<redacted:NAME>``. Values shorter than ``MIN_SECRET_LEN`` are ignored: "1" or "true" in a variable named
``*_KEY`` is a flag, and replacing every "1" in a config would garble it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
MIN_SECRET_LEN = 8


def secret_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{value: variable name}`` of the secret-looking variables of ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    found = {v: k for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LEN}
    return dict(sorted(found.items(), key=lambda kv: -len(kv[0])))  # longest first: a secret may contain another


def redact(obj: Any, env: Mapping[str, str] | None = None) -> Any:
    """A copy of ``obj`` (dicts, lists, strings, scalars) with every secret value from ``env`` replaced."""
    secrets = secret_values(env)
    if not secrets:
        return obj

    def walk(x: Any) -> Any:
        if isinstance(x, str):
            for value, name in secrets.items():
                if value in x:
                    x = x.replace(value, f"<redacted:{name}>")
            return x
        if isinstance(x, Mapping):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    return walk(obj)
