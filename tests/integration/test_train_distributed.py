"""SFT and DPO as Ray Train jobs with real DeepSpeed on gloo: ZeRO-2 and ZeRO-3, full fine-tuning and LoRA, and a
worker killed mid-run. Every cell checks that the saved model loads, generates, and moved where it should.

The cells share one data + base stage (built once per module) and one local Ray cluster.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from ray_storage import registered_steps
from reduced import DPO_BATCHES, NO_TRACKING, QUICKSTART, SFT_BATCHES, data, tiny_base

from toolcall_dist.hardware import cpu_has_bf16, local_cpu_flags

pytestmark = pytest.mark.integration

SMALL = [
    *QUICKSTART, *NO_TRACKING, *data(160, 4), *tiny_base(100),
    "sft.epochs=1", *SFT_BATCHES, "sft.logging_steps=1", "dpo.epochs=2", *DPO_BATCHES, "dpo.learning_rate=1e-3",
    "cluster.checkpoint_steps=0", "sft.bf16=false", "dpo.bf16=false",
]
# (name, overrides): together they cover ZeRO-2/3 x full/LoRA, packing, two DPO losses, precomputed reference
# log-probs under both ZeRO stages and gradient checkpointing. The cells train in fp32 on every machine, where
# "reference == policy at step 1" holds exactly; zero3_lora trains in bf16 where the CPU has it (auto), through
# DeepSpeed's bf16 engine, whose copies of the frozen base are bf16 roundings the saved model must not take.
CELLS = {
    "zero2_full": ["deepspeed=zero2", "peft=none", "sft.packing=true"],
    "zero2_lora": ["deepspeed=zero2", "peft=lora", "dpo.precompute_ref_log_probs=true", "dpo.learning_rate=5e-3"],
    "zero3_full": ["deepspeed=zero3", "peft=none", "dpo.loss_type=ipo", "dpo.precompute_ref_log_probs=true",
                   "sft.gradient_checkpointing=true"],
    "zero3_lora": ["deepspeed=zero3", "peft=lora", "dpo.learning_rate=5e-3", "sft.bf16=auto", "dpo.bf16=auto"],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory, compose):
    """A module-wide stages dir with data and base built, and a runner that caches each cell's result."""
    import ray

    from toolcall_dist import pipeline

    root = tmp_path_factory.mktemp("train")
    mp = pytest.MonkeyPatch()
    mp.delenv("WANDB_API_KEY", raising=False)
    prep = compose([*SMALL, f"output_dir={root}/prep", f"stages_dir={root}/stages", "stages=[data,base]"])
    pipeline.run(prep)
    results: dict = {}

    def run(name: str, extra: list[str] = (), stages: str = "[sft,dpo]", stages_dir: Path | None = None):
        key = (name, tuple(extra), stages, str(stages_dir))
        if key not in results:
            cfg = compose([*SMALL, *CELLS.get(name, []), *extra, f"output_dir={root}/{name}",
                           f"stages_dir={stages_dir or root / 'stages'}", f"stages={stages}"])
            results[key] = pipeline.run(cfg)
        return results[key]

    yield run, root
    ray.shutdown()
    mp.undo()


def _weights(model_dir: Path) -> dict:
    """The parameters as transformers loads them (tied embeddings appear under both names, however saved)."""
    from transformers import AutoModelForCausalLM

    return {k: v.detach().clone() for k, v in AutoModelForCausalLM.from_pretrained(model_dir).state_dict().items()}


def _loads_and_generates(model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.chat_template, "the chat template travels with the model"
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    prompt = tok.apply_chat_template([{"role": "user", "content": "weather in Tokyo?"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]


def _changed(before: dict, after: dict) -> set[str]:
    import torch

    assert before.keys() == after.keys()
    return {k for k in before if not torch.equal(before[k], after[k])}


def _history(stage_dir: Path) -> list[dict]:
    return json.loads((stage_dir / "model" / "log_history.json").read_text())


@pytest.mark.parametrize("cell", list(CELLS))
def test_sft_and_dpo_train_save_and_load(env, cell):
    run, _ = env
    result = run(cell)
    lora = "peft=lora" in CELLS[cell]
    for stage, parent in (("sft", "base"), ("dpo", "sft")):
        out = result.stage_dirs[stage] / "model"
        _loads_and_generates(out)
        changed = _changed(_weights(result.stage_dirs[parent] / "model"), _weights(out))
        if lora:  # merged LoRA moves exactly the adapted projections; norms and embeddings stay put
            assert changed and all(k.endswith("proj.weight") for k in changed), sorted(changed)[:5]
            from safetensors.torch import load_file

            adapter = load_file(str(out / "adapter" / "adapter_model.safetensors"))
            lora_b = [v for k, v in adapter.items() if "lora_B" in k]
            assert lora_b and any(v.abs().sum() > 0 for v in lora_b)
        else:
            assert len(changed) >= len(_weights(out)) // 2
        info = json.loads((result.stage_dirs[stage] / "done.json").read_text())
        assert sorted(w["rank"] for w in info["workers"]) == [0, 1]
        trained_bf16 = json.loads((out / "run_info.json").read_text())["bf16"]
        assert trained_bf16 == (cell == "zero3_lora" and cpu_has_bf16(local_cpu_flags()))
        assert info["resumed_from_step"] is None and info["global_step"] > 0
        _assert_engine(info["engine"], cell, stage, trained_bf16)


def _assert_engine(engine: dict, cell: str, stage: str, bf16: bool) -> None:
    """The engine that trained is the one the cell configured: DeepSpeed at its ZeRO stage over both workers, the
    model computing in bf16 exactly when the stage trained in it, AdamW updating fp32 weights (the master copy under
    bf16), and DPO's reference as the cell sets it up."""
    zero = int(cell[len("zero")])
    assert engine["engine"] == "DeepSpeedEngine" and engine["zero_stage"] == zero and engine["world_size"] == 2
    assert engine["backend"] == "gloo"
    assert engine["optimizer"] == {2: "DeepSpeedZeroOptimizer", 3: "DeepSpeedZeroOptimizer_Stage3"}[zero]
    assert engine["torch_optimizer"] == "AdamW" and engine["master_dtype"] == "float32"
    assert engine["compute_dtype"] == ("bfloat16" if bf16 else "float32")
    if stage == "dpo":
        expected = ("precomputed" if "dpo.precompute_ref_log_probs=true" in CELLS[cell] else
                    "adapter_disabled" if "peft=lora" in CELLS[cell] else "DeepSpeedEngine")
        assert engine["reference"] == expected
    else:
        assert "reference" not in engine


@pytest.mark.parametrize("cell", list(CELLS))
def test_dpo_starts_at_the_reference_and_widens_the_margin(env, cell):
    run, _ = env
    result = run(cell)
    logs = [h for h in _history(result.stage_dirs["dpo"]) if "loss" in h]
    first, beta = logs[0], 0.1
    assert first["step"] == 1 and abs(first["rewards/margins"]) < 1e-3  # reference == policy at step 1
    if "dpo.loss_type=ipo" in CELLS[cell]:
        assert first["loss"] == pytest.approx((1 / (2 * beta)) ** 2, rel=1e-3)  # IPO: (0 - 1/(2 beta))^2
    else:
        assert first["loss"] == pytest.approx(math.log(2), abs=2e-3)  # sigmoid: -log sigmoid(0)
    margins = [h["rewards/margins"] for h in logs]
    half = len(margins) // 2
    assert sum(margins[half:]) / len(margins[half:]) > max(0.0, sum(margins[:half]) / half)
    assert {"rewards/chosen", "rewards/rejected", "rewards/accuracies"} <= set(first)


def test_sft_packing_fills_bins(env):
    """The packed cell's step count, against what its own dataset implies with and without packing: fewer steps
    than one conversation per row, and close to the fewest bins of sft.max_length its tokens fit in (best-fit
    decreasing stays within a quarter of that here). Same run, same data: no second configuration to compare."""
    run, _ = env
    result = run("zero2_full")
    info = json.loads((result.stage_dirs["sft"] / "done.json").read_text())
    cfg = json.loads((result.output_dir / "config.json").read_text())["sft"]
    assert cfg["packing"] and cfg["epochs"] == 1
    rows_per_step = cfg["global_batch_size"]
    padded_steps = math.ceil(info["dataset"]["examples"] / rows_per_step)  # one conversation per row
    fewest_bins = math.ceil(info["dataset"]["tokens"] / cfg["max_length"])
    assert info["global_step"] < padded_steps, (info["global_step"], padded_steps)
    assert fewest_bins / rows_per_step - 1 <= info["global_step"] <= 1.25 * fewest_bins / rows_per_step + 1


@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_killed_worker_is_replaced_and_the_run_resumes_from_the_last_checkpoint(env, stage):
    """SIGKILL one training worker after the first checkpoint, mid-SFT and mid-DPO: Ray restarts the group, which
    resumes from the newest checkpoint; the final step count and the losses after the resume match the
    uninterrupted run of the same stage with the same seed (the zero2_full cell)."""
    run, root = env
    reference = run("zero2_full")
    stages_dir = root / f"fault_{stage}"
    stages_dir.mkdir()
    for name in ("data", "base", "sft")[: 2 if stage == "sft" else 3]:  # the same inputs, so the same stage keys
        shutil.copytree(reference.stage_dirs[name], stages_dir / reference.stage_dirs[name].name)
    every = 2
    stage_dir = stages_dir / reference.stage_dirs[stage].name
    seen: dict = {}

    def kill_after_first_checkpoint():
        storage = stages_dir / "ray"
        deadline = time.time() + 600
        while time.time() < deadline:
            steps = registered_steps(storage)
            worker = stage_dir / "trainer" / "workers" / "rank1.json"
            if steps and worker.exists():
                seen["checkpoint_step"] = steps[-1]
                seen["pid"] = json.loads(worker.read_text())["pid"]
                os.kill(seen["pid"], signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_after_first_checkpoint, daemon=True)
    killer.start()
    result = run(f"zero2_full_fault_{stage}", stages=f"[{stage}]", stages_dir=stages_dir,
                 extra=[*CELLS["zero2_full"], f"cluster.checkpoint_steps={every}", "cluster.max_failures=1"])
    killer.join(timeout=5)
    assert "pid" in seen, "no checkpoint appeared to kill a worker after"
    ref_info = json.loads((reference.stage_dirs[stage] / "done.json").read_text())
    info = json.loads((result.stage_dirs[stage] / "done.json").read_text())
    assert info["global_step"] == ref_info["global_step"]
    resumed = info["resumed_from_step"]
    assert resumed is not None and seen["checkpoint_step"] <= resumed < info["global_step"]
    assert resumed % every == 0
    assert seen["pid"] not in {w["pid"] for w in info["workers"]}  # the dead worker was replaced
    # the trainer saves every `every` steps and at the last step, whether or not `every` divides it
    expected = sorted({*range(resumed + every, info["global_step"] + 1, every), info["global_step"]})
    for w in info["workers"]:  # every checkpoint after the resume holds this rank's ZeRO shard of the optimizer
        saved = {int(step): names for step, names in w["checkpoint_files"].items()}
        assert sorted(saved) == expected
        for step, names in saved.items():
            shard = f"global_step{step}/zero_pp_rank_{w['rank']}_mp_rank_00_optim_states.pt"
            assert shard in names, (w["rank"], step, names)
    ref = {h["step"]: h["loss"] for h in _history(reference.stage_dirs[stage]) if "loss" in h}
    got = {h["step"]: h["loss"] for h in _history(result.stage_dirs[stage]) if "loss" in h}
    after = [s for s in got if s > resumed]
    assert after and set(got) == set(ref)
    for s in after:  # tolerance: float reductions in another process order; identical data order and RNG state
        assert got[s] == pytest.approx(ref[s], rel=1e-4, abs=1e-4), (s, got[s], ref[s])
