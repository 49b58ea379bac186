"""SMEs: profile, recommended demands with reasons, meeting requests; both sides' agendas."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from matchmaker.errors import UserError

from matchmaker import db as dbmod
from matchmaker.web import auth
from matchmaker.web.auth import endpoint
from matchmaker.web.errors import WebError, forbidden, not_found
from matchmaker.web.store import row, rows
from matchmaker.web.views import (TIERS, db_of, firm_names, flash, get_demand_or_404,
                                  int_param, path_int, redirect, render, split_list)

PROFILE_TEXT = {"products": ("主营产品", 2000), "technologies": ("核心技术", 2000),
                "description": ("企业简介", 5000), "district": ("所在区市", 30)}


@endpoint("sme", "leader")
async def profile(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    firm = dbmod.get_firm(db, user["firm"]) if user.get("firm") else None
    if firm is None:
        raise not_found("企业")
    ctx = {"firm": firm, "errors": {}}
    if request.method == "GET":
        return render(request, "sme/profile.html", ctx)
    form = await auth.read_form(request)
    rec = dict(firm)
    errors = {}
    for key, (label, limit) in PROFILE_TEXT.items():
        value = str(form.get(key, "")).strip()
        if len(value) > limit:
            errors[key] = f"{label}请控制在{limit}字以内。"
        rec[key] = value
    rec["chains"] = split_list(form.get("chains", ""))[:10]
    rec["segments"] = split_list(form.get("segments", ""))[:20]
    tiers = [t for t in form.getlist("tiers") if t in TIERS]
    rec["tiers"] = tiers
    if not rec["products"] and not rec["technologies"]:
        errors["products"] = "请至少填写主营产品或核心技术之一，否则系统无法为您推荐需求。"
    if errors:
        return render(request, "sme/profile.html", {"firm": rec, "errors": errors}, status_code=422)
    store, matching = request.app.state.store, request.app.state.matching

    def save():  # off the event loop: the matcher's update waits for rankings in progress
        with store.write() as wdb:
            dbmod.upsert_firms(wdb, [rec])
        matching.update_firm(dbmod.get_firm(store.db(), rec["credit_code"]))

    await run_in_threadpool(save)
    flash(request, "企业信息已保存，推荐结果已同步更新。")
    return redirect("/profile")


def _recommendations(request: Request, firm_code: str, top: int) -> list[dict]:
    db = db_of(request)
    try:
        # the ranking puts closed and draft demands after every open one: `top` is enough
        matches = request.app.state.matching.rank_demands(firm_code, top=top)
    except (KeyError, ValueError):
        matches = []
    ids = [m["demand_id"] for m in matches]
    demands = {r["demand_id"]: dbmod.demand_record(r) for r in rows(
        db, f"SELECT * FROM demands WHERE status = 'open' AND demand_id IN ({','.join('?' * len(ids))})",
        ids)} if ids else {}
    out = [{**m, "demand": demands[m["demand_id"]]} for m in matches if m["demand_id"] in demands][:top]
    names = firm_names(db, [m["demand"]["leader"] for m in out])
    mine = {r["demand_id"]: r["status"] for r in rows(
        db, "SELECT demand_id, status FROM meeting_requests WHERE sme = ?", [firm_code])}
    for m in out:
        m["leader_name"] = names.get(m["demand"]["leader"], "")
        m["request"] = mine.get(m["demand_id"])
    return out


@endpoint("sme")
async def recommended(request: Request):
    user = auth.current_user(request)
    top = int_param(request, "top", 20, 1, 100)
    kind = request.query_params.get("kind", "")
    items = await run_in_threadpool(_recommendations, request, user["firm"], 100)
    if kind in ("技术需求", "场景需求"):
        items = [m for m in items if m["demand"]["kind"] == kind]
    firm = dbmod.get_firm(db_of(request), user["firm"])
    return render(request, "sme/recommended.html", {"items": items[:top], "firm": firm, "kind": kind})


def _events_for(db, code: str) -> list[dict]:
    """Events this firm is invited to that still take requests."""
    return rows(db, "SELECT e.id, e.name, e.date FROM events e JOIN participants p ON p.event_id = e.id "
                    "WHERE p.credit_code = ? AND e.status IN ('draft', 'open', 'scheduled') "
                    "ORDER BY e.date", [code])


@endpoint("sme")
async def opportunity(request: Request):
    """A demand as an SME sees it: the text, why it fits this firm, and the request form."""
    user = auth.current_user(request)
    db = db_of(request)
    demand = get_demand_or_404(db, request.path_params["demand_id"])
    if demand["status"] != "open":
        raise not_found("需求")
    # one pair's reasons: no ranking of every demand for this firm
    match = await run_in_threadpool(request.app.state.matching.explain, demand["demand_id"],
                                    user["firm"])
    leader = row(db, "SELECT name FROM firms WHERE credit_code = ?", [demand["leader"]])
    existing = row(db, "SELECT * FROM meeting_requests WHERE sme = ? AND demand_id = ? "
                       "ORDER BY id DESC LIMIT 1", [user["firm"], demand["demand_id"]])
    return render(request, "sme/opportunity.html", {
        "demand": demand, "match": match, "leader_name": leader["name"] if leader else "",
        "existing": existing, "events": _events_for(db, user["firm"]), "errors": {}})


def open_demand_for_request(db, demand_id: str) -> dict:
    """The demand an SME asks to meet about: 404 when unknown or not visible, 409 closed."""
    demand = get_demand_or_404(db, demand_id)
    if demand["status"] == "draft":
        raise not_found("需求")
    if demand["status"] != "open":
        raise WebError("该需求已关闭，不能再申请对接。", 409)
    return demand


def meeting_request_fields(db, firm: str, message: str, event_raw: str) -> tuple[int | None, dict]:
    """(event id or None, field -> fault) for an SME's meeting request, as the form and
    the API take it."""
    errors, event_id = {}, None
    if event_raw:
        allowed = {str(e["id"]): e["id"] for e in _events_for(db, firm)}
        if event_raw not in allowed:
            errors["event_id"] = "请选择您已受邀参加的活动。"
        else:
            event_id = allowed[event_raw]
    if not message or len(message) > 1000:
        errors["message"] = "请用一两句话说明贵企业能提供什么（不超过1000字）。"
    return event_id, errors


def save_meeting_request(request: Request, firm: str, demand_id: str, message: str,
                         event_id: int | None) -> int:
    """The request written in one short transaction (events.request_meeting); its id."""
    from matchmaker import events

    try:
        with request.app.state.store.write() as wdb:
            return events.request_meeting(wdb, firm, demand_id, message, event_id=event_id)
    except UserError as exc:
        raise WebError(exc.message, 409)


@endpoint("sme")
async def request_meeting(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    demand = open_demand_for_request(db, request.path_params["demand_id"])
    form = await auth.read_form(request)
    message = str(form.get("message", "")).strip()
    event_id, errors = meeting_request_fields(db, user["firm"], message,
                                              str(form.get("event_id", "")).strip())
    if "event_id" in errors:
        raise WebError(errors["event_id"], 422)
    if errors:
        leader = row(db, "SELECT name FROM firms WHERE credit_code = ?", [demand["leader"]])
        return render(request, "sme/opportunity.html", {
            "demand": demand, "match": None, "leader_name": leader["name"] if leader else "",
            "existing": None, "events": _events_for(db, user["firm"]),
            "errors": errors, "message": message[:1000]}, status_code=422)
    await run_in_threadpool(save_meeting_request, request, user["firm"], demand["demand_id"],
                            message, event_id)
    flash(request, "对接申请已提交，链主企业答复后您会在“我的申请”中看到。")
    return redirect("/requests")


@endpoint("sme", "leader", "organizer")
async def request_list(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    status = request.query_params.get("status", "")
    where, params = [], []
    if user["role"] == "sme":
        where.append("r.sme = ?")
        params.append(user["firm"])
    elif user["role"] == "leader":
        where.append("r.leader = ?")
        params.append(user["firm"])
    if status in ("pending", "accepted", "declined"):
        where.append("r.status = ?")
        params.append(status)
    items = rows(db, "SELECT r.*, d.title AS demand_title, s.name AS sme_name, l.name AS leader_name, "
                     "e.name AS event_name FROM meeting_requests r "
                     "LEFT JOIN demands d ON d.demand_id = r.demand_id "
                     "LEFT JOIN firms s ON s.credit_code = r.sme "
                     "LEFT JOIN firms l ON l.credit_code = r.leader "
                     "LEFT JOIN events e ON e.id = r.event_id"
                     + (" WHERE " + " AND ".join(where) if where else "")
                     + " ORDER BY r.id DESC LIMIT 500", params)
    return render(request, "requests.html", {"items": items, "status": status})


def answerable_request(request: Request, user: dict) -> dict:
    """The meeting request in the path, if this user may answer it (its leader, organizers)."""
    rid = path_int(request, "request_id", "对接申请")
    req = row(db_of(request), "SELECT * FROM meeting_requests WHERE id = ?", [rid])
    if req is None:
        raise not_found("对接申请")
    if user["role"] == "leader" and req["leader"] != user["firm"]:
        raise forbidden("只能答复发给本企业的对接申请。")
    return req


def save_answer(request: Request, user: dict, req: dict, answer: str) -> dict:
    """Accept or decline (events.answer_request) in one short transaction; the new row."""
    if answer not in ("accepted", "declined"):
        raise WebError("请选择接受或婉拒。", 422, errors={"answer": "应为 accepted（接受）或 declined（婉拒）。"})
    from matchmaker import events

    store = request.app.state.store
    try:
        with store.write() as wdb:
            events.answer_request(wdb, req["id"], answer == "accepted",
                                  leader=user["firm"] if user["role"] == "leader" else None)
    except UserError as exc:
        raise WebError(exc.message, exc.status_code if exc.status_code != 400 else 409)
    return row(store.db(), "SELECT * FROM meeting_requests WHERE id = ?", [req["id"]])


@endpoint("leader", "organizer")
async def request_answer(request: Request):
    user = auth.current_user(request)
    req = answerable_request(request, user)
    form = await auth.read_form(request)
    answer = str(form.get("answer", ""))
    await run_in_threadpool(save_answer, request, user, req, answer)
    flash(request, "已接受对接申请。" if answer == "accepted" else "已婉拒对接申请。")
    return redirect("/requests")


@endpoint("sme", "leader")
async def agenda(request: Request):
    """The firm's meetings in published events: when, which table, with whom, about what."""
    user = auth.current_user(request)
    db = db_of(request)
    col = "sme" if user["role"] == "sme" else "leader"
    other = "leader" if col == "sme" else "sme"
    meetings = rows(db, f"SELECT m.*, e.name AS event_name, e.date, e.start, e.slot_minutes, e.breaks, e.venue, "
                        f"e.status AS event_status, f.name AS other_name, d.title AS demand_title "
                        f"FROM meetings m JOIN events e ON e.id = m.event_id "
                        f"LEFT JOIN firms f ON f.credit_code = m.{other} "
                        f"LEFT JOIN demands d ON d.demand_id = m.demand_id "
                        f"WHERE m.{col} = ? AND e.status IN ('published', 'done') AND m.status != 'cancelled' "
                        f"ORDER BY e.date, m.slot", [user["firm"]])
    for m in meetings:
        m["time"] = slot_time(m.get("start"), m.get("slot_minutes"), m.get("slot"), m.get("breaks"))
    invited = rows(db, "SELECT e.* FROM events e JOIN participants p ON p.event_id = e.id "
                       "WHERE p.credit_code = ? ORDER BY e.date DESC", [user["firm"]])
    return render(request, "agenda.html", {"meetings": meetings, "events": invited})


def slot_time(start: str | None, minutes: int | None, slot: int | None, breaks=None) -> str:
    """'09:00–09:20' for a 1-based slot, pauses after earlier slots included (the same
    clock as the printed sheets)."""
    import json

    from matchmaker.sheets import slot_times

    if isinstance(breaks, str):
        try:
            breaks = json.loads(breaks)
        except ValueError:
            breaks = None
    try:
        times = slot_times(start or "09:00", int(minutes or 20), int(slot), breaks)
    except (TypeError, ValueError):
        return ""
    return f"{times[-1]['start']}–{times[-1]['end']}" if times else ""
