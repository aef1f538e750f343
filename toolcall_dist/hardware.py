"""What the training hardware can do, and the ``bf16: auto | true | false`` setting resolved against it.

Pure functions over the CPU's feature flags (``/proc/cpuinfo``) and a GPU's answer, so the rule is tested without
the hardware: bf16 is used where the matrix units run it natively (AVX-512 BF16 or AMX on x86 CPUs, a GPU that
reports bf16 support), fp32 elsewhere. Asking for bf16 where it is missing is a ``ConfigError`` naming the key,
raised before launch by preflight on the driver's machine and again in each worker for remote ones.
"""

from __future__ import annotations

from pathlib import Path

from toolcall_dist.errors import ConfigError

# x86 flags whose presence means native bf16 matrix products (oneDNN uses them; without them bf16 is emulated and
# slower than fp32). avx512_bf16: AMD Zen 4+, Intel Cooper Lake; amx_bf16: Intel Sapphire Rapids+.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SETTINGS = ("auto", True, False)
DTYPES = ("float32", "bfloat16", "float16")


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of the first processor in ``/proc/cpuinfo``'s text (``flags`` on x86, ``Features`` on
    ARM)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_has_bf16(flags: set[str]) -> bool:
    """Native bf16 matrix products on this CPU."""
    return any(f in flags for f in CPU_BF16_FLAGS)


def local_cpu_flags() -> set[str]:
    """This machine's CPU flags; empty where ``/proc/cpuinfo`` does not exist (macOS, Windows)."""
    try:
        return cpu_flags(Path("/proc/cpuinfo").read_text())
    except OSError:
        return set()


def resolve_bf16(setting, use_gpu: bool, has_bf16: bool, key: str) -> bool:
    """``sft.bf16`` / ``dpo.bf16`` (``setting``) as a bool for hardware that does (``has_bf16``) or does not run
    bf16 natively; ``True`` on hardware without it is a ConfigError naming ``key``."""
    if setting not in SETTINGS:
        raise ConfigError(f"{key}: must be auto, true or false, got {setting!r}")
    if setting == "auto":
        return has_bf16
    if setting and not has_bf16:
        where = ("the GPU does not support bf16 (torch.cuda.is_bf16_supported() is false)" if use_gpu else
                 f"this CPU has no native bf16 (none of {', '.join(CPU_BF16_FLAGS)} in /proc/cpuinfo)")
        raise ConfigError(f"{key}: true, but {where}; set {key}=auto (fp32 here) or false")
    return bool(setting)


def resolve_dtype(setting: str | None, model_dtype: str, has_bf16: bool) -> str:
    """The dtype a model generates in, from ``eval.dtype`` (``setting``): null keeps ``model.dtype``, ``auto`` is
    bfloat16 where the generating hardware runs it natively (``has_bf16``) and ``model.dtype`` elsewhere, and a
    dtype's name is that dtype."""
    if setting is None:
        return model_dtype
    if setting == "auto":
        return "bfloat16" if has_bf16 else model_dtype
    if setting not in DTYPES:
        raise ConfigError(f"eval.dtype: must be null, auto or one of {', '.join(DTYPES)}, got {setting!r}")
    return setting


def generation_dtype(cfg: dict) -> str:
    """``eval.dtype`` of the resolved config, resolved against the driver's hardware (where the eval and the mining
    generate unless they are sharded; a GPU cluster's driver without a GPU resolves ``auto`` to ``model.dtype``)."""
    setting = cfg["eval"]["dtype"]
    has_bf16 = setting == "auto" and hardware_has_bf16(cfg["cluster"]["use_gpu"])
    return resolve_dtype(setting, cfg["model"]["dtype"], has_bf16)


def hardware_has_bf16(use_gpu: bool) -> bool:
    """Whether this process's training device runs bf16 natively (imports torch only for a GPU)."""
    if use_gpu:
        import torch

        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return cpu_has_bf16(local_cpu_flags())
