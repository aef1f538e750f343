"""The launchers' pure parts: option checking, sweep expansion, the rendered sbatch script, and that an override value
reaches ``python -m toolcall_dist`` as one literal argument through a real shell."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from launch import ray_submit
from launch import slurm as launcher
from launch.experiment import LaunchError, parse_options, split_args

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
EVIL = "name='x; touch {p}' && touch {p} $(touch {p}) `touch {p}`"


def _opts(**kw) -> launcher.SlurmOptions:
    return parse_options(launcher.SlurmOptions, kw, "slurm")


def test_split_args_separates_launcher_options_from_overrides():
    raw, overrides, multirun = split_args(["+exp=quickstart", "slurm.nodes=4", "-m", "dpo.beta=0.1,0.2",
                                           "slurm.sbatch_args=[--qos=high]"], "slurm")
    assert raw == {"nodes": 4, "sbatch_args": ["--qos=high"]}
    assert overrides == ["+exp=quickstart", "dpo.beta=0.1,0.2"] and multirun


@pytest.mark.parametrize("raw,key", [({"nodes": 0}, "slurm.nodes"), ({"bogus": 1}, "slurm.bogus"),
                                     ({"nodes": "four"}, "slurm.nodes"), ({"partition": "a;b"}, "slurm.partition"),
                                     ({"workers_per_node": 4, "cpus_per_node": 2}, "slurm.workers_per_node"),
                                     ({"gpus_per_node": -1}, "slurm.gpus_per_node")])
def test_bad_options_name_their_key(raw, key):
    with pytest.raises(LaunchError, match=re.escape(key)):
        _opts(**raw)


def test_workers_per_node_follow_the_gpus_and_the_topology_env():
    assert _opts(gpus_per_node=8).workers == 8 and _opts().workers == 1
    assert launcher.topology_env(_opts(nodes=4, gpus_per_node=8, cpus_per_node=64)) == {
        "TOOLCALL_NUM_WORKERS": "32", "TOOLCALL_CPUS_PER_WORKER": "8", "TOOLCALL_USE_GPU": "true"}


def test_expand_sweep_is_the_cartesian_product_of_sweep_overrides():
    trials = launcher.expand_sweep(["+exp=quickstart", "dpo.beta=0.05,0.1", "seed=0,1", "name=s"])
    assert trials == [["+exp=quickstart", "dpo.beta=0.05", "seed=0", "name=s"],
                      ["+exp=quickstart", "dpo.beta=0.05", "seed=1", "name=s"],
                      ["+exp=quickstart", "dpo.beta=0.1", "seed=0", "name=s"],
                      ["+exp=quickstart", "dpo.beta=0.1", "seed=1", "name=s"]]


def test_cluster_slurm_is_added_unless_a_cluster_is_chosen():
    assert launcher.with_cluster(["+exp=q"]) == ["+exp=q", "cluster=slurm"]
    assert launcher.with_cluster(["+exp=q", "cluster=gpu_node"]) == ["+exp=q", "cluster=gpu_node"]


def test_rendered_script_carries_the_allocation_and_no_override(tmp_path):
    opts = _opts(nodes=4, gpus_per_node=8, cpus_per_node=64, time="02:00:00", signal_lead_s=240)
    text = launcher.render(launcher.TEMPLATE.read_text(), opts, "qwen_dpo", tmp_path / "logs", tmp_path)
    assert "#SBATCH --nodes=4\n" in text and "#SBATCH --cpus-per-task=64\n" in text
    assert "#SBATCH --signal=B:USR1@240\n" in text and "#SBATCH --time=02:00:00\n" in text
    assert f"#SBATCH --output={tmp_path}/logs/%x-%j.out\n" in text
    assert "WORKERS_PER_NODE=8\n" in text and "GPUS_PER_NODE=8\n" in text
    assert not re.findall(r"@[A-Z][A-Z_]*@", text)
    assert '-m toolcall_dist "$@" &' in text  # the overrides arrive as the script's arguments only
    cmd = launcher.sbatch_command(opts, tmp_path / "x.sbatch", ["+exp=qwen_dpo", EVIL], after="12")
    assert cmd[:4] == ["sbatch", "--parsable", "--dependency=afterany:12", "--gpus-per-node=8"]
    assert cmd[-3:] == [str(tmp_path / "x.sbatch"), "+exp=qwen_dpo", EVIL]


def test_a_log_dir_slurm_cannot_carry_is_refused(tmp_path):
    with pytest.raises(LaunchError, match="slurm.log_dir"):
        launcher.render(launcher.TEMPLATE.read_text(), _opts(), "q", tmp_path / "my logs", tmp_path)


def test_dry_run_validates_the_experiment_before_anything_is_queued(tmp_path, capsys):
    with pytest.raises(LaunchError, match="sft.bogus"):
        launcher.submit(["+exp=quickstart", "sft.bogus=1", "slurm.dry_run=true", f"output_dir={tmp_path}"])
    # 2 nodes x 8 GPUs = 16 workers: quickstart's global batch 16 / (micro 8 x 16) is not whole
    with pytest.raises(LaunchError, match="global_batch_size"):
        launcher.submit(["+exp=quickstart", "slurm.nodes=2", "slurm.gpus_per_node=8", "slurm.dry_run=true",
                         f"output_dir={tmp_path}"])
    subs = launcher.submit(["-m", "+exp=quickstart", "dpo.beta=0.05,0.1", "slurm.dry_run=true",
                            f"output_dir={tmp_path}/o", "slurm.cpus_per_node=2"])
    assert [s.output_dir for s in subs] == [tmp_path / "o" / "trial0", tmp_path / "o" / "trial1"]
    assert "dpo.beta=0.1" in subs[1].command and subs[1].job_id is None
    assert (tmp_path / "o" / "trial1" / "slurm" / "quickstart.sbatch").exists()


def _argv_dump(tmp_path: Path) -> Path:
    """A stand-in for python that writes its arguments as JSON (what python -m toolcall_dist would receive)."""
    exe = tmp_path / "argv_dump"
    exe.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c "
                   f"'import json, sys; print(json.dumps(sys.argv[1:]))' \"$@\"\n")
    exe.chmod(0o755)
    return exe


def test_ray_entrypoint_passes_an_evil_override_as_one_argument_through_a_shell(tmp_path):
    evil = EVIL.format(p=tmp_path / "pwned")
    cmd = ray_submit.entrypoint(str(_argv_dump(tmp_path)), str(tmp_path), ["+exp=quickstart", evil])
    out = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["-m", "toolcall_dist", "+exp=quickstart", evil, "cluster.address=auto"]
    assert not (tmp_path / "pwned").exists()


def test_sbatch_script_hands_an_evil_override_to_the_driver_unchanged(tmp_path):
    """The template's driver line, run by bash with the overrides as "$@" (as sbatch runs the script): the real
    ``launch.driver`` supervisor starts the driver, a stand-in that prints the arguments it received."""
    evil = EVIL.format(p=tmp_path / "pwned")
    lines = launcher.TEMPLATE.read_text().splitlines()
    line = next(ln for ln in lines if ln.strip().startswith('"$PY" -m launch.driver'))
    # PY runs launch.driver for real and, for the driver itself, the stand-in.
    py = tmp_path / "py"
    py.write_text(f'#!/bin/sh\nif [ "$2" = launch.driver ]; then exec {shlex.quote(sys.executable)} "$@"; fi\n'
                  f'shift 2\nexec {shlex.quote(str(_argv_dump(tmp_path)))} "$@"\n')
    py.chmod(0o755)
    script = (f"cd {shlex.quote(str(PROJECT))}\nPY={shlex.quote(str(py))}\nNOTICE={shlex.quote(str(tmp_path / 'n'))}\n"
              f"{line.strip().removesuffix('&')}\n")
    out = subprocess.run(["bash", "-c", script, "toolcall.sbatch", "+exp=quickstart", evil], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == ["+exp=quickstart", evil]
    assert not (tmp_path / "pwned").exists()


def test_ray_node_binds_the_dashboard_to_the_node_address_and_picks_distinct_ports():
    from launch.ray_node import ray_start_args

    head = ray_start_args("head", "10.1.2.3", 8, 4, "/tmp/r", port=6390, dashboard_port=8300)
    opts = dict(a.split("=", 1) for a in head if a.startswith("--") and "=" in a)
    assert opts["--dashboard-host"] == "10.1.2.3" and opts["--node-ip-address"] == "10.1.2.3"
    assert not any("0.0.0.0" in a for a in head)
    assert opts["--port"] == "6390" and opts["--dashboard-port"] == "8300" and "--head" in head
    assert opts["--num-cpus"] == "8" and opts["--num-gpus"] == "4" and "--block" in head
    ports = [v for k, v in opts.items() if k.endswith("-port")]
    assert len(set(ports)) == len(ports)  # two Ray nodes on one machine must not collide on a default port
    worker = ray_start_args("worker", "10.1.2.4", 8, 4, "/tmp/r", address="10.1.2.3:6390")
    assert "--address=10.1.2.3:6390" in worker and "--head" not in worker
    assert not any(a.startswith(("--dashboard-host", "--port=")) for a in worker)
