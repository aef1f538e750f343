"""Training throughput, each comparison measured in one run so machine noise cancels:

1. SFT overhead: the project's SFT (Ray Train, 2 workers, DeepSpeed ZeRO-2) against a plain single-process TRL
   SFTTrainer on the same model, data, sequence lengths and token budget: steady-state tokens/s and their ratio, and
   the time to the first training step (Ray start, worker start, DeepSpeed initialisation) apart from it.
2. Packing: padding-free packed batches against padded ones (plain TRL, same data): effective (non-pad) tokens/s.
3. DPO: precomputed reference log-probs against a live reference model (plain TRL), with full fine-tuning and with
   LoRA (the reference being the policy with its adapter disabled): seconds per step in the steady state and peak
   memory (each variant in its own process), and the live reference's own forwards timed inside the live run: the
   most that precomputing them can save.

    PYTHONPATH=. .venv/bin/python benchmarks/train_throughput.py [--examples 600] [--hidden 256] [--layers 4]

Model: Qwen2 architecture with random weights (throughput needs no training) and the tiny tokenizer; data: the
project's synthetic SFT conversations and DPO pairs. Prints the tables and rewrites the section in
docs/performance.md.

Run on its own against a prepared ``--work`` directory, ``--part worker-build-profile`` profiles a worker's trainer
build (how much of it is imports).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    answer_part,
    compose,
    compose_config,
    random_model,
    run_part,
    table,
    update_performance_doc,
    worker_config,
)

STEADY_AFTER = 2  # steps left out of the steady state (first-step allocation, thread pools warming)


def _overrides(args) -> list[str]:
    return ["+exp=quickstart", "tracking.backend=none", f"data.n_examples={args.examples}",
            "sft.epochs=1", "sft.micro_batch_size=8", "sft.global_batch_size=16", "sft.logging_steps=1",
            "sft.sampling=random", "sft.max_length=768", "dpo.epochs=1", "dpo.micro_batch_size=4",
            "dpo.global_batch_size=8", "dpo.max_length=768", "cluster.checkpoint_steps=0", "deepspeed=zero2",
            "peft=none", "model.dtype=float32"]


def prepare(args, work: Path) -> None:
    """Data stage, a random model, the SFT and DPO datasets, written once under ``work``."""
    from toolcall_dist import pipeline
    from toolcall_dist.stages import read_jsonl
    from toolcall_dist.train import dpo, sft

    overrides = [*_overrides(args), f"output_dir={work}/run", f"stages_dir={work}/stages", "stages=[data]"]
    cfg = compose(overrides)
    result = pipeline.run(compose_config(overrides))
    train_dir = result.stage_dirs["data"] / "train"
    model_dir = random_model(work / "model_in", args.hidden, args.layers)
    records = read_jsonl(train_dir / "good.jsonl") + read_jsonl(train_dir / "no_tool.jsonl")
    stats = sft.prepare_dataset(records, str(model_dir), "qwen2_5", cfg["sft"]["max_length"], True,
                                str(work / "sft_dataset"))
    pairs = read_jsonl(train_dir / "bad.jsonl") + read_jsonl(train_dir / "when.jsonl")
    dstats = dpo.prepare_dataset(pairs, str(model_dir), "qwen2_5", cfg["dpo"]["max_length"],
                                 str(work / "dpo_dataset"))
    stats["padding_share"] = padding_share(work / "sft_dataset", micro_batch=8)
    (work / "prepared.json").write_text(json.dumps({"sft": stats, "dpo": dstats}))


def padding_share(dataset_dir: Path, micro_batch: int, draws: int = 20) -> float:
    """Share of pad tokens in random micro batches of the dataset (mean over ``draws`` shuffles): what packing
    removes. 1 / (1 - share) is the gain in effective tokens/s that removing it alone gives at equal cost per token;
    shorter attention spans in packed rows can add to it."""
    import random

    from datasets import load_from_disk

    lengths = [len(ids) for ids in load_from_disk(str(dataset_dir))["input_ids"]]
    rng, shares = random.Random(0), []
    for _ in range(draws):
        order = rng.sample(lengths, len(lengths))
        batches = [order[i: i + micro_batch] for i in range(0, len(order), micro_batch)]
        shares.append(1 - sum(lengths) / sum(len(b) * max(b) for b in batches))
    return sum(shares) / draws


def _steady(timing: dict, history: list[dict], key: str | None) -> dict:
    """Steady-state seconds per step and, with ``key``, units of ``key`` (a cumulative log value) per second."""
    s0, s1, secs = timing["steady_from_step"], timing["steady_to_step"], timing["steady_seconds"]
    out = {"steady_steps": s1 - s0, "seconds_per_step": secs / (s1 - s0)}
    if key:
        at = {h["step"]: h[key] for h in history if key in h}
        out["tokens_per_s"] = (at[s1] - at[s0]) / secs
    return out


def _empty_loop(config: dict) -> None:
    import psutil
    import ray.train

    if ray.train.get_context().get_world_rank() == 0:
        Path(config["mark"]).write_text(json.dumps([psutil.Process().create_time(), time.time()]))


def _ray_empty(cfg: dict, work: Path) -> dict:
    """Ray Train's own fixed cost: fit() of a loop that does nothing, same workers and backend as sft-project."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from toolcall_dist.ray_cluster import init_ray

    init_ray(cfg["cluster"])
    mark, out = work / "ray-empty.mark", {}
    for attempt in ("first", "second"):
        t0 = time.time()
        TorchTrainer(_empty_loop, train_loop_config={"mark": str(mark)}, torch_config=TorchConfig(backend="gloo"),
                     scaling_config=ScalingConfig(num_workers=cfg["cluster"]["num_workers"],
                                                  resources_per_worker={"CPU": cfg["cluster"]["cpus_per_worker"]}),
                     run_config=RunConfig(name=f"empty-{attempt}", storage_path=str(work / "ray"))).fit()
        created, looped = json.loads(mark.read_text())
        out[f"{attempt}_fit_to_process_s"], out[f"{attempt}_fit_to_loop_s"] = created - t0, looped - t0
        out[f"{attempt}_fit_s"] = time.time() - t0
    return out


def _build_profile(cfg: dict, work: Path) -> dict:
    """What a worker's trainer build is made of: ``sft.build_trainer`` in a fresh process that has imported what a
    Ray Train worker has by then (torch, Ray Train), under cProfile; the seconds spent importing modules.

    Not part of the main run: ``--work DIR`` (prepared by a main run with the same ``--work``) ``--part
    worker-build-profile``."""
    import cProfile
    import pstats

    import ray.train  # noqa: F401
    import torch

    from toolcall_dist.config import grad_accum_steps

    torch.set_num_threads(1)  # as each of the two workers
    cfg["cluster"]["num_workers"] = 1
    c = worker_config(cfg, "sft", work / "model_in", work / "sft_dataset", work / "build-profile")
    accum = grad_accum_steps(cfg["sft"]["global_batch_size"], cfg["sft"]["micro_batch_size"], 1, "sft")
    profile = cProfile.Profile()
    t0 = time.time()
    profile.enable()
    from toolcall_dist.train import sft

    sft.build_trainer(c, None, accum, [])
    profile.disable()
    build_s = time.time() - t0
    # cProfile counts a recursive function's cumulative time once, at its outermost call: the imports' total.
    stats = pstats.Stats(profile).stats
    import_s = sum(ct for (_, _, fn), (_, _, _, ct, _) in stats.items() if fn == "_find_and_load")
    return {"build_s": build_s, "import_s": import_s}


def part(name: str, args, work: Path) -> dict:
    """One measurement, in this process."""
    from toolcall_dist.train import common

    overrides = _overrides(args)
    if name.endswith("-lora"):
        overrides = [o if o != "peft=none" else "peft=lora" for o in overrides]
    cfg = compose(overrides)
    t_start = time.time()
    if name == "ray-empty":
        return _ray_empty(cfg, work)
    if name == "worker-build-profile":
        return _build_profile(cfg, work)
    if name == "sft-project":
        from toolcall_dist.ray_cluster import init_ray
        from toolcall_dist.train import ray_job

        c = worker_config(cfg, "sft", work / "model_in", work / "sft_dataset", work / "project")
        init_ray(c["cluster"])
        t_ray = time.time()
        info = ray_job.fit("sft", c)
        t_fit_end = time.time()
        history = json.loads((work / "project" / "model" / "log_history.json").read_text())
        timing = info["timing"]
        return {**_steady(timing, history, "num_tokens"), "ray_init_s": t_ray - t_start,
                "to_first_step_s": timing["first_step_at"] - t_start,
                "fit_to_train_begin_s": timing["train_begin_at"] - t_ray,
                # fit() to train begin, in three parts: Ray Train starting the worker group (its controller and
                # helper actors, then the worker processes, then the process group), the worker importing and
                # building the TRL trainer, and train() up to its first step's start (DeepSpeed's engine and
                # optimizer, the dataloader).
                "fit_to_worker_s": timing["worker_start_at"] - t_ray,
                "fit_to_worker_process_s": timing["worker_created_at"] - t_ray,
                "worker_build_s": timing["trainer_built_at"] - timing["worker_start_at"],
                "build_to_train_begin_s": timing["train_begin_at"] - timing["trainer_built_at"],
                "first_step_s": timing["first_step_at"] - timing["train_begin_at"],
                # after the last step: the worker saving the model, then Ray Train noticing the workers are done
                # and returning from fit()
                "fit_return_after_last_step_s": t_fit_end - timing["last_step_at"],
                "save_s": timing["saved_at"] - timing["trained_at"],
                "fit_return_after_save_s": t_fit_end - timing["saved_at"]}
    stage = "sft" if name.startswith("sft") else "dpo"
    cfg["cluster"]["num_workers"] = 1
    if name == "sft-packed":
        cfg["sft"]["packing"] = True
    if name.startswith("dpo-precomputed"):
        cfg["dpo"]["precompute_ref_log_probs"] = True
    c = worker_config(cfg, stage, work / "model_in", work / f"{stage}_dataset", work / name)
    from toolcall_dist.config import grad_accum_steps

    accum = grad_accum_steps(cfg[stage]["global_batch_size"], cfg[stage]["micro_batch_size"], 1, stage)
    import torch

    torch.set_num_threads(2)
    module = __import__(f"toolcall_dist.train.{stage}", fromlist=["build_trainer"])
    t_build = time.time()
    trainer = module.build_trainer(c, None, accum, [])  # DPO: the reference pass runs here when precomputed
    build_s = time.time() - t_build
    timer = type("Timer", (common.StepTimes, __import__("transformers").TrainerCallback), {})()
    trainer.add_callback(timer)
    ref_spans = None
    if name.startswith("dpo-live"):  # with LoRA there is no second model: the reference is the policy without grad
        ref_spans = _time_forwards(trainer.ref_model or trainer.model, no_grad_only=trainer.ref_model is None)
    t0 = time.time()
    trainer.train()
    res = _steady(timer.summary(STEADY_AFTER), trainer.state.log_history, "num_tokens" if stage == "sft" else None)
    if ref_spans is not None:  # the live reference's own share of the steady steps
        (_, begin), (_, end) = timer.ends[STEADY_AFTER], timer.ends[-1]
        ref_s = sum(stop - start for start, stop in ref_spans if begin < start and stop <= end)
        res["ref_forward_s_per_step"] = ref_s / res["steady_steps"]
    res["train_s"] = time.time() - t0
    res["build_s"] = build_s
    res["to_first_step_s"] = timer.ends[0][1] - t0  # from train() to the end of the first optimizer step
    res["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return res


def _time_forwards(module, no_grad_only: bool = False) -> list[list[float]]:
    """[start, end] wall-clock times of every forward of ``module`` (``no_grad_only``: those run without autograd,
    the reference's when it is the policy with its adapter disabled), appended as they happen."""
    import torch

    spans: list[list[float]] = []

    def counted() -> bool:
        return not (no_grad_only and torch.is_grad_enabled())

    module.register_forward_pre_hook(lambda *_: spans.append([time.time(), None]) if counted() else None)
    module.register_forward_hook(lambda *_: spans[-1].__setitem__(1, time.time()) if counted() else None)
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=600, help="data.n_examples (SFT + DPO data)")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--work", default=None)
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="train_bench_"))
    if answer_part(args, work, part):
        return
    prepare(args, work)
    results = {}
    for name in ("sft-plain", "sft-project", "sft-packed", "sft-plain", "dpo-live", "dpo-precomputed",
                 "dpo-live-lora", "dpo-precomputed-lora", "ray-empty"):
        _wait_for_ray_exit()
        key = name if name not in results else name + "-again"
        results[key] = run_part(__file__, name, work, [f"--examples={args.examples}", f"--hidden={args.hidden}",
                                                       f"--layers={args.layers}"])
        print(name, results[key], flush=True)
    print(json.dumps(results, indent=1))
    report(args, work, results)


def _wait_for_ray_exit(timeout: float = 60) -> None:
    """Let the previous part's local Ray cluster finish exiting, so its processes do not share the next part's
    cores."""
    deadline = time.time() + timeout
    while time.time() < deadline and subprocess.run(["pgrep", "-f", "ray/core/src/ray/raylet/raylet|gcs_server"],
                                                    capture_output=True).returncode == 0:
        time.sleep(1)


def report(args, work: Path, r: dict) -> None:
    prepared = json.loads((work / "prepared.json").read_text())
    plain = (r["sft-plain"]["tokens_per_s"] + r["sft-plain-again"]["tokens_per_s"]) / 2
    proj = r["sft-project"]
    rows = [["plain TRL SFTTrainer, 1 process x 2 threads (mean of the runs before and after)", f"{plain:,.0f}",
             "1.00", "-"],
            ["project: Ray Train, 2 workers x 1 thread, DeepSpeed ZeRO-2, gloo", f"{proj['tokens_per_s']:,.0f}",
             f"{proj['tokens_per_s'] / plain:.2f}", f"{proj['to_first_step_s']:.1f} s (Ray start "
             f"{proj['ray_init_s']:.1f}; fit() to the worker's first line {proj['fit_to_worker_s']:.1f}, of which "
             f"{proj['fit_to_worker_process_s']:.1f} before Ray started the worker's process; worker "
             f"imports and builds the trainer {proj['worker_build_s']:.1f}; train() to train begin "
             f"{proj['build_to_train_begin_s']:.1f}; first step {proj['first_step_s']:.1f}. After the last step, "
             f"fit() returns in {proj['fit_return_after_last_step_s']:.1f} s: saving {proj['save_s']:.1f}, Ray Train "
             f"seeing the workers done and returning {proj['fit_return_after_save_s']:.1f})"]]
    empty = r["ray-empty"]
    rows.append(["Ray Train alone: fit() of a loop that does nothing, same workers", "-", "-",
                 f"{empty['first_fit_to_loop_s']:.1f} s to the loop's first line, of which "
                 f"{empty['first_fit_to_process_s']:.1f} before the worker's process started "
                 f"({empty['second_fit_to_loop_s']:.1f} and {empty['second_fit_to_process_s']:.1f} s for a second fit "
                 f"in the same process); fit() returns after {empty['first_fit_s']:.1f} s"])
    sft = table(["SFT", "steady tokens/s", "ratio", "time to first step"], rows)
    packed = r["sft-packed"]["tokens_per_s"]
    share = prepared["sft"]["padding_share"]
    pack = table(["batches", "effective tokens/s", "ratio"],
                 [["padded (random order)", f"{plain:,.0f}", "1.00"],
                  ["packed, padding-free (BFD), one packed row per micro batch", f"{packed:,.0f}",
                   f"{packed / plain:.2f}"],
                  [f"for scale: the padded batches' padding is {100 * share:.0f}% of their tokens, so removing it "
                   "alone, at the same cost per token, would give", "-", f"{1 / (1 - share):.2f}"]])
    dpo_rows = []
    for tuned, suffix in (("full fine-tuning", ""), ("LoRA r=16, reference = adapter disabled", "-lora")):
        live, pre = r["dpo-live" + suffix], r["dpo-precomputed" + suffix]
        dpo_rows += [
            [f"{tuned}: live reference", f"{live['seconds_per_step']:.3f}", "1.00", f"{live['build_s']:.1f} s",
             f"{live['to_first_step_s']:.1f} s", f"{live['peak_rss_gb']:.2f} GB"],
            [f"{tuned}: precomputed log-probs", f"{pre['seconds_per_step']:.3f}",
             f"{pre['seconds_per_step'] / live['seconds_per_step']:.2f}", f"{pre['build_s']:.1f} s",
             f"{pre['to_first_step_s']:.1f} s", f"{pre['peak_rss_gb']:.2f} GB"],
            [f"{tuned}, for scale: the live steps less the time inside their reference forwards (timed in the live "
             f"run, {live['ref_forward_s_per_step']:.3f} s/step)",
             f"{live['seconds_per_step'] - live['ref_forward_s_per_step']:.3f}",
             f"{1 - live['ref_forward_s_per_step'] / live['seconds_per_step']:.2f}", "-", "-", "-"]]
    dpo = table(["DPO reference", "s/step (steady)", "ratio", "trainer built in", "train() to first step",
                 "peak RSS"], dpo_rows)
    body = (f"Model: Qwen2 architecture, hidden {args.hidden}, {args.layers} layers, random weights; data: "
            f"{prepared['sft']['examples']} SFT conversations ({prepared['sft']['tokens']:,} tokens), "
            f"{prepared['dpo']['pairs']} DPO pairs; micro batch 8, global 16 (SFT), 4/8 (DPO); float32.\n\n"
            f"{sft}\n\n{pack}\n\n{dpo}\n")
    print(body)
    update_performance_doc("train_throughput", "Training throughput: project vs plain TRL, packing, DPO reference",
                           f"PYTHONPATH=. .venv/bin/python benchmarks/train_throughput.py --examples {args.examples} "
                           f"--hidden {args.hidden} --layers {args.layers}", body)


if __name__ == "__main__":
    main()
