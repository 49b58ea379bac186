"""Organizers: dashboard with charts, firm directory and import, chain maps with gaps."""

from __future__ import annotations

import json
from collections import Counter

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from matchmaker import db as dbmod
from matchmaker import events as events_mod
from matchmaker.errors import UserError
from matchmaker.web import auth, charts
from matchmaker.web.auth import endpoint
from matchmaker.web.errors import WebError, not_found
from matchmaker.web.store import rows, scalar
from matchmaker.web.views import (QINGDAO_DISTRICTS, cached_by_data, db_of, flash,
                                  get_firm_or_404, int_param, is_htmx, redirect, render)

# events.OUTCOMES, stored as the Chinese result; the value is what the form shows
OUTCOME_NAMES = {"已洽谈": "已洽谈", "达成意向": "达成意向", "签约": "签约", "未见面": "未见面"}


def _dashboard_counts(db) -> tuple[Counter, Counter]:
    """Open demands per chain and SMEs per tier: a pass over every SME, kept until a firm
    or demand changes."""
    chain_counts: Counter = Counter()
    for r in rows(db, "SELECT chains FROM demands WHERE status = 'open'"):
        for c in json.loads(r["chains"] or "[]"):
            chain_counts[c] += 1
    tier_counts: Counter = Counter()
    for r in rows(db, "SELECT tiers FROM firms WHERE role = 'sme'"):
        for t in json.loads(r["tiers"] or "[]"):
            tier_counts[t] += 1
    return chain_counts, tier_counts


def _dashboard_figures(request: Request) -> dict:
    # a dozen counting queries: run in a worker thread (with its own connection), not on the
    # event loop that serves every other user
    db = db_of(request)
    stats = {
        "leaders": scalar(db, "SELECT COUNT(*) FROM firms WHERE role = 'leader'"),
        "smes": scalar(db, "SELECT COUNT(*) FROM firms WHERE role = 'sme'"),
        "demands_open": scalar(db, "SELECT COUNT(*) FROM demands WHERE status = 'open'"),
        "demands": scalar(db, "SELECT COUNT(*) FROM demands"),
        "events": scalar(db, "SELECT COUNT(*) FROM events"),
        "meetings": scalar(db, "SELECT COUNT(*) FROM meetings"),
        "requests_pending": scalar(db, "SELECT COUNT(*) FROM meeting_requests WHERE status = 'pending'"),
        "outcomes": scalar(db, "SELECT COUNT(*) FROM outcomes"),
    }
    chain_counts, tier_counts = cached_by_data(request, ("dashboard_counts",),
                                               lambda: _dashboard_counts(db))
    outcome_counts = Counter({r["result"] or "未填写": r["n"]
                              for r in rows(db, "SELECT result, COUNT(*) AS n FROM outcomes GROUP BY result")})
    figures = events_mod.statistics(db)
    for key in ("contracts", "intents", "amount", "smes_joined"):
        stats[key] = figures["total"][key]
    events = rows(db, "SELECT e.*, (SELECT COUNT(*) FROM participants p WHERE p.event_id = e.id) AS firms, "
                      "(SELECT COUNT(*) FROM meetings m WHERE m.event_id = e.id) AS meetings "
                      "FROM events e ORDER BY e.date DESC LIMIT 8")
    return {"stats": stats, "events": events, "chain_counts": chain_counts, "tier_counts": tier_counts,
            "outcome_counts": outcome_counts, "by_chain": figures.get("by_chain", {})}


@endpoint("organizer")
async def dashboard(request: Request):
    fig = await run_in_threadpool(_dashboard_figures, request)
    stats, events, by_chain = fig["stats"], fig["events"], fig["by_chain"]
    chain_counts, tier_counts, outcome_counts = fig["chain_counts"], fig["tier_counts"], fig["outcome_counts"]
    chart_chains = charts.bar_chart(chain_counts.most_common(10), title="各产业链征集中的需求",
                                    unit="项", testid="chart-chains")
    chart_tiers = charts.bar_chart(tier_counts.most_common(), title="中小企业资质分布", unit="家",
                                   testid="chart-tiers")
    chart_outcomes = charts.bar_chart(
        [(k, outcome_counts.get(k, 0)) for k in ("已洽谈", "达成意向", "签约", "未见面")],
        title="洽谈成果（场）", unit="场", color=charts.RED, testid="chart-outcomes")
    chart_contracts = charts.bar_chart(
        sorted(((c, v["intents"] + v["contracts"]) for c, v in by_chain.items()
                if v["intents"] + v["contracts"]), key=lambda kv: -kv[1])[:10],
        title="各产业链达成意向与签约", unit="项", testid="chart-chain-outcomes")
    return render(request, "org/dashboard.html", {
        "stats": stats, "events": events, "chart_chains": chart_chains,
        "chart_tiers": chart_tiers, "chart_outcomes": chart_outcomes,
        "chart_contracts": chart_contracts})


@endpoint("organizer")
async def firm_list(request: Request):
    db = db_of(request)
    p = request.query_params
    q, role, tier, chain, district = (p.get(k, "").strip()[:50] for k in
                                      ("q", "role", "tier", "chain", "district"))
    page = int_param(request, "page", 1, 1, 10_000)
    per = 50
    where, params = [], []
    if q:
        where.append("(name LIKE ? OR credit_code LIKE ? OR products LIKE ? OR technologies LIKE ?)")
        params += [f"%{q}%"] * 4
    if role in ("leader", "sme"):
        where.append("role = ?")
        params.append(role)
    if tier:
        where.append("tiers LIKE ?")
        params.append(f"%{json.dumps(tier, ensure_ascii=False)}%")
    if chain:
        where.append("chains LIKE ?")
        params.append(f"%{json.dumps(chain, ensure_ascii=False)}%")
    if district:
        where.append("district = ?")
        params.append(district)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = scalar(db, "SELECT COUNT(*) FROM firms" + clause, params)
    found = [dbmod.firm_record(r) for r in rows(
        db, "SELECT * FROM firms" + clause + " ORDER BY role, name LIMIT ? OFFSET ?",
        params + [per, (page - 1) * per])]
    ctx = {"firms": found, "total": total, "page": page, "pages": max(1, -(-total // per)),
           "filters": {"q": q, "role": role, "tier": tier, "chain": chain, "district": district},
           "chains": chain_names(request)}
    if is_htmx(request):
        return render(request, "org/_firm_rows.html", ctx)
    return render(request, "org/firms.html", ctx)


@endpoint("organizer")
async def firm_detail(request: Request):
    db = db_of(request)
    firm = get_firm_or_404(db, request.path_params["credit_code"])
    demands = [dbmod.demand_record(r) for r in rows(db, "SELECT * FROM demands WHERE leader = ?",
                                                    [firm["credit_code"]])]
    relations = rows(db, "SELECT r.*, a.name AS a_name, b.name AS b_name FROM relations r "
                         "JOIN firms a ON a.credit_code = r.firm_a JOIN firms b ON b.credit_code = r.firm_b "
                         "WHERE r.firm_a = ? OR r.firm_b = ? LIMIT 100",
                     [firm["credit_code"], firm["credit_code"]])
    users = rows(db, "SELECT username, display_name, active FROM users WHERE firm = ?", [firm["credit_code"]])
    recs = []
    if firm["role"] == "sme":
        try:
            recs = await run_in_threadpool(request.app.state.matching.rank_demands, firm["credit_code"], 10)
        except (KeyError, ValueError):
            recs = []
        titles = {r["demand_id"]: r["title"] for r in rows(db, "SELECT demand_id, title FROM demands")}
        recs = [dict(m, title=titles.get(m["demand_id"], "")) for m in recs]
    return render(request, "org/firm.html", {"firm": firm, "demands": demands, "relations": relations,
                                             "users": users, "recommendations": recs})


@endpoint("organizer")
async def firm_import(request: Request):
    if request.method == "GET":
        return render(request, "org/import.html", {})
    form = await auth.read_form(request)
    uploads = [u for u in form.getlist("files") if hasattr(u, "read") and u.filename]
    if not uploads:
        return render(request, "org/import.html", {"error": "请选择要上传的文件（XLSX 或 CSV）。"},
                      status_code=422)
    sources = [(u.filename, await u.read()) for u in uploads]
    store = request.app.state.store
    from matchmaker.importer import ImportFailed, read_sources

    def work():
        loaded = read_sources(sources, known=dbmod.firm_keys(store.db()))
        if not len(loaded):
            raise WebError("文件中没有可导入的记录。", 422)
        with store.write() as wdb:
            dbmod.upsert_firms(wdb, loaded.firms)
            dbmod.upsert_demands(wdb, loaded.demands)
            dbmod.upsert_relations(wdb, loaded.relations)
        return loaded

    try:
        loaded = await run_in_threadpool(work)
    except ImportFailed as exc:
        return render(request, "org/import.html", {"faults": exc.faults}, status_code=422)
    except UserError as exc:
        return render(request, "org/import.html", {"error": exc.message}, status_code=exc.status_code)
    request.app.state.matching.refit_in_background()
    flash(request, f"导入完成：企业 {len(loaded.firms)} 家，需求 {len(loaded.demands)} 条，"
                   f"合作关系 {len(loaded.relations)} 条。匹配模型正在后台更新。")
    return redirect("/firms")


# --- chain maps ---------------------------------------------------------------------------


def _chain_names(db) -> list[str]:
    names = {r["name"] for r in rows(db, "SELECT name FROM chains")}
    for table in ("firms", "demands"):
        for r in rows(db, f"SELECT DISTINCT chains FROM {table}"):
            names.update(json.loads(r["chains"] or "[]"))
    return sorted(n for n in names if n)


def is_local(district: str) -> bool:
    district = district or ""
    return district in QINGDAO_DISTRICTS or "青岛" in district


_TAXONOMY: list = []


def taxonomy():
    """The chain taxonomy, read once; None when the file is absent or broken."""
    if not _TAXONOMY:
        try:
            from matchmaker.taxonomy import load_taxonomy

            _TAXONOMY.append(load_taxonomy())
        except Exception:  # the map then falls back to the firms' own segment labels
            _TAXONOMY.append(None)
    return _TAXONOMY[0]


def _segments(chain: str):
    """(leaf segments [{id, name, stage}], supply edges between them) of a chain; ([], [])
    without a taxonomy for it. Leaves (压缩机与电机, 水处理滤材与膜) are where a bureau can
    name a gap; their parents (核心零部件) are too broad for that."""
    tx = taxonomy()
    if tx is None or tx.chain(chain) is None:
        return [], []
    from matchmaker.taxonomy import iter_segments

    segs = list(iter_segments(tx, chain))
    parents = {s.parent for s in segs if s.parent}
    leaves = [s for s in segs if s.id not in parents]
    leaf_ids = {s.id for s in leaves}
    names = {s.id: s.name for s in leaves}
    edges = sorted({(names[a], names[b]) for a, b in tx.supply_edges
                    if a in leaf_ids and b in leaf_ids and a != b})
    return [{"id": s.id, "name": s.name, "stage": s.stage or "",
             "keys": sorted({k for k in (s.name, *s.aliases, *s.terms) if len(k) >= 2}, key=len)}
            for s in leaves], edges


def chain_data(db, chain: str) -> dict:
    segs, edges = _segments(chain)
    quoted = f"%{json.dumps(chain, ensure_ascii=False)}%"
    demands = [dbmod.demand_record(r) for r in rows(
        db, "SELECT * FROM demands WHERE status = 'open' AND chains LIKE ?", [quoted])]
    firms = [dbmod.firm_record(r) for r in rows(db, "SELECT * FROM firms WHERE chains LIKE ?", [quoted])]
    by_id: dict[str, dict] = {}
    for s in segs:
        by_id[s["id"]] = {"name": s["name"], "stage": s["stage"], "demand_items": [],
                          "sme_items": [], "leaders": set()}
    if not segs:  # no taxonomy for this chain: the segments the firms name themselves
        counts: Counter = Counter(seg for f in firms for seg in f["segments"])
        for name, _ in counts.most_common(18):
            by_id[name] = {"name": name, "stage": "", "demand_items": [], "sme_items": [],
                           "leaders": set()}

    def place(text: str, labels: list[str]) -> set[str]:
        """The leaf segments whose name, aliases or terms the text mentions most."""
        if not segs:
            return {lab for lab in labels if lab in by_id}
        hits = {s["id"]: sum(1 for k in s["keys"] if k in text) for s in segs}
        best = max(hits.values(), default=0)
        return {i for i, n in hits.items() if best and n >= max(1, best // 2)}

    for d in demands:
        for n in place(d["title"] + "。" + d["description"] + "。" + d["specs"], []):
            by_id[n]["demand_items"].append(d)
    for f in firms:
        text = f["products"] + "。" + f["technologies"] + "。" + f["description"]
        for n in place(text, f["segments"]):
            if f["role"] == "leader":
                by_id[n]["leaders"].add(f["name"])
            elif is_local(f["district"]):
                by_id[n]["sme_items"].append(f)
    columns: dict[str, list[dict]] = {}
    for s in by_id.values():
        columns.setdefault(s["stage"] or "未分环节", []).append({
            "name": s["name"], "demands": len(s["demand_items"]), "smes": len(s["sme_items"]),
            "leaders": sorted(s["leaders"]), "demand_items": s["demand_items"][:8],
            "sme_items": s["sme_items"][:8]})
    order = {st: i for i, st in enumerate(charts.STAGES)}
    columns = dict(sorted(columns.items(), key=lambda kv: order.get(kv[0], 9)))
    for col in columns.values():
        col.sort(key=lambda s: (-s["demands"], s["name"]))
        for seg in col:
            seg["gap"] = is_gap(seg["demands"], seg["smes"])
    gaps = [s for col in columns.values() for s in col if s["gap"]]
    gaps.sort(key=lambda s: (-s["demands"], s["smes"]))
    return {"chain": chain, "columns": columns, "edges": edges, "gaps": gaps,
            "demand_count": len(demands),
            "sme_count": sum(1 for f in firms if f["role"] == "sme"),
            "local_sme_count": sum(1 for f in firms if f["role"] == "sme" and is_local(f["district"])),
            "leaders": sorted({f["name"] for f in firms if f["role"] == "leader"})}


GAP_MIN = 3  # fewer local SMEs than this in a segment with demand is a gap
GAP_RATIO = 2  # ... and so is fewer than two local SMEs per open demand
GAP_RULE = f"有链主需求，但本地中小企业少于{GAP_MIN}家或少于需求数的{GAP_RATIO}倍"


def is_gap(demands: int, smes: int) -> bool:
    """A segment the local supply does not cover: the 补链/招商 targets."""
    return demands > 0 and smes < max(GAP_MIN, GAP_RATIO * demands)


def _chain_cards(db) -> list[dict]:
    """Per chain: open demands, local SMEs (as on the chain map, so the figures agree) and
    leaders, counted in one pass over the firms and demands."""
    demands: Counter = Counter()
    smes: Counter = Counter()
    leaders: Counter = Counter()
    for r in rows(db, "SELECT chains FROM demands WHERE status = 'open'"):
        demands.update(set(json.loads(r["chains"] or "[]")))
    for r in rows(db, "SELECT role, district, chains FROM firms"):
        names = set(json.loads(r["chains"] or "[]"))
        if r["role"] == "leader":
            leaders.update(names)
        elif r["role"] == "sme" and is_local(r["district"]):
            smes.update(names)
    return [{"name": name, "demands": demands[name], "smes": smes[name], "leaders": leaders[name]}
            for name in _chain_names(db)]


@endpoint("organizer")
async def chain_index(request: Request):
    items = await run_in_threadpool(
        cached_by_data, request, ("chain_cards",), lambda: _chain_cards(db_of(request)))
    return render(request, "org/chains.html", {"chains": items})


def chain_names(request: Request) -> list[str]:
    """_chain_names, kept until a firm or demand changes (it reads every firm's chains)."""
    return cached_by_data(request, ("chain_names",), lambda: _chain_names(db_of(request)))


def _chain_map(request: Request, chain: str) -> tuple[dict, str]:
    """(chain_data, SVG) of a chain, computed once per version of the firms and demands:
    placing firms on segments takes tens of ms, a repeat view only renders the template.
    404 for a chain no firm names."""
    if chain not in chain_names(request):
        raise not_found("产业链")
    store = request.app.state.store

    def compute():
        data = chain_data(store.db(), chain)
        return data, charts.chain_map(chain, data["columns"], data["edges"], GAP_RULE)

    return cached_by_data(request, ("chain_map", chain), compute)


@endpoint("organizer")
async def chain_map(request: Request):
    data, svg = await run_in_threadpool(_chain_map, request, request.path_params["chain"])
    return render(request, "org/chain.html", {**data, "svg": svg, "gap_rule": GAP_RULE})


@endpoint("organizer")
async def chain_map_svg(request: Request):
    _, svg = await run_in_threadpool(_chain_map, request, request.path_params["chain"])
    return Response(str(svg), media_type="image/svg+xml")
