"""Where the ranker's time goes: cProfile of the fit and of the first rankings of some demands.

    python bench/profile_rank.py --data /tmp/mm-grown-200000          # a set grown by bench/speed.py
    python bench/profile_rank.py --data ../shared/bench/handwritten-dev --queries 10

Prints the fit time, peak memory, the mean first ranking (profiler overhead included, so slower
than bench/speed.py) and the top of both profiles by cumulative time; then, without the
profiler, the first ranking of as many other demands split into its stages as ``rank_smes``
runs them (demand state, of which PageRank; candidates; features; blend; reasons of the top),
median wall-clock and CPU milliseconds: CPU time is what to compare on a shared machine.
The demand's graph part (PageRank, the leader's neighbourhood) runs on a worker thread beside
its text part, so the state's wall time is below its CPU time (both threads' CPU counted);
PageRank's CPU is that of the thread running it (its row blocks' helper thread left out:
"pagerank alone" reruns each demand's PageRank afterwards and counts every thread). A
leader's neighbourhood is computed at fit for the leaders with demands and kept: ``--cold``
forgets it before each demand (every demand then pays it, as the first demand of a leader
that had none at fit, or the first after update_firm, does). "main waits" is the wall time
the main thread spent blocked on the worker threads' jobs (PageRank, the leader's part, BM25,
the own-field cosines). docs/benchmarks.md quotes its breakdowns.
"""
from __future__ import annotations

import argparse
import cProfile
import os
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
    ap.add_argument("--cold", action="store_true", help="forget the leaders' graph parts before each demand")
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
    stages(matcher, matcher.demand_ids()[args.queries:2 * args.queries], args.top, args.cold)
    return 0


def stages(matcher, ids, top: int, cold: bool = False) -> None:
    """Median wall / CPU ms of each stage of a first ranking (the steps of Matcher.rank_smes)."""
    import numpy as np

    graph = matcher.graph_
    pagerank = graph.pagerank
    spent = {"pagerank": [0.0, 0.0]}

    calls = []

    def timed_pagerank(*a, **k):  # the instance attribute shadows the method for this run only
        w, c = time.perf_counter(), time.thread_time()
        out = pagerank(*a, **k)
        spent["pagerank"][0] += time.perf_counter() - w
        spent["pagerank"][1] += time.thread_time() - c
        calls.append((a, k))
        return out

    graph.pagerank = timed_pagerank
    # the main thread's time blocked on the worker threads' jobs (the part of a stage's wall
    # time when the main thread has nothing left to do)
    import concurrent.futures
    import threading
    result = concurrent.futures.Future.result
    waited = [0.0]

    def timed_result(self, timeout=None):
        if threading.current_thread() is not threading.main_thread():
            return result(self, timeout)
        w = time.perf_counter()
        try:
            return result(self, timeout)
        finally:
            waited[0] += time.perf_counter() - w

    concurrent.futures.Future.result = timed_result
    names = ("state", "pagerank", "candidates", "features", "blend", "reasons", "total", "main waits")
    rows: dict[str, list] = {n: [] for n in names}
    try:
        for did in ids:
            spent["pagerank"] = [0.0, 0.0]
            waited[0] = 0.0
            if cold:
                matcher.__dict__.pop("_leader_cache", None)
            marks = [(time.perf_counter(), time.process_time())]
            d, st = matcher._resolve_demand(did)
            marks.append((time.perf_counter(), time.process_time()))
            cand = matcher._candidates(st)
            marks.append((time.perf_counter(), time.process_time()))
            X = matcher._features(st, cand)
            marks.append((time.perf_counter(), time.process_time()))
            s = matcher._score(X, st)
            order = np.argsort(-s, kind="stable")[:top]
            marks.append((time.perf_counter(), time.process_time()))
            # as rank_smes builds them (the shown rows' term weights read at once)
            matcher._reasons_of(d, st, [int(cand[i]) for i in order], X[order])
            marks.append((time.perf_counter(), time.process_time()))
            steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]
            steps.insert(1, tuple(spent["pagerank"]))
            steps.append((marks[-1][0] - marks[0][0], marks[-1][1] - marks[0][1]))
            steps.append((waited[0], 0.0))
            for n, v in zip(names, steps):
                rows[n].append(v)
    finally:
        del graph.pagerank
        concurrent.futures.Future.result = result
    if not ids:
        return
    # PageRank once more per demand, alone: its CPU on every thread (the row blocks' helper
    # included, which thread_time above leaves out), the process otherwise idle
    alone = []
    for a, k in calls:
        w, c = time.perf_counter(), time.process_time()
        pagerank(*a, **k)
        alone.append((time.perf_counter() - w, time.process_time() - c))
    leaders = len({matcher.demands_[matcher.demand_pos_[i]].get("leader") for i in ids})
    print(f"first ranking by stage, {len(ids)} other demands ({leaders} leaders"
          f"{', each demand as its leader' + chr(39) + 's first' if cold else ''}), median ms wall / CPU "
          f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}):")
    for n in names:
        w, c = np.median(np.array(rows[n]), axis=0) * 1000
        if n == "main waits":
            print(f"  {n:<11}{w:7.1f}          (wall, all stages: the main thread blocked on worker jobs)")
            continue
        print(f"  {n:<11}{w:7.1f} / {c:6.1f}" + ("   (part of state; CPU of its own thread)" if n == "pagerank" else ""))
    if alone:
        w, c = np.median(np.array(alone), axis=0) * 1000
        print(f"  pagerank alone {w:4.1f} / {c:6.1f}   (rerun after the rankings; CPU of all threads)")


if __name__ == "__main__":
    raise SystemExit(main())
