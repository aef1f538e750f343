"""Preflight: unwritable paths and an unreachable Ray head stop a run with an error naming the config key, within the
configured wait, before any stage runs. (The node-count wait runs against a real Ray cluster in
tests/integration/test_preflight_nodes.py.)"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from toolcall_dist import pipeline
from toolcall_dist.preflight import PreflightError, check_reachable, check_writable, head_endpoint

pytestmark = pytest.mark.unit


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then released: nothing listens there afterwards
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_writable_path_is_created_and_left_clean(tmp_path):
    p = check_writable(tmp_path / "a" / "b", "output_dir")
    assert p.is_dir() and list(p.iterdir()) == []


@pytest.mark.parametrize("key", ["output_dir", "stages_dir", "cluster.storage_path"])
def test_unwritable_path_names_the_key(tmp_path, key):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")  # works as root too, unlike chmod
    with pytest.raises(PreflightError, match=rf"^{key}: '{blocker}/sub' is not writable"):
        check_writable(blocker / "sub", key)


@pytest.mark.parametrize(("address", "endpoint"), [("10.0.0.5:6379", ("10.0.0.5", 6379)),
                                                   ("ray://head.internal:10001", ("head.internal", 10001)),
                                                   ("head.internal", ("head.internal", 6379)),
                                                   ("[::1]:7000", ("::1", 7000))])
def test_head_endpoint(address, endpoint):
    assert head_endpoint(address) == endpoint


@pytest.mark.parametrize("address", ["10.0.0.5:port", "host:70000", "ftp://h:1", ":6379"])
def test_malformed_address_names_the_key(address):
    with pytest.raises(PreflightError, match=r"^cluster\.address: "):
        head_endpoint(address)


def test_auto_without_a_cluster_names_the_key(monkeypatch, tmp_path):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))  # no /tmp/ray/ray_current_cluster there
    with pytest.raises(PreflightError, match=r"^cluster\.address: 'auto' but no Ray cluster"):
        head_endpoint("auto")


def test_unreachable_head_fails_within_the_bounded_wait():
    port = _closed_port()
    t0 = time.monotonic()
    with pytest.raises(PreflightError, match=rf"^cluster\.address: Ray head 127\.0\.0\.1:{port} did not accept"):
        check_reachable(f"127.0.0.1:{port}", timeout_s=1.5)
    elapsed = time.monotonic() - t0
    assert 1.4 <= elapsed < 10  # it retried for the whole wait, and no longer


def test_reachable_head_passes():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert check_reachable(f"127.0.0.1:{port}", timeout_s=5) == ("127.0.0.1", port)


def test_pipeline_stops_in_preflight_when_the_head_is_unreachable(tmp_path, compose):
    """Training stages would join cluster.address: the run stops before even the data stage starts."""
    port = _closed_port()
    cfg = compose(["+exp=quickstart", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages", "tracking=none",
                   f"cluster.address=127.0.0.1:{port}", "cluster.connect_timeout_s=1"])
    with pytest.raises(PreflightError, match=r"^cluster\.address: "):
        pipeline.run(cfg)
    # no stage started (preflight may have created the empty Ray storage dir it checked, <stages_dir>/ray)
    assert not any(p.name != "ray" for p in (tmp_path / "stages").glob("*"))


def test_pipeline_without_training_does_not_contact_the_head(tmp_path, compose):
    port = _closed_port()
    cfg = compose(["+exp=quickstart", "stages=[data]", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages",
                   "tracking=none", f"cluster.address=127.0.0.1:{port}", "cluster.connect_timeout_s=1",
                   "data.n_examples=50", "data.holdout_per_category=2", "data.leakage_check=false"])
    result = pipeline.run(cfg)
    assert (result.stage_dirs["data"] / "done.json").exists()


def test_cli_unwritable_stages_dir_is_one_line(tmp_path):
    # (an unwritable output_dir is met first by Hydra, whose run directory lives there: its own one-line error)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "toolcall_dist", "+exp=quickstart", f"output_dir={tmp_path}/out",
                           f"stages_dir={blocker}/stages"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"config error: stages_dir: '{blocker}/stages' is not writable" in proc.stderr


def test_wait_nodes_cli_reports_an_unreachable_head(tmp_path):
    port = _closed_port()
    proc = subprocess.run([sys.executable, "-m", "toolcall_dist.preflight", "wait-nodes", "--address",
                           f"127.0.0.1:{port}", "--nodes", "2", "--timeout", "1"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert f"--address: Ray head 127.0.0.1:{port} did not accept a connection within 1 s" in proc.stderr


@pytest.mark.parametrize(("override", "key"), [("sft.bf16=true", "sft.bf16"), ("dpo.bf16=true", "dpo.bf16")])
def test_bf16_asked_of_a_cpu_without_it_stops_before_any_stage(tmp_path, compose, monkeypatch, override, key):
    """The driver's machine trains (a local cluster) and its CPU lacks bf16: the run stops in preflight, naming the
    key, instead of failing inside a Ray worker half a minute later. The CPU's flags are replaced by an AVX-512
    machine's without bf16."""
    from toolcall_dist import hardware

    monkeypatch.setattr(hardware, "local_cpu_flags", lambda: {"avx2", "avx512f", "avx512_vnni"})
    cfg = compose(["+exp=quickstart", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages", "tracking=none",
                   override])
    with pytest.raises(PreflightError, match=rf"^{key}: true, but this CPU has no native bf16"):
        pipeline.run(cfg)
    assert not any(p.name != "ray" for p in (tmp_path / "stages").glob("*"))
    # auto on the same machine is fp32, and passes preflight
    assert hardware.resolve_bf16("auto", False, hardware.hardware_has_bf16(False), key) is False
