"""Where the ranker's time goes: cProfile of the fit and of the first rankings of some demands.

    python bench/profile_rank.py --data /tmp/mm-grown-200000          # a set grown by bench/speed.py
    python bench/profile_rank.py --data ../shared/bench/handwritten-dev --queries 10

Prints the fit time, peak memory, the mean first ranking (profiler overhead included, so slower
than bench/speed.py) and the top of both profiles by cumulative time. docs/benchmarks.md quotes
its breakdowns.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matchmaker import service  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a folder with firms.csv, demands.csv, relations.csv")
    ap.add_argument("--queries", type=int, default=20, help="demands ranked for the first time")
    ap.add_argument("--top", type=int, default=20, help="rank_smes(top=…)")
    ap.add_argument("--lines", type=int, default=30, help="profile lines printed")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    firms, demands, relations = service.load_dir(args.data)
    print(f"read {time.perf_counter() - t:.1f} s: {len(firms)} firms, {len(demands)} demands", flush=True)

    fit = cProfile.Profile()
    t = time.perf_counter()
    fit.enable()
    matcher = service.build_matcher(firms, demands, relations)
    fit.disable()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"fit {time.perf_counter() - t:.1f} s (profiled), peak RSS {peak:.2f} GiB", flush=True)
    pstats.Stats(fit).sort_stats("cumulative").print_stats(args.lines)

    ids = matcher.demand_ids()[:args.queries]
    rank = cProfile.Profile()
    t = time.perf_counter()
    rank.enable()
    for did in ids:
        matcher.rank_smes(did, top=args.top)
    rank.disable()
    print(f"first ranking, mean of {len(ids)}: {(time.perf_counter() - t) / max(len(ids), 1) * 1000:.1f} ms "
          "(profiled)")
    pstats.Stats(rank).sort_stats("cumulative").print_stats(args.lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
