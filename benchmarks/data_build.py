"""Data-stage throughput: build N training examples (generation, schema validation, dedup, leakage check) and save
them (JSONL, Hugging Face datasets, stats report), with the default data config and the whole tool library.

    python benchmarks/data_build.py --n 100000 [--out /tmp/data_build] [--profile]

Prints the seconds of each phase and the total; the figure and the command are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="training examples (good + bad + no_tool)")
    parser.add_argument("--out", default=None, help="output directory (default: a temporary one, removed after)")
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args()

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
    t0 = time.perf_counter()
    res = build(cfg, categories=SYNTHETIC_CATEGORIES)
    t1 = time.perf_counter()
    stats = save(res, out)
    t2 = time.perf_counter()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    report = {"n_examples": args.n, "records_written": stats["counts"], "quarantined": stats["quarantined"],
              "seconds": {**{k: round(v, 1) for k, v in res.seconds.items()}, "build": round(t1 - t0, 1),
                          "save_and_stats": round(t2 - t1, 1), "total": round(t2 - t0, 1)}}
    print(json.dumps(report, indent=1))
    if args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
