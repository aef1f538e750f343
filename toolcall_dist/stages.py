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


def _log_stage(ctx: Context, stage: str, metrics: dict, tables: dict | None = None) -> None:
    """A W&B run for a driver-side stage (the driver is rank 0)."""
    from toolcall_dist import tracking

    run = tracking.start_run(ctx.cfg["tracking"], stage=stage, name=ctx.cfg["name"], group=ctx.group,
                             config=ctx.cfg, wandb_dir=ctx.wandb_dir())
    if run is None:
        return
    import wandb

    run.log(metrics)
    for key, (columns, rows) in (tables or {}).items():
        run.log({key: wandb.Table(columns=columns, data=rows)})
    tracking.finish_run(run)


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
    m = ctx.cfg["model"]
    if not m["tiny"]:
        from toolcall_dist.models.checkpoint import prepare_base

        return prepare_base(m, st.dir / "model")
    from toolcall_dist.data.mix import build_dataset
    from toolcall_dist.data.prose import prose_only, reading_drills
    from toolcall_dist.models.tiny import build_tiny

    tiny = m["tiny"]
    # Its own seed and no bad calls: the base model must not depend on the experiment's data choices.
    pool = build_dataset(n=tiny["warmup_examples"], ratios={"good": 0.7, "bad": 0.0, "no_tool": 0.3},
                         seed=tiny["seed"] + 7919, reference_date=ctx.cfg["data"]["reference_date"])
    corpus = [{"messages": r["messages"], "tools": r["tools"]} for r in pool["good"] + pool["no_tool"]]
    warmup = prose_only(pool["good"] + pool["no_tool"], seed=tiny["seed"])
    warmup += reading_drills(pool["good"], seed=tiny["seed"] + 1, per_request=tiny["drills_per_request"])
    out = build_tiny(tiny, m["family"], corpus + warmup, warmup, st.dir / "model")
    return {"model_dir": "model", **json.loads((out / "build.json").read_text())}


# --- training (Ray Train + DeepSpeed) -----------------------------------------------------------------------------
def _train_config(ctx: Context, st, stage: str, model_dir: str, dataset_dir: Path, stages) -> dict:
    c = dict(ctx.cfg)
    c.update(
        added_tokens=sorted(stages["base"].info().get("added_tokens", {})),
        resolved=ctx.cfg, group=ctx.group, dtype=ctx.cfg["model"]["dtype"], model_dir=model_dir,
        dataset_dir=str(dataset_dir), trainer_dir=str(st.dir / "trainer"), model_out=str(st.dir / "model"),
        run_name=f"{ctx.cfg['name']}-{stage}-{st.key}", wandb_dir=ctx.wandb_dir(),
        storage_path=ctx.cfg["cluster"]["storage_path"] or str(ctx.output_dir / "ray"),
    )
    return c


def _fit(stage: str, c: dict, ctx: Context) -> dict:
    """Run the stage's Ray Train job; returns its metrics, steps, resume point and worker placement."""
    from toolcall_dist.train import ray_job

    ray_job.init_ray(ctx.cfg["cluster"])
    log.info("[%s] Ray Train: %d workers (%s), DeepSpeed stage %d", stage, ctx.cfg["cluster"]["num_workers"],
             "GPU" if ctx.cfg["cluster"]["use_gpu"] else "CPU/gloo", ctx.cfg["deepspeed"]["stage"])
    return ray_job.fit(stage, c)


def run_sft(ctx: Context, st, stages) -> dict:
    from toolcall_dist.train import sft

    train_dir = Path(stages["data"].info()["train_dir"])
    records = read_jsonl(train_dir / "good.jsonl") + read_jsonl(train_dir / "no_tool.jsonl")
    base_dir = stages["base"].info()["model_dir"]
    s = ctx.cfg["sft"]
    stats = sft.prepare_dataset(records, base_dir, ctx.cfg["model"]["family"], s["max_length"],
                                s["assistant_only_loss"], str(st.dir / "dataset"))
    log.info("[sft] dataset: %s", stats)
    info = _fit("sft", _train_config(ctx, st, "sft", base_dir, st.dir / "dataset", stages), ctx)
    return {"model_dir": "model", "dataset": stats, **info}


def run_dpo(ctx: Context, st, stages) -> dict:
    from toolcall_dist.train import dpo

    train_dir = Path(stages["data"].info()["train_dir"])
    pairs = read_jsonl(train_dir / "bad.jsonl") + read_jsonl(train_dir / "when.jsonl")
    sft_dir = stages["sft"].info()["model_dir"]
    stats = dpo.prepare_dataset(pairs, sft_dir, ctx.cfg["model"]["family"], ctx.cfg["dpo"]["max_length"],
                                str(st.dir / "dataset"))
    log.info("[dpo] dataset: %s", stats)
    info = _fit("dpo", _train_config(ctx, st, "dpo", sft_dir, st.dir / "dataset", stages), ctx)
    return {"model_dir": "model", "dataset": stats, **info}


# --- evaluation ---------------------------------------------------------------------------------------------------
def run_eval(ctx: Context, st, stages, model: str) -> dict:
    """Score one model stage on the configured categories with the BFCL AST checker."""
    from toolcall_dist.eval import runner

    e = ctx.cfg["eval"]
    data_dir = stages["data"].info()["heldout_dir"] if e["source"] == "synthetic" else e["bfcl_data_dir"]
    model_dir = stages[model].info()["model_dir"]
    m = ctx.cfg["model"]
    scores, samples = runner.evaluate(model_dir, m["family"], e, data_dir, m["dtype"], st.dir, label=model,
                                      trust_remote_code=m["trust_remote_code"])
    flat = {f"eval/{k}": v["accuracy"] for k, v in scores["categories"].items()}
    flat.update({f"eval/{k}": v["accuracy"] for k, v in scores["groups"].items()})
    _log_stage(ctx, f"eval_{model}", flat, {"eval/samples": samples})
    return {"model_dir": model_dir, "scores": scores}


def write_report(ctx: Context, scores: dict[str, dict]) -> str:
    """The base/SFT/DPO table, printed and written to ``<output_dir>/results.md`` and ``results.json``."""
    from toolcall_dist.eval.report import markdown_table

    table = markdown_table(scores)
    atomic.write_json(ctx.output_dir / "results.json", scores, indent=1)
    e = ctx.cfg["eval"]
    head = (f"# {ctx.cfg['name']}: BFCL-scored results ({e['source']} set)\n\n"
            f"Model: {ctx.cfg['model']['name']}; accuracy in %, AST checker with BFCL's rules.\n\n")
    atomic.write_text(ctx.output_dir / "results.md", head + table + "\n")
    return table
