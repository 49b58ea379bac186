"""Pairing at scale: 100 leaders x 2,000 SMEs x 12 slots, K = 3.

Prints, per scenario, the time of `matchmaker.pairing.solve` and its objective
(priority pairs met, SMEs with a meeting, total score) beside the exact optimum of the same
model computed independently: the selection model (a pair meets at most once; a leader has at
most slots x tables meetings in its free slots, an SME at most K in its free slots) as a
min-cost flow solved by networkx's pure-Python network simplex in exact integer arithmetic
(ours solves it with HiGHS's dual simplex, then timetables). Without blocked slots that model
is the whole problem (any selection within the degree bounds can be timetabled, König), so
the two must agree; with blocked slots it is a relaxation, i.e. an upper bound, and
"proven optimal" says whether our schedule reached it.

Scores are synthetic (the ranker is not needed to measure the optimiser): each leader has 3
demands, each ranks its top 50 of the SMEs with a score drawn from Beta(2, 3); 20 % of the
leaders get a second table; 300 accepted requests. Every schedule is checked against the
constraints before its figures are printed.

    python bench/pairing.py [--leaders 100] [--smes 2000] [--slots 12] [--k 3] [--seed 1]
"""
from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matchmaker.pairing import Candidate, Problem, _pairs, _select_flow, objective, solve  # noqa: E402


def make_problem(n_leaders, n_smes, slots, k, seed, blocked=0.0) -> Problem:
    rng = random.Random(seed)
    smes = [f"S{i:05d}" for i in range(n_smes)]
    leaders, t = {}, 1
    for i in range(n_leaders):
        n = 2 if rng.random() < 0.2 else 1
        leaders[f"L{i:03d}"] = list(range(t, t + n))
        t += n
    cands = []
    for L in leaders:
        for d in range(3):
            for s in rng.sample(smes, 50):
                cands.append(Candidate(L, s, f"{L}-D{d}", round(rng.betavariate(2, 3), 4)))
    pool = sorted({(c.leader, c.sme, c.demand_id) for c in cands})
    accepted = rng.sample(pool, 300)
    unavailable = {}
    if blocked:
        for s in smes:
            if rng.random() < blocked:
                unavailable[s] = set(rng.sample(range(1, slots + 1), 3))
        for L in leaders:
            if rng.random() < blocked:
                unavailable[L] = {rng.randint(1, slots)}
    return Problem(slots, leaders, smes, cands, accepted=accepted, unavailable=unavailable,
                   max_per_sme=k, relevance_floor=0.2)


def check(p: Problem, meetings) -> None:
    cells = Counter((m.slot, m.table) for m in meetings)
    assert max(cells.values()) == 1
    assert max(Counter((m.slot, m.sme) for m in meetings).values()) == 1
    assert max(Counter((m.leader, m.sme) for m in meetings).values()) == 1
    assert max(Counter(m.sme for m in meetings).values()) <= p.max_per_sme
    for m in meetings:
        assert m.table in p.leader_tables[m.leader]
        assert m.slot not in p.unavailable.get(m.sme, ()) and m.slot not in p.unavailable.get(m.leader, ())


def reference_optimum(p: Problem) -> tuple[tuple[int, int, float], float]:
    """The optimum of the same flow model by networkx's network simplex (pure Python, exact
    integer arithmetic) — an independent implementation of the selection solve."""
    pairs, _ = _pairs(p)
    t = time.perf_counter()
    chosen, _ = _select_flow(p, pairs, engine="networkx")
    elapsed = time.perf_counter() - t
    locked = {m.sme for m in p.locked}
    value = (sum(1 for c in chosen if c.priority), len({c.sme for c in chosen} | locked),
             round(sum(c.score for c in chosen), 4))
    return value, elapsed


def dev_floor_table(shared: Path) -> None:
    """How the relevance floor trades relevance for coverage on the judged handwritten-dev set,
    with the real ranker: pairs above each floor, and the 6-leader x 60-SME event of
    tests/test_events.py paired at each floor."""
    from collections import defaultdict

    from matchmaker.service import build_matcher, load_dir

    dev = shared / "bench" / "handwritten-dev"
    firms, demands, relations = load_dir(dev)[:3]
    matcher = build_matcher(firms, demands, relations)
    q = defaultdict(dict)
    for line in (dev / "qrels.txt").read_text(encoding="utf-8").splitlines():
        d, _, code, g = line.split()
        q[d][code] = int(g)
    sme_codes = {f["credit_code"] for f in firms if f["role"] in ("sme", "中小企业")}
    ranked = {d["demand_id"]: [m for m in matcher.rank_smes(d["demand_id"], top=500)
                               if m.credit_code in sme_codes] for d in demands}
    by_leader = defaultdict(list)
    for d in demands:
        by_leader[d["leader"]].append(d["demand_id"])
    leaders = sorted(by_leader, key=lambda c: (-len(by_leader[c]), c))[:6]
    grade = defaultdict(dict)
    for L in leaders:
        for d in by_leader[L]:
            for code, g in q[d].items():
                grade[L][code] = max(grade[L].get(code, 0), g)
    best = defaultdict(int)
    for L in leaders:
        for code, g in grade[L].items():
            best[code] = max(best[code], g)
    rel = sorted((c for c, g in best.items() if g >= 1), key=lambda c: (-best[c], c))[:45]
    judged = {c for d in q for c in q[d]}
    smes = rel + sorted(c for c in sme_codes if c not in judged)[:15]
    print("\n| floor | ranked pairs above it: grade ≥ 1 | of all grade ≥ 1 pairs kept | of grade-2 "
          "kept | 6×60 event: meetings | relevant | grade-2 SMEs served |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for floor in (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4):
        above = [(d, m.credit_code) for d, ms in ranked.items() for m in ms if m.score >= floor]
        good = sum(1 for d, c in above if q[d].get(c, 0) >= 1)
        all_good = sum(1 for d in q for c, g in q[d].items() if g >= 1)
        all_two = sum(1 for d in q for c, g in q[d].items() if g == 2)
        kept_two = sum(1 for d, c in above if q[d].get(c, 0) == 2)
        cands = [Candidate(L, m.credit_code, d, m.score) for L in leaders for d in by_leader[L]
                 for m in ranked[d] if m.credit_code in set(smes)]
        p = Problem(8, {L: [i + 1] for i, L in enumerate(leaders)}, smes, cands, max_per_sme=3,
                    relevance_floor=floor)
        sched = solve(p)
        ms = sched.meetings
        relevant = sum(1 for m in ms if grade[m.leader].get(m.sme, 0) >= 1)
        served = len({m.sme for m in ms if grade[m.leader].get(m.sme, 0) == 2})
        two = len({c for L in leaders for c, g in grade[L].items() if g == 2 and c in set(smes)})
        print(f"| {floor:.2f} | {good / max(1, len(above)):.1%} of {len(above)} | "
              f"{good / all_good:.1%} | {kept_two / all_two:.1%} | {len(ms)} | "
              f"{relevant / max(1, len(ms)):.1%} | {served}/{two} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaders", type=int, default=100)
    ap.add_argument("--smes", type=int, default=2000)
    ap.add_argument("--slots", type=int, default=12)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dev", action="store_true",
                    help="also print the relevance-floor table on ../shared handwritten-dev")
    args = ap.parse_args(argv)
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{args.leaders} leaders x {args.smes} SMEs x {args.slots} slots, K = {args.k}")
    print("| scenario | solve (median of runs) | method | ours: priority / SMEs met / score "
          "| reference optimum (networkx) | reference time | proven optimal |")
    print("|---|---:|---|---|---|---:|---|")
    for name, blocked in (("no blocked slots", 0.0), ("10 % of firms block slots", 0.1)):
        p = make_problem(args.leaders, args.smes, args.slots, args.k, args.seed, blocked)
        times, sched = [], None
        for _ in range(args.runs):
            t = time.perf_counter()
            sched = solve(p)
            times.append(time.perf_counter() - t)
        check(p, sched.meetings)
        ours = objective(p, sched.meetings)
        ref, ref_t = reference_optimum(p)
        same = ours[:2] == ref[:2] and abs(ours[2] - ref[2]) < 1e-3
        label = "equal" if same else ("≤ bound" if ours <= ref else "DIFFERENT")
        print(f"| {name} | {sorted(times)[len(times) // 2]:.2f} s ({', '.join(f'{x:.2f}' for x in times)}) "
              f"| {sched.stats['method']} | {ours[0]} / {ours[1]} / {ours[2]:.4f} "
              f"| {ref[0]} / {ref[1]} / {ref[2]:.4f} ({label}) | {ref_t:.1f} s "
              f"| {sched.stats.get('optimal')} |")
        print(f"  meetings {len(sched.meetings)}, open cells {len(sched.open_cells)}, "
              f"waitlist {len(sched.waitlist)}", file=sys.stderr)
    if args.dev:
        shared = Path(__file__).resolve().parents[1].parent / "shared"
        if not shared.exists():
            sys.exit(f"benchmark sets not found at {shared}")
        dev_floor_table(shared)


if __name__ == "__main__":
    main()
