"""Data-stage throughput: build N training examples (generation, schema validation, dedup, leakage check) and save
them (JSONL, Hugging Face datasets, stats report), with the default data config and the whole tool library.

    python benchmarks/data_build.py --n 100000 [--runs 3] [--out /tmp/data_build] [--profile] [--no-doc]

Prints the seconds of each phase and the total of each run and writes the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table, update_performance_doc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="training examples (good + bad + no_tool)")
    parser.add_argument("--out", default=None, help="output directory (default: a temporary one, removed after)")
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    parser.add_argument("--runs", type=int, default=1, help="build and save this many times, one after another")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/performance.md")
    args = parser.parse_args()
    reports = [run_once(args) for _ in range(args.runs)]
    rows = [[str(i + 1), f"{r['load_before']:.1f}", f"{r['seconds']['build']:.1f} s",
             f"{r['seconds']['save_and_stats']:.1f} s", f"**{r['seconds']['total']:.1f} s**",
             f"{args.n / r['seconds']['total']:,.0f}"] for i, r in enumerate(reports)]
    first = reports[0]
    body = (f"{args.n:,} training examples with the default data config and the whole tool library, every gate on "
            f"(JSON-Schema validation of every call, exact and normalised dedup, the BFCL leakage check), saved as "
            f"JSONL per class, the SFT/DPO/held-out Hugging Face datasets, quarantine and stats. Records written: "
            f"{first['records_written']}; quarantined: {first['quarantined']}. Peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB.\n\n"
            + table(["run", "load average before", "build", "save + stats", "total", "examples/s"], rows) + "\n")
    print(body)
    if not args.no_doc:
        update_performance_doc("data_build", "Data build", "PYTHONPATH=. .venv/bin/python benchmarks/data_build.py "
                               + " ".join(shlex.quote(a) for a in sys.argv[1:]), body)


def run_once(args) -> dict:
    """One build + save; returns the phase times and counts."""
    from toolcall_dist.config import SYNTHETIC_CATEGORIES, DataConfig
    from toolcall_dist.data.builder import build
    from toolcall_dist.data.export import save

    cfg = dataclasses.asdict(DataConfig(n_examples=args.n))
    out = Path(args.out or tempfile.mkdtemp(prefix="data_build_"))
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = build(cfg, categories=SYNTHETIC_CATEGORIES)
    t1 = time.perf_counter()
    stats = save(res, out)
    t2 = time.perf_counter()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    report = {"n_examples": args.n, "load_before": load_before, "records_written": stats["counts"],
              "quarantined": stats["quarantined"],
              "seconds": {**{k: round(v, 1) for k, v in res.seconds.items()}, "build": round(t1 - t0, 1),
                          "save_and_stats": round(t2 - t1, 1), "total": round(t2 - t0, 1)}}
    print(json.dumps(report, indent=1))
    if args.out is None:
        shutil.rmtree(out)
    return report


if __name__ == "__main__":
    main()
