"""What each pipeline stage does, glued from the layers below; ``pipeline.py`` decides order and caching.

Every ``run_*`` takes the plain resolved config (``ctx.cfg``), writes into its stage directory and returns a small
JSON-able info dict (stored as the stage's ``done.json``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from toolcall_dist import atomic

log = logging.getLogger("toolcall_dist")

DATA_CLASSES = ("good", "no_tool", "bad", "when")


@dataclass
class Context:
    cfg: dict
    output_dir: Path
    group: str  # W&B group shared by the stages of one trial

    def wandb_dir(self) -> str:
        return str(self.output_dir / "wandb")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with atomic.atomic_open(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def _log_stage(ctx: Context, stage: str, metrics: dict, tables: dict | None = None, model_dir: str | None = None,
               reused_from: Path | None = None, images: dict[str, Path] | None = None) -> None:
    """A W&B run for a driver-side stage (the driver is rank 0). ``model_dir`` is uploaded as a model artifact when
    ``tracking.log_model`` is set and ``stage`` evaluates the last model of ``eval.models``."""
    from toolcall_dist import tracking

    run = tracking.start_run(ctx.cfg["tracking"], stage=stage, name=ctx.cfg["name"], group=ctx.group,
                             config=ctx.cfg, wandb_dir=ctx.wandb_dir())
    if run is None:
        return
    import wandb

    run.log({"stage/reused": int(reused_from is not None), **metrics})
    if reused_from is not None:
        run.summary["reused_from"] = str(reused_from)
    for key, (columns, rows) in (tables or {}).items():
        run.log({key: wandb.Table(columns=columns, data=rows)})
    for key, path in (images or {}).items():
        run.log({key: wandb.Image(str(path))})
    if model_dir and ctx.cfg["tracking"]["log_model"] and stage == f"eval_{ctx.cfg['eval']['models'][-1]}":
        art = wandb.Artifact(f"model-{ctx.group}", type="model", metadata={"stage": stage[5:], "dir": model_dir})
        art.add_dir(model_dir)
        run.log_artifact(art)
    tracking.finish_run(run)


def log_reused(ctx: Context, label: str, stage_dir: Path, info: dict) -> None:
    """The W&B run of a stage this run took from the cache, so every stage of every sweep trial has a run in the
    trial's group: the metrics the stage recorded when it was built, and ``stage/reused`` = 1."""
    if label == "data":
        stats = json.loads((stage_dir / info["stats"]).read_text())
        _log_stage(ctx, label, _data_metrics(stats), _data_tables(stats), reused_from=stage_dir)
    elif label.startswith("eval_"):
        samples = _samples(stage_dir / "generations.jsonl")
        _log_stage(ctx, label, _eval_metrics(info["scores"]), {"eval/samples": samples}, info["model_dir"],
                   reused_from=stage_dir)
    else:  # base, sft, dpo: their build-time summary numbers
        metrics = info.get("metrics", info)
        _log_stage(ctx, label, {f"{label}/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))},
                   reused_from=stage_dir)


# --- data ---------------------------------------------------------------------------------------------------------
def run_data(ctx: Context, st, stages) -> dict:
    """Training and evaluation records of the three classes (+ "when to call" pairs), synthetic and loaded, gated
    (schema validation, dedup, BFCL leakage), written as JSONL and Hugging Face datasets with a stats report; plus
    the held-out eval set in BFCL's file layout."""
    from toolcall_dist.config import SYNTHETIC_CATEGORIES
    from toolcall_dist.data.builder import build
    from toolcall_dist.data.export import save
    from toolcall_dist.eval.bfcl import write_category

    d = ctx.cfg["data"]
    res = build(d, categories=SYNTHETIC_CATEGORIES)
    stats = save(res, st.dir, tokenizer=d["stats_tokenizer"])
    counts = stats["counts"]["train"]
    log.info("[data] train %s, eval %s, quarantined %d", counts, stats["counts"]["eval"], stats["quarantined"])
    held = {}
    for cat, (questions, answers) in res.heldout.items():
        truth = {a["id"]: a["ground_truth"] for a in answers}
        write_category([{**q, "ground_truth": truth.get(q["id"])} for q in questions], cat, st.dir / "heldout")
        held[f"heldout_{cat}"] = len(questions)
    _log_stage(ctx, "data", _data_metrics(stats), _data_tables(stats))
    return {"counts": counts, "eval_counts": stats["counts"]["eval"], "heldout": held,
            "quarantined": stats["quarantined"], "train_dir": "train", "eval_dir": "eval", "hf_dir": "hf",
            "heldout_dir": "heldout", "stats": "stats.json"}


def _data_metrics(stats: dict) -> dict:
    """Flat W&B metrics of the data report."""
    out = {f"data/{cls}": n for cls, n in stats["counts"]["train"].items()}
    out.update({f"data/eval_{cls}": n for cls, n in stats["counts"]["eval"].items()})
    out.update({f"data/heldout_{cat}": n for cat, n in stats["counts"]["heldout"].items()})
    out["data/quarantined"] = stats["quarantined"]
    for check, by_class in stats["gate"].items():
        out[f"data/rejected_{check}"] = sum(by_class.values())
    for split, pct in stats["token_lengths"].items():
        if isinstance(pct, dict):
            out.update({f"data/{split}_length_{k}": v for k, v in pct.items()})
    return out


def _data_tables(stats: dict) -> dict:
    """W&B tables: counts per (group, key), and per (class, domain)."""
    rows = [[group, key, n] for group in ("shapes", "no_tool_kinds", "corruption_kinds", "pair_kinds", "when_kinds")
            for key, n in stats[group].items()]
    domains = [[cls, dom, n] for cls, by in stats["domains"].items() for dom, n in by.items()]
    return {"data/counts": (["group", "key", "count"], rows), "data/domains": (["class", "domain", "count"], domains)}


# --- base model ---------------------------------------------------------------------------------------------------
def run_base(ctx: Context, st, stages) -> dict:
    """The base model: a hub id / local directory as given, or the tiny model built (once) from config."""
    info = _base(ctx, st)
    _log_stage(ctx, "base", {f"base/{k}": v for k, v in info.items() if isinstance(v, (int, float))})
    return info


def _base(ctx: Context, st) -> dict:
    m = ctx.cfg["model"]
    if not m["tiny"]:
        from toolcall_dist.models.checkpoint import prepare_base

        return prepare_base(m, st.dir / "model")
    from toolcall_dist.data.mix import build_dataset
    from toolcall_dist.data.prose import copy_drills, prose_only, reading_drills
    from toolcall_dist.models.tiny import build_tiny

    tiny = m["tiny"]
    # Its own seed and no bad calls: the base model must not depend on the experiment's data choices.
    pool = build_dataset(n=tiny["warmup_examples"], ratios={"good": 0.7, "bad": 0.0, "no_tool": 0.3},
                         seed=tiny["seed"] + 7919, reference_date=ctx.cfg["data"]["reference_date"])
    corpus = [{"messages": r["messages"], "tools": r["tools"]} for r in pool["good"] + pool["no_tool"]]
    warmup = prose_only(pool["good"] + pool["no_tool"], seed=tiny["seed"], narrate=tiny["narrate"])
    warmup += reading_drills(pool["good"], seed=tiny["seed"] + 1, per_request=tiny["drills_per_request"])
    reading = copy_drills(pool["good"], tiny["copy_drills"], seed=tiny["seed"] + 2) if tiny["reading_steps"] else []
    texts = corpus + warmup  # the tokenizer's corpus: no random copy strings
    warmup += copy_drills(pool["good"], tiny["warmup_copy_drills"], seed=tiny["seed"] + 3)
    out = build_tiny(tiny, m["family"], texts, warmup, st.dir / "model", reading=reading)
    return {"model_dir": "model", **json.loads((out / "build.json").read_text())}


# --- training (Ray Train + DeepSpeed) -----------------------------------------------------------------------------
def _train_config(ctx: Context, st, stage: str, model_dir: str, dataset_dir: Path, stages) -> dict:
    c = dict(ctx.cfg)
    c.update(
        added_tokens=sorted(stages["base"].info().get("added_tokens", {})),
        resolved=ctx.cfg, group=ctx.group, dtype=ctx.cfg["model"]["dtype"], model_dir=model_dir,
        dataset_dir=str(dataset_dir), trainer_dir=str(st.dir / "trainer"), model_out=str(st.dir / "model"),
        # The Ray run is named after the stage key and kept beside the stage cache, so any run or sweep trial that
        # needs this stage (same config, same inputs) finds its checkpoints and resumes from them.
        run_name=f"{stage}-{st.key}", wandb_dir=ctx.wandb_dir(),
        storage_path=ctx.cfg["cluster"]["storage_path"] or str(st.dir.parent / "ray"),
    )
    return c


def _fit(stage: str, c: dict, ctx: Context) -> dict:
    """Run the stage's Ray Train job; returns its metrics, steps, resume point and worker placement."""
    from toolcall_dist.ray_cluster import init_ray
    from toolcall_dist.train import ray_job

    init_ray(ctx.cfg["cluster"])
    log.info("[%s] Ray Train: %d workers (%s), DeepSpeed stage %d", stage, ctx.cfg["cluster"]["num_workers"],
             "GPU" if ctx.cfg["cluster"]["use_gpu"] else "CPU/gloo", ctx.cfg["deepspeed"]["stage"])
    return ray_job.fit(stage, c)


def run_sft(ctx: Context, st, stages) -> dict:
    from toolcall_dist.train import sft

    train_dir = Path(stages["data"].info()["train_dir"])
    records = read_jsonl(train_dir / "good.jsonl") + read_jsonl(train_dir / "no_tool.jsonl")
    base_dir = stages["base"].info()["model_dir"]
    s = ctx.cfg["sft"]
    m = ctx.cfg["model"]
    records, cut = sft.cut_after_calls(records, s["call_turn_only"], ctx.cfg["seed"])
    stats = sft.prepare_dataset(records, base_dir, m["family"], s["max_length"], s["assistant_only_loss"],
                                str(st.dir / "dataset"), m["trust_remote_code"])
    stats["cut_after_calls"] = cut
    log.info("[sft] dataset: %s", stats)
    info = _fit("sft", _train_config(ctx, st, "sft", base_dir, st.dir / "dataset", stages), ctx)
    return {"model_dir": "model", "dataset": stats, **info}


def run_dpo(ctx: Context, st, stages) -> dict:
    from toolcall_dist.data.count_pairs import count_pairs
    from toolcall_dist.data.mix import mix_pairs
    from toolcall_dist.data.sibling_pairs import sibling_pairs
    from toolcall_dist.train import dpo

    train_dir = Path(stages["data"].info()["train_dir"])
    weights, seed = ctx.cfg["dpo"]["pairs"], ctx.cfg["seed"]
    good = read_jsonl(train_dir / "good.jsonl") if weights["count"] or weights["sibling"] else []
    sources = {"synthetic": read_jsonl(train_dir / "bad.jsonl") + read_jsonl(train_dir / "when.jsonl"),
               "mined": read_jsonl(stages["mine"].dir / stages["mine"].info()["pairs"]) if weights["mined"] else [],
               "count": count_pairs(good, seed) if weights["count"] else [],
               "sibling": sibling_pairs(good, seed) if weights["sibling"] else []}
    pairs, mix = mix_pairs(sources, weights, seed, ctx.cfg["dpo"]["max_pairs"])
    sft_dir = stages["sft"].info()["model_dir"]
    stats = dpo.prepare_dataset(pairs, sft_dir, ctx.cfg["model"]["family"], ctx.cfg["dpo"]["max_length"],
                                str(st.dir / "dataset"), ctx.cfg["model"]["trust_remote_code"])
    log.info("[dpo] dataset: %s", stats)
    info = _fit("dpo", _train_config(ctx, st, "dpo", sft_dir, st.dir / "dataset", stages), ctx)
    return {"model_dir": "model", "dataset": stats, "pairs": mix, **info}


# --- evaluation ---------------------------------------------------------------------------------------------------
def eval_sets(cfg: dict, stages) -> list[tuple[str, str | None, list[str]]]:
    """``[(set, data_dir, categories)]``: the held-out synthetic set (from the data stage) and BFCL v4's files."""
    e = cfg["eval"]
    sets = []
    if e["heldout_categories"]:
        sets.append(("heldout", stages["data"].info()["heldout_dir"], e["heldout_categories"]))
    if e["categories"]:
        sets.append(("bfcl", e["bfcl_data_dir"], e["categories"]))
    return sets


def _lora_spec(ctx: Context, stages, model: str) -> dict | None:
    """Base + adapter for vLLM's LoRA serving, where the stage trained one and added no embedding rows (rows live
    outside the adapter, so those stages are served merged)."""
    adapter = Path(stages[model].info()["model_dir"]) / "adapter"
    if model == "base" or not adapter.is_dir() or stages["base"].info().get("added_tokens"):
        return None
    base = stages["base" if model == "sft" else "sft"].info()["model_dir"]
    return {"base_dir": base, "adapter_dir": str(adapter), "rank": ctx.cfg["peft"]["r"]}


def run_eval(ctx: Context, st, stages, model: str) -> dict:
    """Score one model stage on the configured sets with BFCL's AST rules, generating in-process or sharded
    across the Ray cluster (``eval.num_shards``)."""
    from toolcall_dist.eval import runner
    from toolcall_dist.eval.backends import run
    from toolcall_dist.hardware import generation_dtype

    e = ctx.cfg["eval"]
    model_dir = stages[model].info()["model_dir"]
    workers: list[dict] = []
    generate_fn, multi_turn_fn = run, None
    if e["num_shards"] > 1:
        from functools import partial

        from toolcall_dist.ray_eval import generate_sharded, multi_turn_sharded

        generate_fn = partial(generate_sharded, ctx.cfg["cluster"], e["num_shards"], workers=workers)
        multi_turn_fn = partial(multi_turn_sharded, ctx.cfg["cluster"], e["num_shards"], workers=workers)
    lora = _lora_spec(ctx, stages, model) if e["backend"] == "vllm" else None
    m = ctx.cfg["model"]
    dtype = generation_dtype(ctx.cfg)
    scores, samples = runner.evaluate(model_dir, m["family"], e, eval_sets(ctx.cfg, stages), st.dir, model,
                                      generate_fn, dtype, lora, trust_remote_code=m["trust_remote_code"],
                                      multi_turn_fn=multi_turn_fn)
    _log_stage(ctx, f"eval_{model}", _eval_metrics(scores), {"eval/samples": samples}, model_dir)
    return {"model_dir": model_dir, "scores": scores, "generations": "generations.jsonl", "shards": workers,
            "dtype": dtype}


def _eval_metrics(scores: dict) -> dict:
    """Flat W&B metrics: accuracy per set and BFCL category, per group, and overall."""
    flat = {}
    for set_name, s in scores.items():
        flat.update({f"eval/{set_name}/{k}": v["accuracy"] for k, v in s["categories"].items()})
        flat.update({f"eval/{set_name}/{k}": v["accuracy"] for k, v in s["groups"].items()})
        if s["overall"] is not None:
            flat[f"eval/{set_name}/overall"] = s["overall"]
    return flat


def _samples(path: Path) -> tuple[list[str], list[list]]:
    """The samples table of a finished eval stage, rebuilt from its ``generations.jsonl`` (the same rows
    ``runner.evaluate`` logs: the first entries of each set and category)."""
    from toolcall_dist.eval.runner import SAMPLE_ROWS

    rows, per_cat = [], {}
    for g in read_jsonl(path):
        key = (g["set"], g["category"])
        per_cat[key] = per_cat.get(key, 0) + 1
        if per_cat[key] <= SAMPLE_ROWS:
            rows.append([g["set"], g["category"], g["id"], g["correct"], g["error"][:200], g["raw_output"][:500]])
    return ["set", "category", "id", "correct", "error", "output"], rows


def write_report(ctx: Context, scores: dict[str, dict], stage_dirs: dict[str, Path] | None = None) -> str:
    """The base -> SFT -> DPO progression: printed, written to ``<output_dir>/results.md``, ``results.json`` and
    ``progression.png``, logged as a W&B table; each model's per-entry JSONL is copied to ``<output_dir>/eval/``."""
    import shutil

    from toolcall_dist.eval.report import markdown_table, plot_progression, progression_rows

    table = markdown_table(scores)
    atomic.write_json(ctx.output_dir / "results.json", scores, indent=1)
    chart = plot_progression(scores, ctx.output_dir / "progression.png")
    copies = ctx.output_dir / "eval"
    for label, d in (stage_dirs or {}).items():
        if label.startswith("eval_") and (Path(d) / "generations.jsonl").exists():
            copies.mkdir(exist_ok=True)
            shutil.copyfile(Path(d) / "generations.jsonl", copies / f"{label[5:]}.jsonl")
    head = (f"# {ctx.cfg['name']}: BFCL-scored results\n\n"
            f"Model: {ctx.cfg['model']['name']}; accuracy in %, AST checker with BFCL's rules; 'bfcl' = BFCL v4's "
            f"own files, 'heldout' = the project's held-out synthetic set. Chart: {chart.name}.\n\n")
    atomic.write_text(ctx.output_dir / "results.md", head + table + "\n")
    columns, rows = progression_rows(scores)
    _log_stage(ctx, "report", {}, {"eval/progression": (columns, rows)}, images={"eval/progression_chart": chart})
    return table
