"""Ranking quality: our ranker beside lexical baselines, measured in the same run.

    python bench/quality.py                       # every set under ../shared/bench
    python bench/quality.py --bench DIR [DIR...]  # a set folder, or a folder of sets
    python bench/quality.py --inproc --ablation   # in-process ranker, plus text-only / graph-only

Our ranker is run the way acceptance runs it: ``matchmaker load`` into a fresh database, then
``matchmaker rank --all --top 100 --format trec`` (``--all-firms`` for the SME direction).
Measures come from ir-measures (``calc_aggregate``). A query of the qrels that a system did not
answer counts 0 (it is given one unjudged placeholder document), so no system gains by
skipping hard queries.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ir_measures
from ir_measures import AP, R, nDCG

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matchmaker import baselines as B  # noqa: E402

SHARED_BENCH = ROOT.parent / "shared" / "bench"
MEASURES = [nDCG @ 10, AP @ 100, R @ 50]
MEASURE_NAMES = [str(m) for m in MEASURES]
PLACEHOLDER = "__no_answer__"
OURS = "matchmaker"

# Ablations of our ranker: Matcher parameters (see docs/design.md, ranking contract).
ABLATIONS = {
    "matchmaker text only": {"use_graph": False},
    "matchmaker graph only": {"use_text": False},
}


# ---------------------------------------------------------------------------- sets and runs

def discover(paths) -> list[Path]:
    """Benchmark set folders (firms.csv + demands.csv + qrels.txt) at or under the paths."""
    found = []
    for p in map(Path, paths):
        if (p / "firms.csv").exists() and (p / "qrels.txt").exists():
            found.append(p)
            continue
        found.extend(sorted(q.parent for q in p.rglob("qrels.txt") if (q.parent / "firms.csv").exists()))
    return found


def set_label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(SHARED_BENCH.resolve()))
    except ValueError:
        return path.name


def complete(run: dict, qrels: dict) -> dict:
    """Every judged query in the run; an unanswered one gets a placeholder and scores 0."""
    out = {q: docs for q, docs in run.items() if q in qrels}
    for q in qrels:
        if not out.get(q):
            out[q] = {PLACEHOLDER: 0.0}
    return out


def evaluate(qrels: dict, run: dict, queries=None) -> dict[str, float]:
    if queries is not None:
        qrels = {q: d for q, d in qrels.items() if q in queries}
    if not qrels:
        return {}
    agg = ir_measures.calc_aggregate(MEASURES, qrels, complete(run, qrels))
    return {str(m): float(v) for m, v in agg.items()}


def per_query(qrels: dict, run: dict) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for m in ir_measures.iter_calc(MEASURES, qrels, complete(run, qrels)):
        out.setdefault(m.query_id, {})[str(m.measure)] = float(m.value)
    return out


def matchmaker_command() -> list[str] | None:
    exe = Path(sys.executable).with_name("matchmaker")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("matchmaker")
    if found:
        return [found]
    try:
        import matchmaker.cli  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "matchmaker.cli"]


def set_files(path: Path) -> list[str]:
    return [str(path / f) for f in ("firms.csv", "demands.csv", "relations.csv") if (path / f).exists()]


def run_ours_cli(path: Path, directions=("demands",), top: int = 100, workdir=None) -> dict:
    """Our runs through the contract CLI: {"demands": run, "firms": run}, plus timings."""
    cmd = matchmaker_command()
    if cmd is None:
        raise RuntimeError("matchmaker CLI not available")
    tmp = Path(tempfile.mkdtemp(prefix="mm-quality-", dir=workdir))
    try:
        db = tmp / "bench.db"
        t0 = time.perf_counter()
        subprocess.run(cmd + ["load", "--db", str(db), *set_files(path)], check=True,
                       capture_output=True, text=True)
        out = {"seconds": {"load": time.perf_counter() - t0}}
        for direction in directions:
            flag = "--all" if direction == "demands" else "--all-firms"
            trec = tmp / f"{direction}.trec"
            t0 = time.perf_counter()
            with open(trec, "w", encoding="utf-8") as fh:
                subprocess.run(cmd + ["rank", "--db", str(db), flag, "--top", str(top), "--format", "trec"],
                               check=True, stdout=fh, stderr=subprocess.PIPE, text=True)
            out["seconds"][f"rank {direction}"] = time.perf_counter() - t0
            out[direction] = B.read_trec(trec)
        return out
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"{' '.join(map(str, e.cmd[:3]))} failed: {(e.stderr or '').strip()[-500:]}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_records(path: Path):
    """(firms, demands, relations) as the CLI sees them: through a fresh database."""
    from matchmaker import db as store

    tmp = Path(tempfile.mkdtemp(prefix="mm-quality-"))
    try:
        database = store.open_db(tmp / "bench.db")
        store.load_files(database, set_files(path), progress=False)
        out = store.fetch_firms(database), store.fetch_demands(database), store.fetch_relations(database)
        database.conn.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fit_ours_inproc(path: Path, records=None, **params):
    """A fitted Matcher over a set, built as the CLI builds it (matchmaker.service)."""
    from matchmaker import service

    firms, demands, relations = records or load_records(path)
    return service.build_matcher(firms, demands, relations, **params)


def run_ours_inproc(path: Path, directions=("demands",), top: int = 100, bench=None, records=None,
                    **params) -> dict:
    bench = bench or B.read_set(path)
    t0 = time.perf_counter()
    matcher = fit_ours_inproc(path, records, **params)
    out = {"seconds": {"fit": time.perf_counter() - t0}}
    if "demands" in directions:
        out["demands"] = {d["demand_id"]: {m.credit_code: float(m.score) for m in matcher.rank_smes(d["demand_id"], top=top)}
                          for d in bench.demands if d["demand_id"] in bench.qrels}
    if "firms" in directions:
        wanted = bench.firm_qrels()
        out["firms"] = {f["credit_code"]: {m.demand_id: float(m.score) for m in matcher.rank_demands(f["credit_code"], top=top)}
                        for f in bench.smes if f["credit_code"] in wanted}
    return out


def baseline_runs(bench: B.BenchSet, directions=("demands",), top: int = 100) -> dict[str, dict]:
    runs: dict[str, dict] = {}
    for cls in B.BASELINES:
        entry = {}
        if "demands" in directions:
            entry["demands"] = B.rank_smes(cls(), bench, top, demand_ids=bench.qrels)
        if "firms" in directions:
            entry["firms"] = B.rank_demands(cls(), bench, top, firm_ids=bench.firm_qrels())
        runs[cls.name] = entry
    return runs


# ---------------------------------------------------------------------------- reporting

def shortfall(ours: float, best: float) -> float | None:
    """(1 - ours) / (1 - best baseline): below 1 means ours leaves less on the table."""
    if best >= 1.0:
        return None
    return (1.0 - ours) / (1.0 - best)


def slices(bench: B.BenchSet) -> dict[str, set | None]:
    out: dict[str, set | None] = {"all": None}
    known = ("easy", "medium", "hard")
    levels = [lv for lv in known if lv in bench.difficulty.values()]
    levels += sorted(set(bench.difficulty.values()) - set(known))
    for level in levels:
        ids = {q for q, d in bench.difficulty.items() if d == level}
        if ids & set(bench.qrels):
            out[level] = ids
    return out


def score_set(bench: B.BenchSet, runs: dict[str, dict], direction: str) -> list[dict]:
    """Rows: one per (slice, system) with measures and, for our systems, shortfalls."""
    qrels = bench.qrels if direction == "demands" else bench.firm_qrels()
    rows = []
    for slice_name, ids in (slices(bench) if direction == "demands" else {"all": None}).items():
        n = len(qrels) if ids is None else len(set(qrels) & ids)
        scores = {name: evaluate(qrels, r[direction], ids) for name, r in runs.items() if direction in r}
        base_names = [c.name for c in B.BASELINES if c.name in scores]
        best = {m: max(scores[b][m] for b in base_names) for m in MEASURE_NAMES} if base_names else {}
        for name, vals in scores.items():
            row = {"set": set_label(bench.path), "direction": direction, "slice": slice_name,
                   "queries": n, "system": name, **vals}
            if name not in base_names and best:
                row["shortfall"] = {m: shortfall(vals[m], best[m]) for m in MEASURE_NAMES}
            rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    head = "| set | direction | slice | queries | system | " + " | ".join(MEASURE_NAMES) + " | " + \
           " | ".join(f"shortfall {m}" for m in MEASURE_NAMES) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        sf = r.get("shortfall") or {}
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {r['set']} | {r['direction']} | {r['slice']} | {r['queries']} | {r['system']} | "
                     + " | ".join(f"{r[m]:.3f}" for m in MEASURE_NAMES)
                     + " | " + " | ".join(fmt(sf.get(m)) for m in MEASURE_NAMES) + " |")
    return "\n".join(lines)


def run_quality(paths, inproc=False, ablation=False, ours_run=None, ours_firm_run=None,
                firm_direction="auto", top=100, log=print) -> list[dict]:
    rows = []
    for path in discover(paths):
        bench = B.read_set(path)
        directions = ["demands"]
        if firm_direction == "all" or (firm_direction == "auto" and bench.difficulty):
            directions.append("firms")
        log(f"# {set_label(path)}: {len(bench.smes)} SMEs, {len(bench.demands)} demands, "
            f"{len(bench.qrels)} judged queries")
        t0 = time.perf_counter()
        runs = baseline_runs(bench, directions, top)
        log(f"  baselines: {time.perf_counter() - t0:.1f} s")
        ours: dict | None = None
        if ours_run:
            ours = {"demands": B.read_trec(ours_run)}
            if ours_firm_run:
                ours["firms"] = B.read_trec(ours_firm_run)
        else:
            try:
                ours = (run_ours_inproc(path, directions, top, bench) if inproc
                        else run_ours_cli(path, directions, top))
                log(f"  {OURS}: " + ", ".join(f"{k} {v:.1f} s" for k, v in ours.pop("seconds").items()))
            except Exception as e:  # the harness must still report the baselines
                log(f"  {OURS} not run: {e}")
        if ours is not None:
            runs = {OURS: ours, **runs}
        if ablation:
            records = load_records(path)
            for name, params in ABLATIONS.items():
                try:
                    r = run_ours_inproc(path, directions, top, bench, records, **params)
                    r.pop("seconds")
                    runs = {name: r, **runs}
                except Exception as e:
                    log(f"  {name} not run: {type(e).__name__}: {e}")
        for direction in directions:
            rows.extend(score_set(bench, runs, direction))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", nargs="+", default=[str(SHARED_BENCH)],
                    help="set folders or folders of sets (default: ../shared/bench)")
    ap.add_argument("--inproc", action="store_true", help="rank in-process (matchmaker.service) instead of the CLI")
    ap.add_argument("--ablation", action="store_true", help="also text-only and graph-only rankers (in-process)")
    ap.add_argument("--ours-run", help="evaluate this TREC run as ours instead of running the ranker (one set)")
    ap.add_argument("--ours-firm-run", help="with --ours-run: the SME-direction run")
    ap.add_argument("--firm-direction", choices=["auto", "all", "none"], default="auto",
                    help="SME direction: auto = sets with difficulty.tsv (handwritten)")
    ap.add_argument("--top", type=int, default=100)
    ap.add_argument("--json", help="write the rows as JSON here")
    args = ap.parse_args(argv)
    missing = [p for p in args.bench if not Path(p).exists()]
    if missing:
        print(f"no such benchmark folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = run_quality(args.bench, args.inproc, args.ablation, args.ours_run, args.ours_firm_run,
                       args.firm_direction, args.top,
                       log=lambda s: print(s, file=sys.stderr, flush=True))
    if not rows:
        print("no benchmark sets found", file=sys.stderr)
        return 2
    print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
