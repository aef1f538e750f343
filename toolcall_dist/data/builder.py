"""The data stage's builder: synthetic and loaded records mixed by class ratio, split by tool, gated.

``build(data_cfg)`` takes the plain ``data`` config dict and returns a ``BuildResult``: training and evaluation
records by class, the BFCL-format held-out set, the tool split, the gate (quarantine and rejection counts) and
what each loaded source contributed. ``export.save`` writes it to disk.
"""

from __future__ import annotations

import contextlib
import gc
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from .bfcl_format import python_typed
from .gates import Gate
from .leakage import BFCLReference
from .loaders import EVAL_ONLY, SourceError, load_source
from .mix import RATIO_KEYS, build_bfcl_holdout, build_dataset, class_counts, select_specs, synthesize, when_pairs
from .source_text import java_js_share
from .synthetic import bad_from_good, dedup_key
from .verbose import verbose_share

CLASSES = ("good", "no_tool", "bad", "when")


@dataclass
class BuildResult:
    """Everything the data stage writes."""

    train: dict[str, list[dict]]
    eval: dict[str, list[dict]]
    heldout: dict[str, tuple[list, list]]
    tools: dict[str, list[str]]  # {"train": names, "eval": names}
    gate: Gate
    sources: list[dict] = field(default_factory=list)
    styles: dict[str, int] = field(default_factory=dict)  # training records per schema style other than JSON Schema
    seconds: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: a build makes millions of small acyclic objects, and the collector's
    full passes over them cost about a third of the build time. Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def split_tools(specs: list, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(training tool names, held-out tool names): ``fraction`` of each domain's tools held out (rounded, at least
    one tool of every domain stays in training), chosen by ``seed``."""
    if not 0 <= fraction < 1:
        raise ValueError(f"data.heldout_tool_fraction must be in [0, 1), got {fraction}")
    rng, held = random.Random(f"{seed}:tools"), []
    for domain in sorted({s.domain for s in specs}):
        names = sorted(s.name for s in specs if s.domain == domain)
        k = min(len(names) - 1, round(fraction * len(names)))
        held += rng.sample(names, k)
    return sorted({s.name for s in specs} - set(held)), sorted(held)


def _take(pool: list[dict], k: int, rng: random.Random) -> list[dict]:
    return rng.sample(pool, min(k, len(pool)))


def _bad_from(pool: list[dict], k: int, rng: random.Random, gate: Gate, allowed: set[str]) -> list[dict]:
    # loaded good records are corrupted into precision pairs exactly as synthetic ones are
    out = []
    for rec in rng.sample(pool, len(pool)):
        if len(out) == k:
            break
        pair = bad_from_good(rec, rng, allowed=allowed)
        if pair is not None and gate.admit(pair):
            out.append(pair)
    return out


def _load(sources: Iterable[dict], counts: dict[str, int], gate: Gate, eval_gate: Gate, seed: int,
          allowed: set[str]) -> tuple[dict[str, list[dict]], list[dict], list[dict]]:
    """Training records taken from loaded sources (``weight`` of each class's count), eval-only records, and what
    each source contributed; parse failures join the gate's quarantine."""
    taken, eval_only, info = {c: [] for c in RATIO_KEYS}, [], []
    for i, src in enumerate(sources):
        try:
            loaded = load_source(src)
        except SourceError as e:  # name the config entry too: several sources may share a file name
            raise SourceError(f"data.sources[{i}].path: {e}") from None
        for q in loaded.quarantine:
            gate.counts["parse", src["format"]] += 1
            gate.quarantine.append(q)
        target = eval_gate if src["format"] in EVAL_ONLY else gate
        admitted = [r for r in loaded.records if target.admit(r)]
        row = {"format": src["format"], "path": src.get("path") or src.get("hub"), "rows": loaded.rows,
               "parsed": len(loaded.records), "admitted": len(admitted), "parse_failures": len(loaded.quarantine)}
        if src["format"] in EVAL_ONLY:
            eval_only += admitted
            info.append({**row, "used": {"eval": len(admitted)}})
            continue
        rng = random.Random(f"{seed}:source{i}")
        pools = {c: [r for r in admitted if r["class"] == c] for c in ("good", "no_tool")}
        want = {c: round(counts[c] * src.get("weight", 0.0)) for c in RATIO_KEYS}
        got = {"good": _take(pools["good"], want["good"], rng),
               "no_tool": _take(pools["no_tool"], want["no_tool"], rng),
               "bad": _bad_from(pools["good"], want["bad"], rng, gate, allowed)}
        for c in RATIO_KEYS:
            taken[c] += got[c]
        info.append({**row, "used": {c: len(v) for c, v in got.items()},
                     "shortfall": {c: want[c] - len(got[c]) for c in RATIO_KEYS if want[c] > len(got[c])}})
    return taken, eval_only, info


def python_typed_share(train: dict[str, list[dict]], share: float, seed: int) -> int:
    """Write the tools of ``share`` of the training records (each class alike, chosen by ``seed``) as BFCL writes its
    Python functions (``bfcl_format.python_typed``), so a model sees both schema styles; returns how many."""
    if not 0 <= share <= 1:
        raise ValueError(f"data.python_types must be in [0, 1], got {share}")
    rng, n = random.Random(f"{seed}:python_types"), 0
    for cls in CLASSES:
        for rec in train.get(cls, []):
            if rng.random() < share:
                rec["tools"] = [python_typed(t) for t in rec["tools"]]
                n += 1
    return n


def build(d: dict, categories: Iterable[str], reference: BFCLReference | None | str = "auto") -> BuildResult:
    """Build the whole data stage from the ``data`` config dict ``d`` (see ``_build``)."""
    with gc_paused():
        return _build(d, list(categories), reference)


def _build(d: dict, categories: list[str], reference: BFCLReference | None | str) -> BuildResult:
    """Loaded sources fill their ``weight`` share of each class first, synthetic records the rest; "when" pairs are
    drawn from the merged good and no_tool records. ``reference`` is the BFCL leakage reference ("auto": loaded
    from ``d["bfcl_data_dir"]`` or the installed package when ``d["leakage_check"]``).
    """
    t0 = time.perf_counter()
    if reference == "auto":
        reference = BFCLReference.load(d["bfcl_data_dir"]) if d["leakage_check"] else None
    train_names, eval_names = split_tools(select_specs(d["domains"]), d["heldout_tool_fraction"], d["holdout_seed"])
    gate, eval_gate = Gate(reference), Gate(None)  # eval-only sources are BFCL itself: no leakage check
    counts = class_counts(d["n_examples"], d["ratios"])
    loaded, eval_loaded, sources = _load(d["sources"], counts, gate, eval_gate, d["seed"], set(train_names))
    gate.merge(eval_gate)
    t1 = time.perf_counter()
    synth = synthesize({c: counts[c] - len(loaded[c]) for c in RATIO_KEYS}, d["seed"], d["reference_date"],
                       select_specs(d["domains"], train_names), d["shapes"], d["no_tool_kinds"], gate,
                       avoid=eval_names)
    rng = random.Random(f"{d['seed']}:mix")
    train = {c: loaded[c] + synth[c] for c in RATIO_KEYS}
    for recs in train.values():
        rng.shuffle(recs)
    train["when"] = when_pairs(train["good"], train["no_tool"], rng, d["reference_date"], gate)
    styles = {}
    if d["verbose_tools"]:  # first: the type rewrites below then apply to the verbose tools as to any other
        styles["verbose_tools"] = verbose_share(train["good"] + train["no_tool"], d["verbose_tools"], d["seed"])
    styles["python_types"] = python_typed_share(train, d["python_types"], d["seed"])
    if d["java_js"]:  # after the Python names: it reads both spellings, and its records' types are its own
        styles.update(java_js_share(train["good"], d["java_js"], d["seed"]))
    t2 = time.perf_counter()
    # Evaluation: held-out tools (all training tools when none are held out), nothing shared with training.
    train_keys = {dedup_key(r) for c in CLASSES for r in train[c]}
    eval_tools = eval_names or train_names
    ev = {c: [] for c in CLASSES}
    if d["eval_examples"] > 0:
        ev = build_dataset(d["eval_examples"], d["ratios"], d["holdout_seed"], d["reference_date"], d["shapes"],
                           exclude=train_keys, no_tool_kinds=d["no_tool_kinds"], domains=d["domains"],
                           tools=eval_tools, gate=gate)
    for rec in eval_loaded:
        ev[rec["class"]].append(rec)
    keys = train_keys | {dedup_key(r) for c in CLASSES for r in ev[c]}
    heldout = build_bfcl_holdout(d["holdout_per_category"], d["holdout_seed"], d["reference_date"], exclude=keys,
                                 categories=categories, domains=d["domains"], tools=eval_tools, gate=gate)
    t3 = time.perf_counter()
    return BuildResult(train=train, eval=ev, heldout=heldout, tools={"train": train_names, "eval": eval_names},
                       gate=gate, sources=sources, styles=styles,
                       seconds={"load": t1 - t0, "synthesize_train": t2 - t1, "eval_and_heldout": t3 - t2})
