"""Chain leaders' demands: list, post/edit with a quality check, upload, ranked SMEs, shortlist."""

from __future__ import annotations

import re
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from matchmaker import db as dbmod
from matchmaker.errors import UserError
from matchmaker.web import auth
from matchmaker.web.auth import endpoint
from matchmaker.web.errors import WebError
from matchmaker.web.store import row, rows, scalar
from matchmaker.web.views import (COOPERATION, KINDS, db_of, firms_by_code, flash,
                                  get_demand_or_404, int_param, is_htmx, redirect, render,
                                  split_list)

# A ranked SME with at least this score counts as "reached" by a demand in the quality check.
REACH_FLOOR = 0.3
VAGUE_WORDS = ("相关", "若干", "一些", "先进", "高端", "优质", "各类", "一流", "领先", "等等",
               "尽快", "较好", "良好", "一定的", "适当", "有关", "多种", "全面提升")
DIGITS = re.compile(r"\d")


# --- records from forms --------------------------------------------------------------------


def _parse_deadline(value: str) -> tuple[str | None, str | None]:
    value = (value or "").strip()
    if not value:
        return None, None
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", value)
    if not m:
        return None, "截止日期格式应为 YYYY-MM-DD。"
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None, "截止日期不是有效日期。"
    return d.isoformat(), None


def demand_from_form(form, leader: str, base: dict | None = None) -> tuple[dict, dict]:
    """(record, errors) from the demand form; errors maps field -> Chinese message."""
    errors: dict[str, str] = {}
    rec = dict(base or {})
    rec["leader"] = leader
    rec["title"] = str(form.get("title", "")).strip()
    rec["kind"] = str(form.get("kind", "")).strip()
    rec["description"] = str(form.get("description", "")).strip()
    rec["specs"] = str(form.get("specs", "")).strip()
    rec["chains"] = split_list(form.get("chains", ""))[:10]
    coop = [c for c in form.getlist("cooperation") if c] if hasattr(form, "getlist") else []
    coop += split_list(form.get("cooperation_other", ""))
    rec["cooperation"] = list(dict.fromkeys(str(c).strip()[:20] for c in coop if str(c).strip()))[:10]
    rec["deadline"], deadline_error = _parse_deadline(str(form.get("deadline", "")))
    rec.setdefault("extra", {})
    rec.setdefault("status", "draft")
    if not rec["title"]:
        errors["title"] = "请填写需求名称。"
    elif len(rec["title"]) > 80:
        errors["title"] = "需求名称请控制在80字以内。"
    if rec["kind"] not in KINDS:
        errors["kind"] = "请选择需求类型（技术需求或场景需求）。"
    if not rec["description"]:
        errors["description"] = "请填写需求描述。"
    elif len(rec["description"]) > 5000:
        errors["description"] = "需求描述请控制在5000字以内。"
    if len(rec["specs"]) > 3000:
        errors["specs"] = "技术指标请控制在3000字以内。"
    if deadline_error:
        errors["deadline"] = deadline_error
    return rec, errors


def quality_check(rec: dict) -> list[dict]:
    """What will make a demand hard to match, in the words an SME bureau would use."""
    issues = []
    text = rec.get("description", "") or ""
    if not (rec.get("specs") or "").strip():
        issues.append({"field": "specs", "level": "warn",
                       "message": "未填写技术指标：写明关键参数（如精度、功率、温度范围、产能），"
                                  "中小企业才能判断自己能否满足。"})
    elif not DIGITS.search(rec["specs"]):
        issues.append({"field": "specs", "level": "info",
                       "message": "技术指标中没有具体数值，建议补充可量化的指标。"})
    if len(text) < 40:
        issues.append({"field": "description", "level": "warn",
                       "message": f"需求描述只有{len(text)}字，过于简短：请说明应用场景、现有问题和期望效果（建议80字以上）。"})
    vague = [w for w in VAGUE_WORDS if w in text or w in (rec.get("title") or "")]
    if vague:
        issues.append({"field": "description", "level": "info",
                       "message": "用语较为笼统（" + "、".join(vague[:5]) + "），建议换成具体的产品、工艺或参数。"})
    if not rec.get("cooperation"):
        issues.append({"field": "cooperation", "level": "warn",
                       "message": "未选择合作方式：请注明联合研发、产品采购、技术转让或场景开放等。"})
    if not rec.get("deadline"):
        issues.append({"field": "deadline", "level": "warn",
                       "message": "未填写截止日期：有明确时限的需求更容易得到响应。"})
    elif rec["deadline"] < date.today().isoformat():
        issues.append({"field": "deadline", "level": "warn", "message": "截止日期早于今天。"})
    if not rec.get("chains"):
        issues.append({"field": "chains", "level": "info",
                       "message": "未填写所属产业链，系统将仅按文字内容匹配。"})
    return issues


def reach(request: Request, rec: dict) -> int:
    """How many SMEs this demand already reaches (ranked at or above REACH_FLOOR)."""
    probe = dict(rec, demand_id=rec.get("demand_id") or "__draft__", status="open")
    try:
        matches = request.app.state.matching.rank_smes(probe, top=200)
    except (KeyError, ValueError):
        return 0
    return sum(1 for m in matches if m.get("score", 0) >= REACH_FLOOR)


def _leader_choices(request: Request, user: dict) -> list[dict]:
    if user["role"] != "organizer":
        return []
    return rows(db_of(request), "SELECT credit_code, name FROM firms WHERE role = 'leader' ORDER BY name")


def _leader_for_form(request: Request, user: dict, form) -> tuple[str, str | None]:
    if user["role"] == "leader":
        return user["firm"], None
    leader = str(form.get("leader", "")).strip()
    found = row(db_of(request), "SELECT credit_code FROM firms WHERE credit_code = ? AND role = 'leader'",
                [leader])
    return (leader, None) if found else ("", "请选择发布需求的链主企业。")


def new_demand_from_form(request: Request, user: dict, form) -> tuple[dict, dict]:
    """(record, field -> fault) of a new demand: its fields, and its leader (the leader's
    own firm, or the one an organizer names), as the form and the API take them."""
    leader, leader_error = _leader_for_form(request, user, form)
    rec, errors = demand_from_form(form, leader)
    if leader_error:
        errors["leader"] = leader_error
    return rec, errors


def new_demand_id(db) -> str:
    prefix = f"XQ{date.today():%Y%m}"
    last = scalar(db, "SELECT demand_id FROM demands WHERE demand_id LIKE ? ORDER BY demand_id DESC LIMIT 1",
                  [prefix + "-%"])
    n = int(last.rsplit("-", 1)[1]) + 1 if last and last.rsplit("-", 1)[1].isdigit() else 1
    return f"{prefix}-{n:04d}"


def save_demand(request: Request, rec: dict, new: bool) -> dict:
    """Write the demand (a new id when `new`) and hand it to the matcher at once. Blocking
    (the write waits for the database, the matcher for rankings in progress): call it
    from a worker thread, not on the event loop."""
    store = request.app.state.store
    with store.write() as wdb:
        if new:
            rec["demand_id"] = new_demand_id(wdb)
        dbmod.upsert_demands(wdb, [rec])
    saved = dbmod.get_demand(store.db(), rec["demand_id"])
    request.app.state.matching.update_demand(saved)
    return saved


# --- views --------------------------------------------------------------------------------


@endpoint("leader", "organizer")
async def demand_list(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    status = request.query_params.get("status", "")
    q = request.query_params.get("q", "").strip()[:50]
    where, params = [], []
    if user["role"] == "leader":
        where.append("d.leader = ?")
        params.append(user["firm"])
    if status in ("open", "closed", "draft"):
        where.append("d.status = ?")
        params.append(status)
    if q:
        where.append("(d.title LIKE ? OR d.description LIKE ? OR d.demand_id LIKE ? OR f.name LIKE ?)")
        params += [f"%{q}%"] * 4
    sql = ("SELECT d.*, f.name AS leader_name, "
           "(SELECT COUNT(*) FROM meeting_requests r WHERE r.demand_id = d.demand_id "
           " AND r.status = 'pending') AS pending, "
           "(SELECT COUNT(*) FROM shortlists s WHERE s.demand_id = d.demand_id) AS shortlisted "
           "FROM demands d JOIN firms f ON f.credit_code = d.leader"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY d.updated_at DESC, d.demand_id LIMIT 500")
    demands = [dict(dbmod.demand_record(r), leader_name=r["leader_name"], pending=r["pending"],
                    shortlisted=r["shortlisted"], updated_at=r["updated_at"]) for r in rows(db, sql, params)]
    return render(request, "demands/list.html", {"demands": demands, "status": status, "q": q})


@endpoint("leader", "organizer")
async def demand_new(request: Request):
    user = auth.current_user(request)
    ctx = {"demand": {"kind": "技术需求", "chains": [], "cooperation": []}, "errors": {},
           "leaders": _leader_choices(request, user), "mode": "new", "cooperation_choices": COOPERATION}
    if request.method == "GET":
        return render(request, "demands/form.html", ctx)
    form = await auth.read_form(request)
    rec, errors = new_demand_from_form(request, user, form)
    action = str(form.get("action", "publish"))
    if errors:
        return render(request, "demands/form.html", {**ctx, "demand": rec, "errors": errors},
                      status_code=422)
    rec["status"] = "draft" if action == "draft" else "open"
    saved = await run_in_threadpool(save_demand, request, rec, True)
    flash(request, "需求已发布，以下是系统为您推荐的中小企业。" if saved["status"] == "open"
          else "需求已保存为草稿。")
    return redirect(f"/demands/{saved['demand_id']}")


@endpoint("leader", "organizer")
async def demand_check(request: Request):
    """htmx: the quality check and reach of the demand being typed."""
    user = auth.current_user(request)
    form = await auth.read_form(request)
    leader = user["firm"] if user["role"] == "leader" else str(form.get("leader", ""))
    rec, errors = demand_from_form(form, leader)
    issues = quality_check(rec)
    reached = await run_in_threadpool(reach, request, rec) if rec["title"] or rec["description"] else 0
    return render(request, "demands/_quality.html", {"issues": issues, "reach": reached,
                                                     "errors": errors})


@endpoint("leader", "organizer")
async def demand_edit(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    demand = get_demand_or_404(db, request.path_params["demand_id"])
    auth.require_demand_owner(user, demand)
    ctx = {"demand": demand, "errors": {}, "leaders": _leader_choices(request, user),
           "mode": "edit", "cooperation_choices": COOPERATION,
           "issues": quality_check(demand)}
    if request.method == "GET":
        return render(request, "demands/form.html", ctx)
    form = await auth.read_form(request)
    rec, errors = demand_from_form(form, demand["leader"], base=demand)
    if errors:
        return render(request, "demands/form.html", {**ctx, "demand": rec, "errors": errors},
                      status_code=422)
    action = str(form.get("action", "save"))
    if action == "publish":
        rec["status"] = "open"
    elif action == "draft":
        rec["status"] = "draft"
    await run_in_threadpool(save_demand, request, rec, False)
    flash(request, "需求已更新。")
    return redirect(f"/demands/{demand['demand_id']}")


@endpoint("leader", "organizer")
async def demand_status(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    demand = get_demand_or_404(db, request.path_params["demand_id"])
    auth.require_demand_owner(user, demand)
    form = await auth.read_form(request)
    status = str(form.get("status", ""))
    if status not in ("open", "closed", "draft"):
        raise WebError("无效的需求状态。", 422)
    demand["status"] = status
    await run_in_threadpool(save_demand, request, demand, False)
    flash(request, {"open": "需求已发布。", "closed": "需求已关闭，不再向中小企业推荐。",
                    "draft": "需求已转为草稿。"}[status])
    return redirect(f"/demands/{demand['demand_id']}")


def _ranked(request: Request, demand: dict, top: int = 200) -> list[dict]:
    matches = request.app.state.matching.rank_smes(
        demand["demand_id"] if demand.get("status") != "draft" else dict(demand), top=top)
    if not matches and demand.get("status") == "draft":
        return []
    return matches


def _filtered_matches(request: Request, demand: dict) -> dict:
    db = db_of(request)
    p = request.query_params
    tier, district, segment = p.get("tier", ""), p.get("district", ""), p.get("segment", "")
    only_short = p.get("shortlisted", "") == "1"
    limit = int_param(request, "top", 30, 1, 200)
    try:
        matches = _ranked(request, demand)
    except (KeyError, ValueError):
        matches = []
    firms = firms_by_code(db, [m["credit_code"] for m in matches])
    shortlisted = {r["sme"] for r in rows(db, "SELECT sme FROM shortlists WHERE demand_id = ?",
                                          [demand["demand_id"]])}
    requested = {r["sme"]: r["status"] for r in rows(
        db, "SELECT sme, status FROM meeting_requests WHERE demand_id = ?", [demand["demand_id"]])}
    segments, districts = set(), set()
    out = []
    for rank, m in enumerate(matches, start=1):
        firm = firms.get(m["credit_code"])
        if firm is None:
            continue
        segments.update(firm.get("segments") or [])
        if firm.get("district"):
            districts.add(firm["district"])
        if tier and tier not in (firm.get("tiers") or []):
            continue
        if district and firm.get("district") != district:
            continue
        if segment and segment not in (firm.get("segments") or []):
            continue
        if only_short and m["credit_code"] not in shortlisted:
            continue
        out.append({**m, "rank": rank, "firm": firm, "shortlisted": m["credit_code"] in shortlisted,
                    "request": requested.get(m["credit_code"])})
    # `total` alone is the ranking's cut-off when nothing is filtered, not a count of fitting
    # firms: the page also says how many reach REACH_FLOOR (the quality check's figure)
    return {"matches": out[:limit], "total": len(out), "ranked": len(matches),
            "strong": sum(1 for m in out if m.get("score", 0) >= REACH_FLOOR),
            "filtered": bool(tier or district or segment or only_short), "segments": sorted(segments),
            "districts": sorted(districts),
            "filters": {"tier": tier, "district": district, "segment": segment,
                        "shortlisted": "1" if only_short else "", "top": limit},
            "shortlisted_count": len(shortlisted)}


@endpoint("leader", "organizer")
async def demand_detail(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    demand = get_demand_or_404(db, request.path_params["demand_id"])
    auth.require_demand_owner(user, demand)
    leader = row(db, "SELECT name FROM firms WHERE credit_code = ?", [demand["leader"]])
    data = await run_in_threadpool(_filtered_matches, request, demand)
    return render(request, "demands/detail.html", {
        "demand": demand, "leader_name": leader["name"] if leader else "",
        "issues": quality_check(demand), **data})


@endpoint("leader", "organizer")
async def demand_matches(request: Request):
    """htmx: the ranked SMEs under the current filters."""
    user = auth.current_user(request)
    demand = get_demand_or_404(db_of(request), request.path_params["demand_id"])
    auth.require_demand_owner(user, demand)
    data = await run_in_threadpool(_filtered_matches, request, demand)
    return render(request, "demands/_matches.html", {"demand": demand, **data})


@endpoint("leader", "organizer")
async def shortlist_toggle(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    demand = get_demand_or_404(db, request.path_params["demand_id"])
    auth.require_demand_owner(user, demand)
    form = await auth.read_form(request)
    sme = str(form.get("sme", "")).strip()
    if not row(db, "SELECT 1 AS x FROM firms WHERE credit_code = ? AND role = 'sme'", [sme]):
        raise WebError("企业不存在。", 404)
    from matchmaker import events

    with request.app.state.store.write() as wdb:
        on = not scalar(wdb, "SELECT 1 FROM shortlists WHERE demand_id = ? AND sme = ?",
                        [demand["demand_id"], sme])
        (events.shortlist if on else events.unshortlist)(wdb, demand["leader"], demand["demand_id"], sme)
    if is_htmx(request):
        return render(request, "demands/_shortlist_button.html",
                      {"demand": demand, "m": {"credit_code": sme, "shortlisted": on}})
    flash(request, "已加入意向名单。" if on else "已移出意向名单。")
    return redirect(f"/demands/{demand['demand_id']}")


@endpoint("leader", "organizer")
async def demand_upload(request: Request):
    user = auth.current_user(request)
    if request.method == "GET":
        return render(request, "demands/upload.html", {})
    form = await auth.read_form(request)
    upload = form.get("file")
    if upload is None or not hasattr(upload, "read") or not upload.filename:
        return render(request, "demands/upload.html", {"error": "请选择要上传的 XLSX 或 CSV 文件。"},
                      status_code=422)
    data = await upload.read()
    store = request.app.state.store
    from matchmaker.importer import ImportFailed, read_upload

    def work():
        db = store.db()
        loaded = read_upload(upload.filename, data, known=dbmod.firm_keys(db))
        faults = []
        if user["role"] == "leader":
            if loaded.firms or loaded.relations:
                raise WebError("链主企业只能上传需求清单；企业名录请交由组织方导入。", 422)
            foreign = [d for d in loaded.demands if d["leader"] != user["firm"]]
            if foreign:
                ids = "、".join(d["demand_id"] for d in foreign[:5])
                raise WebError(f"文件中有不属于本企业的需求（{ids}），请只上传本企业的需求。", 422)
            existing = {r["demand_id"]: r["leader"] for r in rows(
                db, "SELECT demand_id, leader FROM demands")}
            taken = [d["demand_id"] for d in loaded.demands
                     if existing.get(d["demand_id"], user["firm"]) != user["firm"]]
            if taken:
                raise WebError("需求编号已被其他企业使用：" + "、".join(taken[:5]) + "，请更换编号。", 409)
        if not loaded.demands and not loaded.firms:
            raise WebError("文件中没有可导入的需求。", 422)
        with store.write() as wdb:
            if loaded.firms:
                dbmod.upsert_firms(wdb, loaded.firms)
            dbmod.upsert_demands(wdb, loaded.demands)
            if loaded.relations:
                dbmod.upsert_relations(wdb, loaded.relations)
        return loaded, faults

    try:
        loaded, _ = await run_in_threadpool(work)
    except ImportFailed as exc:
        return render(request, "demands/upload.html", {"faults": exc.faults,
                                                       "filename": upload.filename},
                      status_code=422)
    except UserError as exc:
        return render(request, "demands/upload.html", {"error": exc.message}, status_code=exc.status_code)
    matching = request.app.state.matching
    if loaded.firms or len(loaded.demands) > 50:
        matching.refit_in_background()
    else:
        db = store.db()
        for d in loaded.demands:
            matching.update_demand(dbmod.get_demand(db, d["demand_id"]))
    flash(request, f"已导入 {len(loaded.demands)} 条需求。")
    return redirect("/demands")


@endpoint("leader", "organizer")
async def demand_sme(request: Request):
    """One ranked SME seen from a demand: its full profile and why it was ranked."""
    user = auth.current_user(request)
    db = db_of(request)
    demand = get_demand_or_404(db, request.path_params["demand_id"])
    auth.require_demand_owner(user, demand)
    code = request.path_params["credit_code"]
    firm = dbmod.get_firm(db, code) if row(db, "SELECT 1 AS x FROM firms WHERE credit_code = ? AND role = 'sme'",
                                             [code]) else None
    if firm is None:
        raise WebError("企业不存在。", 404)
    matching = request.app.state.matching

    def work():
        # the rank comes from the demand's cached list (the page the leader came from); a
        # draft's list is not cached, so it shows the pair's reasons without a rank
        rank = None
        if demand.get("status") != "draft":
            try:
                rank = next((i for i, m in enumerate(_ranked(request, demand), start=1)
                             if m["credit_code"] == code), None)
            except (KeyError, ValueError):
                rank = None
        return rank, matching.explain(demand["demand_id"], code)

    rank, match = await run_in_threadpool(work)
    relations = rows(db, "SELECT r.relation, r.year, a.name AS a_name, b.name AS b_name FROM relations r "
                         "JOIN firms a ON a.credit_code = r.firm_a JOIN firms b ON b.credit_code = r.firm_b "
                         "WHERE r.firm_a = ? OR r.firm_b = ? LIMIT 50", [code, code])
    shortlisted = bool(scalar(db, "SELECT 1 FROM shortlists WHERE demand_id = ? AND sme = ?",
                              [demand["demand_id"], code]))
    request_row = row(db, "SELECT * FROM meeting_requests WHERE demand_id = ? AND sme = ? ORDER BY id DESC LIMIT 1",
                      [demand["demand_id"], code])
    return render(request, "demands/sme.html", {
        "demand": demand, "firm": firm, "match": match, "rank": rank, "relations": relations,
        "m": {"credit_code": code, "shortlisted": shortlisted}, "request_row": request_row})
