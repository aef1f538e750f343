"""Build a dataset by class ratio, split a held-out set, and build the BFCL-format held-out eval set."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from .bfcl_format import bfcl_function, bfcl_ground_truth, to_bfcl
from .corrupt import CORRUPTIONS
from .gates import Gate
from .multistep import KIND as STEP_KIND
from .negatives import ARITHMETIC_DOMAINS
from .synthetic import (
    NO_TOOL_KINDS,
    SHAPES,
    dedup_key,
    make_bad,
    make_good,
    make_no_tool,
    make_when,
    parse_reference_date,
    user_text,
)
from .tools import SPECS, library_subset

RATIO_KEYS = ("good", "bad", "no_tool")
# BFCL category name -> the good shape (or no_tool kind, for irrelevance) that fills it
BFCL_CATEGORIES = {"simple_python": "simple", "multiple": "multiple", "parallel": "parallel",
                   "parallel_multiple": "parallel_multiple", "irrelevance": "irrelevant"}
DEFAULT_SHAPES = {"simple": 0.35, "multiple": 0.3, "parallel": 0.15, "parallel_multiple": 0.2}
NO_TOOL_MIX = {"chitchat": 0.15, "knowledge": 0.15, "arithmetic": 0.15, "irrelevant": 0.4, "followup": 0.15}
BAD_KIND_MIX = {k: 1.0 for k in CORRUPTIONS}  # balanced: the always-applicable kinds would otherwise dominate
WHEN_EVERY = 4  # one "when" pair per this many good / no_tool records
INFEASIBLE_AFTER = 300  # attempts without a single record before a shape / kind is declared infeasible


def _check_weights(weights: dict, known: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = [k for k in weights if k not in known]
    if unknown:
        raise ValueError(f"{what}: unknown key {unknown[0]!r}; known: {list(known)}")
    for k, v in weights.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{what}.{k} must be a non-negative number, got {v!r}")
    full = {k: float(weights.get(k, 0.0)) for k in known}
    if sum(full.values()) <= 0:
        raise ValueError(f"{what} must sum to a positive number, got {dict(weights)}")
    return full


def class_counts(n: int, ratios: dict[str, float]) -> dict[str, int]:
    """Records per class, ``n * r / sum(ratios)`` rounded so the counts sum to exactly ``n`` (largest remainder);
    missing keys count as 0."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    full = _check_weights(ratios, RATIO_KEYS, "data.ratios")
    positive = allocate(n, {k: r for k, r in full.items() if r > 0})
    return {k: positive.get(k, 0) for k in RATIO_KEYS}


def allocate(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``n`` across ``weights`` exactly (largest remainder), so sub-counts always sum to ``n``."""
    total = sum(weights.values())
    if n < 0 or total <= 0:
        raise ValueError(f"allocate needs n >= 0 and positive weights, got n={n}, weights={weights}")
    raw = {k: n * w / total for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: out[k] - raw[k])[: n - sum(out.values())]:
        out[k] += 1
    return out


def _fill(counts: dict[str, int], make: Callable[[str], dict | None], gate: Gate) -> list[dict]:
    """Generate ``counts[label]`` records per label that ``gate`` admits (unique, valid, not leaking).

    A label that yields nothing in ``INFEASIBLE_AFTER`` attempts cannot be built from the selected tools (no enum
    to corrupt, say); its count moves to the labels still to come (or, at the end, to those that worked) and the
    gate counts it as infeasible."""
    out, queue, feasible = [], list(counts.items()), []
    while queue:
        label, count = queue.pop(0)
        made, attempts = 0, 0
        while made < count:
            attempts += 1
            if made == 0 and attempts > INFEASIBLE_AFTER:
                targets = [q for q, _ in queue] or feasible
                if not targets:
                    raise RuntimeError(f"no {label!r} record can be built from the selected tools")
                gate.counts["infeasible", label] += 1
                extra = allocate(count, {t: 1.0 for t in targets})
                queue = [(q, c + extra[q]) for q, c in queue] if queue else [(t, n) for t, n in extra.items() if n]
                break
            if attempts > 50 * count + 200:  # the closed vocabularies ran out of distinct prompts
                raise RuntimeError(f"could only make {made} unique {label!r} records out of {count}")
            rec = make(label)
            if rec is None or not gate.admit(rec):
                continue
            out.append(rec)
            made += 1
        if made:
            feasible.append(label)
    return out


def select_specs(domains: list[str] | None = None, tools: Iterable[str] | None = None, avoid: Iterable[str] = ()
                 ) -> list:
    """Library specs in ``domains`` (all for None), restricted to the names in ``tools`` (all for None), minus
    ``avoid``; a name outside the library is a ValueError."""
    specs = library_subset(domains)
    names, avoid = (None if tools is None else set(tools)), set(avoid)
    unknown = sorted(((names or set()) | avoid) - {s.name for s in SPECS})
    if unknown:
        raise ValueError(f"unknown tool name(s) {unknown}")
    specs = [s for s in specs if (names is None or s.name in names) and s.name not in avoid]
    if not specs:
        raise ValueError(f"no tools left in domains {domains} after restricting to {tools} and avoiding {avoid}")
    return specs


def _feasible_no_tool(kind_w: dict[str, float], specs: list) -> dict[str, float]:
    # arithmetic negatives never offer a tool that could do the sum; with only such tools the kind is left out
    if all(s.domain in ARITHMETIC_DOMAINS for s in specs):
        kind_w = {**kind_w, "arithmetic": 0.0}
    if sum(kind_w.values()) <= 0:
        raise ValueError(f"data.no_tool_kinds: no kind can be built from the selected tools ({kind_w})")
    return kind_w


def _bad_kinds(shape_w: dict[str, float]) -> dict[str, float]:
    # a dropped parallel call needs a multi-call shape to exist in the mix; a step pair needs multi-step conversations
    multi = shape_w["parallel"] + shape_w["parallel_multiple"] > 0
    kinds = {k: w for k, w in BAD_KIND_MIX.items() if multi or k != "missing_parallel_call"}
    return {**kinds, STEP_KIND: 1.0} if shape_w.get("multi_step", 0) > 0 else kinds


def _bad_maker(rng: random.Random, reference_date: str, shape_w: dict[str, float], specs: list | None = None
               ) -> Callable[[str], dict | None]:
    """Maker of one bad pair of a given corruption kind on a good conversation of a weighted-random shape."""
    def make(kind: str) -> dict | None:
        w = {s: v for s, v in shape_w.items() if s != "multi_step"
             and (kind != "missing_parallel_call" or s.startswith("parallel"))}
        if kind == STEP_KIND or not any(w.values()):  # a mix of multi-step conversations only
            return make_bad(rng, reference_date, "multi_step", kinds=[STEP_KIND], specs=specs)
        shape = rng.choices(list(w), weights=list(w.values()))[0]
        return make_bad(rng, reference_date, shape, kinds=[kind], specs=specs)
    return make


def build_dataset(n: int, ratios: dict[str, float], seed: int, reference_date: str,
                  shapes: dict[str, float] | None = None, exclude: Iterable[tuple] = (),
                  no_tool_kinds: dict[str, float] | None = None, domains: list[str] | None = None,
                  tools: Iterable[str] | None = None, avoid: Iterable[str] = (), gate: Gate | None = None
                  ) -> dict[str, list[dict]]:
    """Records by class: ``{"good", "no_tool", "bad", "when"}``, deterministic in ``seed``.

    good/no_tool/bad get exactly ``class_counts(n, ratios)`` records, unique within a class (exact and normalised
    keys) and disjoint from ``exclude`` (``dedup_key``s of another set, e.g. training data when building a held-out
    set). Bad pairs are balanced across corruption kinds, their source shapes drawn by ``shapes`` weights; no_tool
    kinds follow ``no_tool_kinds`` (default ``NO_TOOL_MIX``). "when" pairs are extra, not counted in ``n``: about
    one per ``WHEN_EVERY`` good (format pairs) and no_tool (relevance pairs) records, built from those records.
    ``domains`` and ``tools`` restrict the tools called and offered (default: the whole library); tools in
    ``avoid`` are never offered nor asked for (held-out tools). ``gate`` (default: deduplication only) also
    validates records and checks them for leakage; it keeps what it has admitted, so a shared gate keeps several
    builds apart.
    """
    specs = select_specs(domains, tools, avoid)
    gate = gate if gate is not None else Gate(validate=False)
    gate.ban(exclude)
    out = synthesize(class_counts(n, ratios), seed, reference_date, specs, shapes, no_tool_kinds, gate,
                     avoid=avoid)
    rng = random.Random(f"{seed}:when")
    out["when"] = when_pairs(out["good"], out["no_tool"], rng, reference_date, gate)
    rng.shuffle(out["when"])
    return out


def synthesize(counts: dict[str, int], seed: int, reference_date: str, specs: list,
               shapes: dict[str, float] | None, no_tool_kinds: dict[str, float] | None, gate: Gate,
               avoid: Iterable[str] = ()) -> dict[str, list[dict]]:
    """``counts[cls]`` synthetic good / no_tool / bad records over ``specs``, each admitted by ``gate``."""
    parse_reference_date(reference_date)
    request_pool = [s for s in SPECS if s.name not in set(avoid)]
    shape_w = _check_weights(DEFAULT_SHAPES if shapes is None else shapes, SHAPES, "data.shapes")
    kind_w = _feasible_no_tool(_check_weights(NO_TOOL_MIX if no_tool_kinds is None else no_tool_kinds,
                                              NO_TOOL_KINDS, "data.no_tool_kinds"), specs)
    # one stream per class, so changing one class's count leaves the others' records unchanged
    rngs = {k: random.Random(f"{seed}:{k}") for k in RATIO_KEYS}
    out = {
        "good": _fill(allocate(counts.get("good", 0), shape_w),
                      lambda s: make_good(rngs["good"], reference_date, s, specs), gate),
        "no_tool": _fill(allocate(counts.get("no_tool", 0), kind_w),
                         lambda k: make_no_tool(rngs["no_tool"], reference_date, k, specs, request_pool), gate),
        "bad": _fill(allocate(counts.get("bad", 0), _bad_kinds(shape_w)),
                     _bad_maker(rngs["bad"], reference_date, shape_w, specs), gate),
    }
    for cls, recs in out.items():
        rngs[cls].shuffle(recs)  # interleave shapes / kinds
    return out


def when_pairs(good: list[dict], no_tool: list[dict], rng: random.Random, reference_date: str, gate: Gate,
               every: int = WHEN_EVERY) -> list[dict]:
    """About one format pair per ``every`` good records and one relevance pair per ``every`` no_tool records."""
    sources = rng.sample(good, round(len(good) / every)) + rng.sample(no_tool, round(len(no_tool) / every))
    pairs = (make_when(rec, rng, reference_date) for rec in sources)
    return [p for p in pairs if p is not None and gate.admit(p)]


def mix_pairs(sources: dict[str, list[dict]], weights: dict[str, float], seed: int, limit: int | None = None
              ) -> tuple[list[dict], dict]:
    """DPO pairs drawn from ``sources`` (``{"synthetic": [...], "mined": [...]}``) in the shares ``weights`` gives.

    The mix is the largest set that keeps the shares without repeating a pair, so the scarcer source sets its size,
    and at most ``limit`` pairs where one is given (``dpo.max_pairs``); a single source with a positive weight is used
    in its order, whole up to ``limit`` (synthetic-only DPO is unchanged by the mining stage's existence). Returns
    ``(pairs, {"weights", "available", "used"})``, deterministic in ``seed``.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"dpo.max_pairs: must be null or >= 1, got {limit}")
    positive = {k: float(w) for k, w in weights.items() if w > 0}
    if not positive or any(w < 0 for w in weights.values()):
        raise ValueError(f"dpo.pairs: weights must be >= 0 and not all 0, got {dict(weights)}")
    if missing := [k for k in positive if k not in sources]:
        raise ValueError(f"dpo.pairs.{missing[0]}: no such pair source; known: {sorted(sources)}")
    if empty := [k for k in positive if not sources[k]]:
        raise ValueError(f"dpo.pairs.{empty[0]}: weighted {positive[empty[0]]} but that source has no pairs")
    available = {k: len(v) for k, v in sources.items()}
    if len(positive) == 1:
        (only,) = positive
        used = sources[only][:limit]
        return list(used), {"weights": dict(weights), "available": available,
                            "used": {k: (len(used) if k == only else 0) for k in available}}
    total = sum(positive.values())
    size = min(int(available[k] * total / w) for k, w in positive.items())
    size = size if limit is None else min(size, limit)
    counts = {k: min(n, available[k]) for k, n in allocate(size, positive).items()}
    rng = random.Random(f"{seed}:pairs")
    out = []
    for k in sorted(counts):
        out += [sources[k][i] for i in sorted(rng.sample(range(available[k]), counts[k]))]
    rng.shuffle(out)  # interleave the sources, so every batch of a DPO epoch sees both
    return out, {"weights": dict(weights), "available": available,
                 "used": {k: counts.get(k, 0) for k in available}}


def split_holdout(dataset: dict[str, list[dict]], fraction: float, seed: int
                  ) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Split every class into (train, holdout) by user text, so a prompt never lands on both sides."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    texts = sorted({user_text(r) for recs in dataset.values() for r in recs})
    random.Random(seed).shuffle(texts)
    held = set(texts[: round(fraction * len(texts))])
    train = {k: [r for r in v if user_text(r) not in held] for k, v in dataset.items()}
    hold = {k: [r for r in v if user_text(r) in held] for k, v in dataset.items()}
    return train, hold


def build_bfcl_holdout(per_category: int, seed: int, reference_date: str, exclude: Iterable[tuple] = (),
                       categories: Iterable[str] = tuple(BFCL_CATEGORIES), domains: list[str] | None = None,
                       tools: Iterable[str] | None = None, gate: Gate | None = None) -> dict[str, tuple[list, list]]:
    """Held-out synthetic eval set: ``{category: (questions, answers)}`` in BFCL format, disjoint from ``exclude``
    (e.g. the ``dedup_key`` of every training record) and across categories; ``tools`` restricts the tools called
    and offered (the held-out tools of a split by tool)."""
    excluded, out = set(exclude), {}
    tools = None if tools is None else list(tools)
    for i, cat in enumerate(categories):
        if cat not in BFCL_CATEGORIES:
            raise ValueError(f"unknown synthetic BFCL category {cat!r}; known: {list(BFCL_CATEGORIES)}")
        sub_seed = seed + 7919 * (i + 1)  # distinct streams, so categories do not share opening prompts
        if cat == "irrelevance":
            recs = build_dataset(per_category, {"no_tool": 1}, sub_seed, reference_date, exclude=excluded,
                                 no_tool_kinds={"irrelevant": 1}, domains=domains, tools=tools, gate=gate)["no_tool"]
        else:
            recs = build_dataset(per_category, {"good": 1}, sub_seed, reference_date, exclude=excluded,
                                 shapes={BFCL_CATEGORIES[cat]: 1}, domains=domains, tools=tools, gate=gate)["good"]
        excluded |= {dedup_key(r) for r in recs}
        out[cat] = to_bfcl(recs, cat)
    return out


__all__ = ["BFCL_CATEGORIES", "DEFAULT_SHAPES", "NO_TOOL_KINDS", "NO_TOOL_MIX", "RATIO_KEYS", "allocate",
           "bfcl_function", "bfcl_ground_truth", "build_bfcl_holdout", "build_dataset", "class_counts",
           "mix_pairs", "select_specs", "split_holdout", "to_bfcl", "when_pairs"]
