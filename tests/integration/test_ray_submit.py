"""`python -m launch.ray_submit` against a real running Ray cluster (a head started by launch.ray_node, as the sbatch
script starts it): the job runs the experiment's data stage through Ray's job submission API, an override value full
of shell syntax arrives as one literal argument, and the dashboard/job server listens on the node's address only."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_head():
    from launch.ray_node import free_port, node_ip, wait_for_nodes

    ip, port, dash = node_ip(), free_port(), free_port()
    temp_root = tempfile.mkdtemp(prefix="tcdray.")  # short: Ray's unix socket paths live under it
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(PROJECT_ROOT)}
    head = subprocess.Popen([sys.executable, "-m", "launch.ray_node", "--num-cpus", "1", "--temp-root", temp_root,
                             "head", "--ip", ip, "--port", str(port), "--dashboard-port", str(dash)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_nodes(f"{ip}:{port}", 1, timeout=120, watch=[head.pid])
        yield {"ip": ip, "dashboard": dash, "env": env}
    finally:
        head.terminate()  # `ray start --block` stops its node's processes on SIGTERM
        head.wait(timeout=60)
        shutil.rmtree(temp_root, ignore_errors=True)


def test_dashboard_and_job_server_listen_on_the_node_address_only(ray_head):
    import psutil

    listening = {c.laddr.ip for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == ray_head["dashboard"]}
    assert listening == {ray_head["ip"]}


def test_submitted_experiment_runs_with_its_overrides_verbatim(ray_head, tmp_path):
    pwned = tmp_path / "pwned"
    name = f"x; touch {pwned}"
    proc = subprocess.run(
        [sys.executable, "-m", "launch.ray_submit", "+exp=quickstart", "stages=[data]", "tracking=none",
         f"name='{name}'", f"output_dir={tmp_path}/out", f"stages_dir={tmp_path}/stages", "data.n_examples=60",
         "data.holdout_per_category=2", "data.eval_examples=10",
         f"submit.address=http://{ray_head['ip']}:{ray_head['dashboard']}", "submit.wait=true",
         "submit.timeout_s=600"],
        cwd=PROJECT_ROOT, env=ray_head["env"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SUCCEEDED" in proc.stdout
    assert not pwned.exists()
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["name"] == name and config["cluster"]["address"] == "auto"
    done = json.loads(next((tmp_path / "stages").glob("data-*/done.json")).read_text())
    assert done["counts"]["good"] > 0
