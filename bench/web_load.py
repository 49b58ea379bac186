"""Web load: N people signed in at once, clicking through each role's main pages of a live
`matchmaker serve` on the demo dataset, for a bounded time; p50/p95 per page beside the
framework floor measured in the same run.

    .venv/bin/python bench/web_load.py                       # 20 users, 60 s, think 0.5-2 s
    .venv/bin/python bench/web_load.py --think 0 --duration 30   # closed loop, no pauses
    .venv/bin/python bench/web_load.py --db my.db --json out.json

It builds a fresh demo database in a temporary folder (or copies --db), adds accounts so that
each simulated person has their own (sme1.., leader1.., admin/org2..), prepares one paired and
published event, starts `matchmaker serve` on 127.0.0.1 on a free port and runs an asyncio +
httpx load generator against it — only ever 127.0.0.1. The floor is `/static/app.css`
(Starlette's StaticFiles: routing, middleware and the socket, no database, no template),
requested by the same people in the same loops, so it sees the same load.

A person's loop: their role's pages in order, a think pause drawn uniformly from
[think/2, think*2] between pages (0 = no pause: a stress test, not 20 people). Requests in
the first --warmup seconds are not counted. The generator shares the machine's cores with the
server; its own cost per request is a few hundred microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from machine import machine  # noqa: E402
from e2e_support import (CSRF, DEMO_PASSWORD, LiveServer, add_accounts,  # noqa: E402
                         build_demo_db)

DEMAND_ID = re.compile(r'data-demand-id="([^"]+)"')
FLOOR = "floor: /static/app.css"
GOAL_MS = 150.0


async def login(client: httpx.AsyncClient, username: str) -> str:
    token = CSRF.search((await client.get("/login")).text).group(1)
    resp = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                             "csrf_token": token})
    if resp.status_code != 303 or "/login" in resp.headers.get("location", ""):
        raise RuntimeError(f"login of {username} failed: HTTP {resp.status_code}")
    return CSRF.search((await client.get("/account")).text).group(1)


async def prepare_event(base: str) -> int:
    """One event with three leaders and their best-ranked SMEs, paired and published."""
    async with httpx.AsyncClient(base_url=base, timeout=300) as c:
        token = await login(c, "admin")
        resp = await c.post("/events", data={
            "csrf_token": token, "name": "负载测试对接会",
            "date": (date.today() + timedelta(days=10)).isoformat(), "start": "09:00",
            "slots": "8", "slot_minutes": "20", "tables": "6", "venue": "青岛国际会展中心"})
        eid = int(resp.headers["location"].rsplit("/", 1)[1])
        leaders = []
        for name in ("leader1", "leader2", "leader3"):
            async with httpx.AsyncClient(base_url=base, timeout=60) as lc:
                await login(lc, name)
                html = (await lc.get("/account")).text
                leaders.append(re.search(r'data-testid="account-link">([^<]+)<', html).group(1).strip())
        for data in ({"mode": "firms", "firms": "\n".join(leaders)}, {"mode": "match", "per_demand": "3"}):
            resp = await c.post(f"/events/{eid}/invite", data={"csrf_token": token, **data})
            assert resp.status_code == 303, resp.text[:300]
        for url in (f"/events/{eid}/pair", f"/events/{eid}/publish"):
            resp = await c.post(url, data={"csrf_token": token, "max_per_sme": "3"})
            assert resp.status_code == 303, resp.text[:300]
        return eid


def role_pages(role: str, ids: list[str], eid: int) -> list[tuple[str, str]]:
    """(page name, url) in the order a person of this role would open them."""
    one = ids[0] if ids else ""
    if role == "leader":
        return [("leader: /demands (list)", "/demands"),
                ("leader: /demands/{id} (ranked SMEs)", f"/demands/{one}"),
                ("leader: /demands/{id}/matches (htmx filter)",
                 f"/demands/{one}/matches?tier=专精特新中小企业"),
                ("leader: /requests", "/requests")]
    if role == "sme":
        return [("sme: /recommended", "/recommended"),
                ("sme: /opportunities/{id}", f"/opportunities/{one}"),
                ("sme: /requests", "/requests"),
                ("sme: /agenda", "/agenda")]
    return [("organizer: /dashboard", "/dashboard"),
            ("organizer: /demands (all)", "/demands"),
            ("organizer: /events/{id} (workspace)", f"/events/{eid}"),
            ("organizer: /chains/智能家电 (map)", "/chains/智能家电"),
            ("organizer: /firms", "/firms")]


async def sign_in(base: str, username: str, role: str, eid: int, open_ids: list[str], seed: int):
    """A signed-in client and the pages this person will open. Leaders open their own
    demands; SMEs open demands from the open list (not from /recommended, so that their
    first /recommended is measured in the run, under load)."""
    rnd = random.Random(seed)
    c = httpx.AsyncClient(base_url=base, timeout=60)
    await login(c, username)
    ids = DEMAND_ID.findall((await c.get("/demands")).text) if role == "leader" else list(open_ids)
    ids = ids[rnd.randrange(min(len(ids), 10)):] if ids else ids
    return c, role_pages(role, ids, eid) + [(FLOOR, "/static/app.css")]


async def person(c: httpx.AsyncClient, pages: list, start: float, warmup: float, stop: float,
                 think: float, samples: dict, errors: dict, first: dict, seed: int) -> None:
    """Open the pages in a loop until `stop`. A person's first view of a page is kept apart
    (`first`): the server caches rankings, so first views show the uncached cost."""
    rnd = random.Random(seed)
    seen = set()
    await asyncio.sleep(rnd.uniform(0, max(think, 0.2)))  # people do not click in step
    i = rnd.randrange(len(pages))
    while time.perf_counter() < stop:
        name, url = pages[i % len(pages)]
        i += 1
        t = time.perf_counter()
        try:
            resp = await c.get(url)
            ok = resp.status_code == 200
        except httpx.HTTPError as exc:
            ok, resp = False, exc
        t1 = time.perf_counter()
        if url not in seen:
            seen.add(url)
            first[name].append(t1 - t)
        elif t - start >= warmup and t1 <= stop:
            samples[name].append(t1 - t)
        if t1 <= stop:
            if not ok:
                errors[name].append(str(getattr(resp, "status_code", resp)))
        if think > 0:
            await asyncio.sleep(rnd.uniform(think / 2, think * 2))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(samples: dict, errors: dict, duration: float) -> dict:
    floor = samples.get(FLOOR, [])
    f50, f95 = pct(floor, 50) * 1000, pct(floor, 95) * 1000
    rows = []
    every = [x for name, xs in samples.items() if name != FLOOR for x in xs]
    for name in sorted(samples, key=lambda n: (n == FLOOR, n)):
        xs = samples[name]
        rows.append({"page": name, "n": len(xs), "errors": len(errors.get(name, [])),
                     "p50_ms": pct(xs, 50) * 1000, "p95_ms": pct(xs, 95) * 1000,
                     "max_ms": max(xs) * 1000 if xs else float("nan")})
    rows.insert(len(rows) - 1, {"page": "all main pages", "n": len(every),
                                "errors": sum(len(v) for k, v in errors.items() if k != FLOOR),
                                "p50_ms": pct(every, 50) * 1000, "p95_ms": pct(every, 95) * 1000,
                                "max_ms": max(every) * 1000 if every else float("nan")})
    print(f"\n{'page':46s} {'n':>5s} {'err':>4s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}"
          f" {'p50/floor':>9s} {'p95/floor':>9s}  goal p95 ≤ {GOAL_MS:.0f} ms")
    for r in rows:
        mark = "" if r["page"] == FLOOR else ("ok" if r["p95_ms"] <= GOAL_MS else "SLOW")
        print(f"{r['page']:46s} {r['n']:5d} {r['errors']:4d} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f}"
              f" {r['max_ms']:8.1f} {r['p50_ms'] / f50:9.1f} {r['p95_ms'] / f95:9.1f}  {mark}")
    total = sum(r["n"] for r in rows if r["page"] != "all main pages")
    print(f"\n{total} repeat views counted in {duration:.0f} s = {total / duration:.1f} req/s; "
          f"floor p50 {f50:.1f} ms, p95 {f95:.1f} ms")
    return {"rows": rows, "floor_p50_ms": f50, "floor_p95_ms": f95, "requests": total,
            "seconds": duration}


async def run(base: str, accounts: dict, eid: int, args) -> dict:
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    first: dict[str, list[float]] = defaultdict(list)
    people = [(u, role) for role in ("sme", "leader", "organizer") for u in accounts[role]]
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        await login(c, "admin")
        open_ids = DEMAND_ID.findall((await c.get("/demands?status=open")).text)
    # sign in one by one, before the clock starts (a password check costs ~0.5 s)
    sessions = [await sign_in(base, u, role, eid, open_ids, seed=k)
                for k, (u, role) in enumerate(people)]
    start = time.perf_counter()
    stop = start + args.warmup + args.duration
    try:
        await asyncio.gather(*(person(c, pages, start, args.warmup, stop, args.think, samples,
                                      errors, first, seed=k) for k, (c, pages) in enumerate(sessions)))
    finally:
        for c, _ in sessions:
            await c.aclose()
    result = report(samples, errors, args.duration)
    result["first_views"] = report_first(first)
    return result


def report_first(first: dict) -> list[dict]:
    print("\nfirst view of a page by each person (uncached rankings; not in the table above):")
    rows = []
    for name in sorted(first):
        if name == FLOOR:
            continue
        xs = first[name]
        rows.append({"page": name, "n": len(xs), "p50_ms": pct(xs, 50) * 1000,
                     "max_ms": max(xs) * 1000})
        print(f"  {name:46s} {len(xs):3d} views  p50 {rows[-1]['p50_ms']:7.1f} ms"
              f"  max {rows[-1]['max_ms']:7.1f} ms")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="start from a copy of this database (default: a fresh demo)")
    ap.add_argument("--users", type=int, default=20, help="people signed in at once")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds not counted")
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean pause between pages in seconds (0: none)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="matchmaker-webload-"))
    server = None
    try:
        path = tmp / "load.db"
        if args.db:
            with closing(sqlite3.connect(args.db)) as src, closing(sqlite3.connect(path)) as dst:
                src.backup(dst)
        else:
            print("building the demo database …", flush=True)
            build_demo_db(path)
        n_sme = round(args.users * 0.4)
        n_leader = round(args.users * 0.3)
        n_org = args.users - n_sme - n_leader
        accounts = add_accounts(path, n_sme, n_leader, n_org)
        server = LiveServer(path).start()
        print(f"server {server.url} ({args.users} people: {n_sme} SMEs, {n_leader} leaders, "
              f"{n_org} organizers; think {args.think} s; {args.duration:.0f} s after "
              f"{args.warmup:.0f} s warm-up)", flush=True)
        eid = asyncio.run(prepare_event(server.url))
        load_before = os.getloadavg()[0]
        result = asyncio.run(run(server.url, accounts, eid, args))
        # the machine is shared: a busy one slows the floor too (compare floor p95 across runs)
        load = (round(load_before, 2), round(os.getloadavg()[0], 2))
        result.update({"users": args.users, "think_s": args.think, "machine": machine(),
                       "loadavg_1min_before_after": load,
                       "command": "python bench/web_load.py " + " ".join(argv or sys.argv[1:])})
        print(f"machine: {result['machine']}; 1-min load average before/after the run: "
              f"{load[0]} / {load[1]} on {os.cpu_count()} cores")
        if args.json:
            Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
