"""The sweep report: written at the end of a Hydra multirun into ``<sweep dir>/sweep_report.{md,png,json}``.

It reads what each trial's ``pipeline.run`` left in its directory (``run.json``: scores, stage directories, reused
stages; ``config.json``: the resolved config) and shows BFCL non-live, live, irrelevance and relevance against DPO
beta per model family, irrelevance against the no-tool share, the best configuration by ``sweep.metric``, and which
stages the trials shared. Re-render by hand with ``python -m toolcall_dist.sweep_report <sweep dir>``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback

log = logging.getLogger("toolcall_dist")

GROUPS = ("non_live", "live", "irrelevance", "relevance")
SHARED_STAGES = ("data", "base", "sft", "mine", "dpo")


class SweepReport(Callback):
    """Hydra callback (config.yaml ``hydra.callbacks``): writes the report when a multirun ends."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep = config.sweep
        path = write_report(Path(str(config.hydra.sweep.dir)), model=sweep.model, metric=sweep.metric,
                            tracking=config.tracking)
        log.info("sweep report: %s", path)


def metric_value(scores: dict, metric: str) -> float | None:
    """``metric`` of one model's scores: "overall", a group, or a category; None when it was not evaluated."""
    if metric == "overall":
        return scores["overall"]
    for part in ("groups", "categories"):
        if metric in scores[part]:
            return scores[part][metric]["accuracy"]
    return None


def _trial_number(d: Path) -> tuple:
    return (0, int(d.name)) if d.name.isdigit() else (1, d.name)


def collect(sweep_dir: Path) -> tuple[list[dict], list[str]]:
    """One row per finished trial (Hydra job directories holding ``run.json``), and the names of trial directories
    that have none (failed or unfinished trials: reported, not dropped)."""
    from omegaconf import OmegaConf

    trials, unfinished = [], []
    for d in sorted((p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()), key=_trial_number):
        name = f"t{d.name}" if d.name.isdigit() else d.name  # sweep.trial's spelling
        if not (d / "run.json").exists():
            unfinished.append(name)
            continue
        run = json.loads((d / "run.json").read_text())
        cfg = json.loads((d / "config.json").read_text())
        ratios = cfg["data"]["ratios"]
        trials.append({
            "trial": name, "group": run["group"], "sweep_id": cfg.get("sweep", {}).get("id"),
            "family": cfg["model"]["family"], "model": cfg["model"]["name"],
            "beta": cfg["dpo"]["beta"], "no_tool": ratios["no_tool"],
            "no_tool_share": ratios["no_tool"] / sum(ratios.values()),  # ratios are normalised by the data stage
            "overrides": list(OmegaConf.load(d / ".hydra" / "overrides.yaml")),
            "scores": {m: one_set(sc)[1] for m, sc in run["scores"].items()},
            "eval_set": next((one_set(sc)[0] for sc in run["scores"].values()), None),
            "stage_dirs": run["stage_dirs"], "reused": run["reused"],
        })
    return trials, unfinished


def one_set(model_scores: dict) -> tuple[str, dict]:
    """The evaluation set a sweep compares: BFCL's own categories when they were run, else the held-out set."""
    for name in ("bfcl", "heldout"):
        if name in model_scores:
            return name, model_scores[name]
    raise ValueError(f"no evaluation set in scores (sets: {sorted(model_scores)})")


def shared_work(trials: list[dict]) -> list[dict]:
    """Per shared stage: how many trials used it, how many distinct directories (builds) there were, and how many
    trials built it here versus took it from the cache."""
    rows = []
    for stage in SHARED_STAGES:
        users = [t for t in trials if stage in t["stage_dirs"]]
        if users:
            rows.append({"stage": stage, "trials": len(users),
                         "distinct": len({t["stage_dirs"][stage] for t in users}),
                         "built": sorted(t["trial"] for t in users if stage not in t["reused"]),
                         "reused": sorted(t["trial"] for t in users if stage in t["reused"])})
    return rows


def _varying(trials: list[dict]) -> list[str]:
    """Override keys whose values differ between trials (the swept axes)."""
    per_trial = [dict(o.partition("=")[::2] for o in t["overrides"]) for t in trials]
    keys = dict.fromkeys(k for d in per_trial for k in d)
    return [k for k in keys if len({d.get(k) for d in per_trial}) > 1]


def best(trials: list[dict], model: str, metric: str) -> dict | None:
    scored = [(metric_value(t["scores"][model], metric), t) for t in trials if model in t["scores"]]
    scored = [(v, t) for v, t in scored if v is not None]
    return max(scored, key=lambda vt: vt[0])[1] if scored else None


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def markdown(trials: list[dict], unfinished: list[str], model: str, metric: str, title: str, png: str) -> str:
    axes = _varying(trials)
    lines = [f"# Sweep {title}: {len(trials)} trials", ""]
    if unfinished:
        lines += [f"**Unfinished or failed trials (no run.json): {', '.join(unfinished)}.**", ""]
    top = best(trials, model, metric)
    if top is None:
        lines += [f"Best configuration: none (no trial has a `{metric}` score for the `{model}` model).", ""]
    else:
        lines += [f"Best configuration by `{metric}` of the `{model}` model: trial {top['trial']} "
                  f"({', '.join(o for o in top['overrides'] if o.partition('=')[0] in axes) or 'no swept value'}) "
                  f"= {_pct(metric_value(top['scores'][model], metric))} %.", ""]
    sets = sorted({t["eval_set"] for t in trials if t["eval_set"]})
    lines += [f"Scores of the `{model}` model on the {'/'.join(sets) or 'no'} set, accuracy in % (BFCL AST "
              "checker; `-`: group not evaluated).", ""]
    head = ["trial", "model", "beta", "no_tool share", *GROUPS, "overall", "reused stages"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 3) + ["---"]) + "|"]
    for t in trials:
        s = t["scores"].get(model)
        cells = [_pct(s["groups"].get(g, {}).get("accuracy")) if s else "-" for g in GROUPS]
        lines.append("| " + " | ".join([t["trial"], t["model"], f"{t['beta']:g}", f"{t['no_tool_share']:.2f}", *cells,
                                        _pct(s["overall"]) if s else "-", ", ".join(t["reused"]) or "none"]) + " |")
    lines += ["", "## Shared work (content-addressed stage cache)", "",
              "| stage | trials | distinct builds | built by | reused by |", "|---|---:|---:|---|---|"]
    for r in shared_work(trials):
        lines.append(f"| {r['stage']} | {r['trials']} | {r['distinct']} | {', '.join(r['built']) or '-'} | "
                     f"{', '.join(r['reused']) or '-'} |")
    lines += ["", "A stage is built once per distinct config; \"reused by\" lists trials that took it from the cache "
              "(built by an earlier trial, a concurrent one, or an earlier run).", "",
              "Swept: " + (", ".join(axes) or "nothing") + ".", "", f"![sweep plots]({png})", ""]
    return "\n".join(lines)


def _series(trials: list[dict], model: str, x: str, by: tuple[str, ...], value) -> dict[str, list]:
    """Lines of (x, y) points keyed by the trial fields in ``by`` (only those that vary get into the label)."""
    varying = [k for k in by if len({t[k] for t in trials}) > 1] or [by[0]]
    out: dict[str, list] = {}
    for t in sorted(trials, key=lambda t: t[x]):
        y = value(t["scores"][model]) if model in t["scores"] else None
        if y is not None:
            label = ", ".join(f"{k}={t[k]:.2g}" if isinstance(t[k], float) else f"{t[k]}" for k in varying)
            out.setdefault(label, []).append((t[x], 100 * y))
    return out


def plot(trials: list[dict], model: str, path: Path, title: str) -> None:
    """Six panels: BFCL non-live, live, irrelevance and relevance against DPO beta (a line per model family, and per
    no-tool share when it varies too), then irrelevance and non-live against the no-tool share (a line per family,
    and per beta): the over-triggering trade-off the negatives exist to fix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    panels = [(g, "beta", ("model", "no_tool_share")) for g in GROUPS]
    panels += [(g, "no_tool_share", ("model", "beta")) for g in ("irrelevance", "non_live")]
    for ax, (group, x, by) in zip(axes.flat, panels, strict=True):
        lines = _series(trials, model, x, by, lambda s, g=group: s["groups"].get(g, {}).get("accuracy"))
        for label, pts in lines.items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        if not lines:
            ax.text(0.5, 0.5, "not evaluated", ha="center", va="center", transform=ax.transAxes, color="gray")
        xs = sorted({t[x] for t in trials})
        if x == "beta" and len(xs) > 1 and xs[-1] / xs[0] >= 10:
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xlim(xs[0] / 1.4, xs[-1] * 1.4)  # also for a panel with no data
        elif len(xs) > 1:
            pad = 0.08 * (xs[-1] - xs[0])
            ax.set_xlim(xs[0] - pad, xs[-1] + pad)
        ax.set_xticks(xs, [f"{v:.2g}" for v in xs])
        ax.set_xlabel("DPO beta" if x == "beta" else "no-tool share of training records")
        ax.set_ylabel(f"{group} accuracy (%)")
        ax.set_ylim(-5, 105)
        ax.set_title(f"{group} vs {'beta' if x == 'beta' else 'no-tool share'}")
        ax.grid(alpha=0.3)
        if lines:
            ax.legend(fontsize=8)
    fig.suptitle(f"Sweep {title}: {model} model, BFCL AST accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(sweep_dir: Path, model: str = "dpo", metric: str = "overall", tracking=None) -> Path:
    """Write ``sweep_report.md``, ``sweep_report.png`` and ``sweep_report.json`` into ``sweep_dir``; with W&B
    tracking on, log them as a ``sweep_report`` run in the sweep's group. Returns the markdown path."""
    trials, unfinished = collect(sweep_dir)
    title = next((t["sweep_id"] for t in trials if t["sweep_id"]), sweep_dir.name)  # the trials' W&B group prefix
    md, png = sweep_dir / "sweep_report.md", sweep_dir / "sweep_report.png"
    plot(trials, model, png, title)
    md.write_text(markdown(trials, unfinished, model, metric, title, png.name))
    top = best(trials, model, metric)
    (sweep_dir / "sweep_report.json").write_text(json.dumps(
        {"model": model, "metric": metric, "trials": trials, "unfinished": unfinished,
         "shared_work": shared_work(trials), "best": top and top["trial"]}, indent=1))
    if tracking is not None and trials:
        _log_wandb(tracking, title, trials, model, png)
    return md


def _log_wandb(tracking, title: str, trials: list[dict], model: str, png: Path) -> None:
    from omegaconf import OmegaConf

    from toolcall_dist import tracking as tr

    t = OmegaConf.to_container(tracking, resolve=True) if not isinstance(tracking, dict) else tracking
    run = tr.start_run(t, stage="sweep_report", name=title, group=title, config={"trials": len(trials)},
                       wandb_dir=str(png.parent / "wandb"))
    if run is None:
        return
    import wandb

    rows = [[x["trial"], x["model"], x["beta"], x["no_tool_share"],
             *(x["scores"].get(model, {}).get("groups", {}).get(g, {}).get("accuracy") for g in GROUPS),
             x["scores"].get(model, {}).get("overall"), ",".join(x["reused"])] for x in trials]
    run.log({"sweep/trials": wandb.Table(columns=["trial", "model", "beta", "no_tool_share", *GROUPS, "overall",
                                                  "reused"], data=rows),
             "sweep/plots": wandb.Image(str(png))})
    tr.finish_run(run)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="Re-render the report of a finished (or partly finished) sweep.")
    p.add_argument("sweep_dir", type=Path)
    p.add_argument("--model", default="dpo")
    p.add_argument("--metric", default="overall")
    print(write_report(p.parse_args().sweep_dir, p.parse_args().model, p.parse_args().metric))
