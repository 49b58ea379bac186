"""Speed and memory at scale: our ranker beside bm25s on the same grown corpus, same run.

    python bench/speed.py --n 200000                 # grow (cached) + measure
    python bench/speed.py --n 1000000 --queries 50 --json out.json
    python bench/speed.py --n 200000 --no-http       # skip the web API measurement

Each system is measured in its own fresh process so that peak memory (ru_maxrss) is its own:
- ``load``: ``matchmaker load --db TMP firms.csv demands.csv relations.csv`` (the CLI);
- ``matchmaker``: records fetched from that database (streamed into compact ``Records`` as
  the web app does), ``service.build_matcher`` (index + graph),
  then ``rank_smes(demand, top=20)`` per demand (first time, then the same demands again) and
  ``rank_demands(sme, top=20)`` per SME;
- ``http``: ``matchmaker serve`` on that database, ``GET /api/demands/{id}/matches?top=20``
  with a bearer token (when ``matchmaker/web`` exists);
- ``bm25s``: the same firms.csv, tokenised with the ranker's tokeniser, indexed, one query per
  demand (k=20).
Latencies are per single query (p50/p95 over the queries after one warm-up query); times are
wall-clock seconds; memory is peak resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import machine_info as machine  # noqa: E402

GIB = 1024 ** 3
GOALS = {  # docs/benchmarks.md; per corpus size
    200_000: {"load+index s": 120, "p50 ms": 30, "p95 ms": 100, "peak GiB": 2},
    1_000_000: {"load+index s": 600, "p50 ms": 100, "peak GiB": 6},
}


def peak_rss_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KiB on Linux


def latency_stats(seconds: list[float]) -> dict:
    ms = np.array(seconds[1:] or seconds) * 1000   # the first query warms caches
    return {"queries": int(ms.size), "p50 ms": float(np.percentile(ms, 50)),
            "p95 ms": float(np.percentile(ms, 95)), "max ms": float(ms.max())}


def timed(rank, ids: list[str]) -> list[float]:
    """Seconds of ``rank(id, top=20)`` for each id, in turn."""
    out = []
    for i in ids:
        t = time.perf_counter()
        rank(i, top=20)
        out.append(time.perf_counter() - t)
    return out


def pick(ids: list[str], k: int, seed: int = 0) -> list[str]:
    ids = sorted(ids)
    random.Random(seed).shuffle(ids)
    return ids[:k]


def matchmaker_cmd() -> list[str]:
    from quality import matchmaker_command
    cmd = matchmaker_command()
    if cmd is None:
        raise RuntimeError("matchmaker CLI not available")
    return cmd


# ---------------------------------------------------------------------------- workers
# Each runs in its own process and prints one JSON object on its last line.

def worker_load(data: Path, db: Path, _queries: int) -> dict:
    files = [str(data / f) for f in ("firms.csv", "demands.csv", "relations.csv") if (data / f).exists()]
    t0 = time.perf_counter()
    # output to a file, not a pipe: nobody reads a pipe while we wait4
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(matchmaker_cmd() + ["load", "--db", str(db), *files],
                                stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        log.seek(0)
        err = log.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"matchmaker load failed: {err.strip()[-300:]}")
    return {"load s": seconds, "peak GiB": usage.ru_maxrss * 1024 / GIB}


def progress(msg: str) -> None:
    print(f"    [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def worker_ours(data: Path, db: Path, queries: int) -> dict:
    from matchmaker import db as store
    from matchmaker import service

    from matchmaker.records import Records

    t0 = time.perf_counter()
    database = store.open_db(db)
    # as the web app fits (web/matching.py): firms streamed from the cursor into compact records
    rows = database.execute("SELECT * FROM firms ORDER BY rowid")
    cols = [c[0] for c in rows.description]
    smes = array("i")  # positions of the SMEs (their codes are read after the fit)

    def stream():
        for i, r in enumerate(rows):
            f = store.firm_record(dict(zip(cols, r)))
            if f.get("role") != "leader":
                smes.append(i)
            yield f
    firms = Records(stream())
    # relations compact, as web/matching.py passes them
    demands, relations = store.fetch_demands(database), Records(store.fetch_relations(database))
    fetch_s = time.perf_counter() - t0
    fetch_peak = peak_rss_self() / GIB
    progress(f"fetched {len(firms)} firms in {fetch_s:.1f} s (peak {fetch_peak:.2f} GiB); fitting")
    t0 = time.perf_counter()
    matcher = service.build_matcher(firms, demands, relations)
    fit_s = time.perf_counter() - t0
    n_firms = len(firms)
    del firms
    fit_peak = peak_rss_self() / GIB
    progress(f"fitted in {fit_s:.1f} s (peak {fit_peak:.2f} GiB); ranking")
    sample = pick([d["demand_id"] for d in demands], queries)
    lat = timed(matcher.rank_smes, sample)
    progress(f"rank_smes done (p50 {latency_stats(lat)['p50 ms']:.0f} ms); again, warm")
    # the same demands once more: what a second view of a demand's page costs
    lat_w = timed(matcher.rank_smes, sample)
    progress("rank_demands")
    lat_f = timed(matcher.rank_demands, pick([matcher.codes_[i] for i in smes], queries))
    return {"fetch s": fetch_s, "fit s": fit_s, "fetch peak GiB": fetch_peak, "fit peak GiB": fit_peak,
            "rank_smes": latency_stats(lat),
            "rank_smes warm": latency_stats([0.0] + lat_w),
            "rank_demands": latency_stats(lat_f), "firms": n_firms, "demands": len(demands),
            "peak GiB": peak_rss_self() / GIB}


def worker_bm25(data: Path, _db: Path, queries: int) -> dict:
    import bm25s

    from matchmaker import baselines as B

    t0 = time.perf_counter()
    firms = [f for f in B.read_table(data / "firms.csv", B.FIRM_HEADERS) if f.get("role") != B.LEADER]
    demands = B.read_table(data / "demands.csv", B.DEMAND_HEADERS)
    read_s = time.perf_counter() - t0
    tok = B.tokenizer()
    t0 = time.perf_counter()
    corpus = [tok(B.record_text(f, B.FIRM_TEXT_FIELDS)) or [""] for f in firms]
    tok_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = bm25s.BM25()
    model.index(corpus, show_progress=False)
    del corpus
    index_s = time.perf_counter() - t0
    progress(f"bm25s: tokenised in {tok_s:.1f} s, indexed in {index_s:.1f} s")
    texts = {d["demand_id"]: B.record_text(d, B.DEMAND_TEXT_FIELDS) for d in demands}
    lat = []
    for did in pick(list(texts), queries):
        t = time.perf_counter()
        model.retrieve([tok(texts[did]) or [""]], k=20, show_progress=False)
        lat.append(time.perf_counter() - t)
    return {"read s": read_s, "tokenise s": tok_s, "index s": index_s, "rank_smes": latency_stats(lat),
            "peak GiB": peak_rss_self() / GIB}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_http(data: Path, db: Path, queries: int) -> dict:
    import httpx

    from matchmaker import db as store

    cmd = matchmaker_cmd()
    user = f"bench{os.getpid()}"
    subprocess.run(cmd + ["user", "add", "--db", str(db), "--username", user, "--role", "organizer"],
                   input="bench-password-123\n", text=True, check=True, capture_output=True)
    token = subprocess.run(cmd + ["token", "create", "--db", str(db), "--username", user],
                           text=True, check=True, capture_output=True).stdout.strip().splitlines()[-1]
    database = store.open_db(db)
    ids = pick([d["demand_id"] for d in store.fetch_demands(database)], queries)
    database.conn.close()
    port = _free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen(cmd + ["serve", "--db", str(db), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            while True:
                if server.poll() is not None:
                    raise RuntimeError("matchmaker serve exited: " + server.stderr.read().decode(errors="replace")[-300:])
                try:
                    client.get("/api/openapi.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            ready_s = time.perf_counter() - t0
            progress(f"server ready in {ready_s:.1f} s")
            t = time.perf_counter()
            first = client.get(f"/api/demands/{ids[0]}/matches", params={"top": 20})
            first_s = time.perf_counter() - t
            if first.status_code != 200:
                raise RuntimeError(f"GET matches: HTTP {first.status_code} {first.text[:200]}")
            lat = []
            for did in ids:
                t = time.perf_counter()
                r = client.get(f"/api/demands/{did}/matches", params={"top": 20})
                lat.append(time.perf_counter() - t)
                r.raise_for_status()
            # the same demands once the server's start-up warm-up (every demand ranked once,
            # GET /api/health says when) is over: what a leader meets on an ordinary day
            warmed_s, lat_warm = None, []
            deadline = time.perf_counter() + 1800
            while time.perf_counter() < deadline:
                health = client.get("/api/health")
                if health.status_code == 200 and health.json().get("warmed"):
                    warmed_s = time.perf_counter() - t0
                    break
                time.sleep(1.0)
            if warmed_s is not None:
                progress(f"server warm-up over {warmed_s:.1f} s after start")
                for did in ids:
                    t = time.perf_counter()
                    client.get(f"/api/demands/{did}/matches", params={"top": 20}).raise_for_status()
                    lat_warm.append(time.perf_counter() - t)
    finally:
        # the server's own peak RSS comes with its exit status (uvicorn serves in-process)
        server.terminate()
        deadline = time.time() + 15
        while True:
            pid, status, usage = os.wait4(server.pid, os.WNOHANG)
            if pid:
                peak = usage.ru_maxrss * 1024
                break
            if time.time() > deadline:
                server.kill()
                _, _, usage = os.wait4(server.pid, 0)
                peak = usage.ru_maxrss * 1024
                break
            time.sleep(0.1)
    return {"server ready s": ready_s, "first request s": first_s, "matches": latency_stats([0.0] + lat),
            "warm-up over s": warmed_s,
            "matches after warm-up": latency_stats([0.0] + lat_warm) if lat_warm else None,
            "peak GiB": peak / GIB}


WORKERS = {"load": worker_load, "ours": worker_ours, "bm25": worker_bm25, "http": worker_http}


def run_worker(name: str, data: Path, db: Path, queries: int, log) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--data", str(data), "--db", str(db),
           "--queries", str(queries)]
    t0 = time.perf_counter()
    # the worker's stderr (progress, tracebacks) goes straight to ours
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        log(f"  {name}: failed (exit {proc.returncode}), see above")
        return {"error": f"exit {proc.returncode}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"  {name}: {json.dumps(out, ensure_ascii=False)} ({time.perf_counter() - t0:.0f} s)")
    return out


# ---------------------------------------------------------------------------- driver

def ensure_data(n: int, data: Path | None, seed: int, log, src=None) -> Path:
    import grow
    data = data or Path(tempfile.gettempdir()) / f"mm-grown-{n}-s{seed}"
    if not (data / "firms.csv").exists():
        t0 = time.perf_counter()
        counts = grow.grow_set([Path(s) for s in src] if src else grow.default_sources(), n, data, seed)
        log(f"grew {data}: {counts} in {time.perf_counter() - t0:.0f} s")
    return data


SYSTEMS = ("load", "ours", "http", "bm25")


def measure(n: int, data: Path | None = None, queries: int = 50, http: bool = True, seed: int = 0,
            log=print, src=None, systems=SYSTEMS) -> dict:
    data = ensure_data(n, data, seed, log, src)
    tmp = Path(tempfile.mkdtemp(prefix="mm-speed-"))
    db = tmp / "speed.db"
    result = {"n": n, "data": str(data), "machine": machine(), "queries": queries}
    try:
        if "load" in systems:
            result["load"] = run_worker("load", data, db, queries, log)
        if "error" not in result.get("load", {"error": "not run"}):
            if "ours" in systems:
                result["matchmaker"] = run_worker("ours", data, db, queries, log)
            web = ROOT / "matchmaker" / "web"
            if http and "http" in systems and web.exists() and any(web.glob("*.py")):
                result["http"] = run_worker("http", data, db, queries, log)
        if "bm25" in systems:
            result["bm25s"] = run_worker("bm25", data, db, queries, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def summary(result: dict) -> str:
    n = result["n"]
    goals = GOALS.get(n, {})
    ours, load, bm = result.get("matchmaker", {}), result.get("load", {}), result.get("bm25s", {})
    http = result.get("http", {})
    rows = []

    def row(name, value, goal=None, fmt="{:.1f}"):
        v = "—" if value is None else fmt.format(value)
        g = "" if goal is None else f"≤ {goal}"
        ok = "" if goal is None or value is None else ("yes" if value <= goal else "**no**")
        rows.append(f"| {name} | {v} | {g} | {ok} |")

    li = (load.get("load s", 0) + ours.get("fetch s", 0) + ours.get("fit s", 0)) if "fit s" in ours else None
    row("matchmaker load (CLI) s", load.get("load s"))
    row("matchmaker fetch + fit s", (ours.get("fetch s", 0) + ours.get("fit s", 0)) if ours else None)
    row("matchmaker load+index s", li, goals.get("load+index s"))
    row("matchmaker rank_smes p50 ms", ours.get("rank_smes", {}).get("p50 ms"), goals.get("p50 ms"))
    row("matchmaker rank_smes p95 ms", ours.get("rank_smes", {}).get("p95 ms"), goals.get("p95 ms"))
    row("matchmaker rank_smes again (warm) p50 ms", ours.get("rank_smes warm", {}).get("p50 ms"))
    row("matchmaker rank_smes again (warm) p95 ms", ours.get("rank_smes warm", {}).get("p95 ms"))
    row("matchmaker rank_demands p50 ms", ours.get("rank_demands", {}).get("p50 ms"))
    row("matchmaker rank_demands p95 ms", ours.get("rank_demands", {}).get("p95 ms"))
    peak = max([x for x in (ours.get("peak GiB"), load.get("peak GiB")) if x is not None], default=None)
    row("matchmaker peak RSS GiB after fetch", ours.get("fetch peak GiB"), None, "{:.2f}")
    row("matchmaker peak RSS GiB after fit", ours.get("fit peak GiB"), None, "{:.2f}")
    row("matchmaker peak RSS GiB (max of load, fit+rank)", peak, goals.get("peak GiB"), "{:.2f}")
    if http:
        row("HTTP server ready s", http.get("server ready s"))
        row("HTTP first request s", http.get("first request s"))
        row("HTTP matches p50 ms", http.get("matches", {}).get("p50 ms"), goals.get("p50 ms"))
        row("HTTP matches p95 ms", http.get("matches", {}).get("p95 ms"), goals.get("p95 ms"))
        row("HTTP warm-up over s (after start)", http.get("warm-up over s"))
        after = http.get("matches after warm-up") or {}
        row("HTTP matches after warm-up p50 ms", after.get("p50 ms"), goals.get("p50 ms"))
        row("HTTP matches after warm-up p95 ms", after.get("p95 ms"), goals.get("p95 ms"))
        row("HTTP server peak RSS GiB", http.get("peak GiB"), goals.get("peak GiB"), "{:.2f}")
    if bm:
        row("bm25s read+tokenise+index s", (bm.get("read s", 0) + bm.get("tokenise s", 0) + bm.get("index s", 0))
            if "index s" in bm else None)
        row("bm25s query p50 ms", bm.get("rank_smes", {}).get("p50 ms"))
        row("bm25s query p95 ms", bm.get("rank_smes", {}).get("p95 ms"))
        row("bm25s peak RSS GiB", bm.get("peak GiB"), None, "{:.2f}")
    m = result["machine"]
    head = (f"N = {n:,} SMEs ({result['data']}), {result['queries']} queries; machine: {m['nproc']} CPUs "
            f"{m['cpu']}, {m['ram GiB']} GiB RAM, Python {m['python']}\n\n"
            "| measure | value | goal | met |\n|---|---|---|---|")
    return head + "\n" + "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Speed and memory of matchmaker vs bm25s on a grown set.")
    ap.add_argument("--n", type=int, default=200_000, help="SMEs in the grown set")
    ap.add_argument("--data", help="a set folder to use instead of growing one (cached in $TMPDIR)")
    ap.add_argument("--src", nargs="+", help="source sets to grow from (default: as bench/grow.py)")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of load,ours,http,bm25 (ours and http need load)")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        out = WORKERS[args.worker](Path(args.data), Path(args.db), args.queries)
        print(json.dumps(out))
        return 0
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    result = measure(args.n, Path(args.data) if args.data else None, args.queries, not args.no_http,
                     args.seed, log, args.src, tuple(args.systems.split(",")))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
