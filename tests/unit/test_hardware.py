"""``bf16: auto | true | false`` and ``eval.dtype`` resolved against the hardware's flags (toolcall_dist/hardware.py),
and preflight's error for bf16 asked of a CPU without it."""

from __future__ import annotations

import pytest

from toolcall_dist.errors import ConfigError
from toolcall_dist.hardware import (
    cpu_flags,
    cpu_has_bf16,
    generation_dtype,
    local_cpu_flags,
    resolve_bf16,
    resolve_dtype,
)

pytestmark = pytest.mark.unit

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512bw avx512_bf16 avx512_vnni
bugs\t\t: sysret_ss_attrs
"""
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx512f amx_tile amx_int8 amx_bf16\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw avx512_vnni\n"  # AVX-512 but no bf16
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(ZEN4, True), (SAPPHIRE_RAPIDS, True), (SKYLAKE, False),
                                                 (GRAVITON, False), ("", False)])
def test_auto_is_bf16_exactly_where_the_cpu_has_it(cpuinfo, native):
    flags = cpu_flags(cpuinfo)
    assert cpu_has_bf16(flags) is native
    assert resolve_bf16("auto", False, cpu_has_bf16(flags), "sft.bf16") is native


def test_flags_are_read_whole_words():
    assert "avx512_bf16" not in cpu_flags("flags\t: avx512_bf16x\n")
    assert cpu_flags(ZEN4) >= {"avx512f", "avx512_bf16"}


def test_explicit_settings():
    assert resolve_bf16(False, False, True, "sft.bf16") is False  # fp32 asked for on bf16 hardware
    assert resolve_bf16(True, True, True, "dpo.bf16") is True


@pytest.mark.parametrize(("use_gpu", "says"), [(False, "avx512_bf16"), (True, "is_bf16_supported")])
def test_true_without_bf16_names_the_key_and_the_way_out(use_gpu, says):
    with pytest.raises(ConfigError, match=r"^dpo\.bf16: true, but .*" + says + r".*dpo\.bf16=auto"):
        resolve_bf16(True, use_gpu, False, "dpo.bf16")


def test_unknown_setting():
    with pytest.raises(ConfigError, match="sft.bf16: must be auto, true or false"):
        resolve_bf16("yes", False, True, "sft.bf16")


def test_this_machine_reads_its_own_flags():
    """On Linux the flags come from /proc/cpuinfo: the local reading agrees with a direct grep of it."""
    from pathlib import Path

    info = Path("/proc/cpuinfo")
    if not info.exists():
        pytest.skip("no /proc/cpuinfo on this OS")
    text = info.read_text()
    assert cpu_has_bf16(local_cpu_flags()) is (" avx512_bf16" in text or " amx_bf16" in text)


@pytest.mark.parametrize(("cpuinfo", "dtype"), [(ZEN4, "bfloat16"), (SAPPHIRE_RAPIDS, "bfloat16"),
                                                (SKYLAKE, "float32"), (GRAVITON, "float32")])
def test_generation_dtype_auto_is_bf16_exactly_where_the_cpu_has_it(cpuinfo, dtype):
    assert resolve_dtype("auto", "float32", cpu_has_bf16(cpu_flags(cpuinfo))) == dtype


def test_generation_dtype_null_keeps_the_models_and_a_name_is_that_dtype():
    assert resolve_dtype(None, "float16", True) == "float16"
    assert resolve_dtype("float32", "bfloat16", True) == "float32"
    assert resolve_dtype("bfloat16", "float32", False) == "bfloat16"  # asked for by name: emulated, but correct
    with pytest.raises(ConfigError, match="eval.dtype: must be null, auto or one of"):
        resolve_dtype("bf16", "float32", True)


def test_generation_dtype_of_a_config_reads_this_machine():
    cfg = {"eval": {"dtype": "auto"}, "model": {"dtype": "float32"}, "cluster": {"use_gpu": False}}
    assert generation_dtype(cfg) == ("bfloat16" if cpu_has_bf16(local_cpu_flags()) else "float32")
    assert generation_dtype({**cfg, "eval": {"dtype": None}}) == "float32"
