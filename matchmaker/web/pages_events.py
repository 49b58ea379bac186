"""The organizer's event workspace over events.py: create, invite, pair, review, lock/move,
publish, sheets, day-of check-in and no-shows, outcomes."""

from __future__ import annotations

import json
import math
import re
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from matchmaker.errors import UserError
from matchmaker.web import auth
from matchmaker.web.auth import endpoint
from matchmaker.web.errors import WebError, not_found
from matchmaker.web.pages_org import OUTCOME_NAMES
from matchmaker.web.pages_sme import slot_time
from matchmaker.web.store import row, rows, scalar
from matchmaker.web.views import (TIERS, db_of, flash, is_htmx, path_int, redirect, render,
                                  split_list)

SHEET_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8",
               "pdf": "application/pdf"}


def _events_module():
    try:
        from matchmaker import events
    except ImportError:
        raise WebError("活动管理功能暂未启用，请稍后再试。", 503)
    return events


def _call(name: str, *args, **kwargs):
    fn = getattr(_events_module(), name, None)
    if fn is None:
        raise WebError("该功能暂未开放。", 501)
    return fn(*args, **kwargs)


def _event_or_404(db, request: Request) -> dict:
    eid = path_int(request, "event_id", "活动")
    event = row(db, "SELECT * FROM events WHERE id = ?", [eid])
    if event is None:
        raise not_found("活动")
    return event


def _write(request: Request, fn, *args, **kwargs):
    """Run an events.py action in one short write transaction."""
    with request.app.state.store.write() as wdb:
        return fn(wdb, *args, **kwargs)


async def _act(request: Request, fn, *args, status: int = 409, **kwargs):
    """The one shape of every workspace action: the events.py call in its own write
    transaction on a worker thread (a waiting writer never holds up the event loop), its
    refusal (UserError) shown to the organizer with `status`."""
    try:
        return await run_in_threadpool(_write, request, fn, *args, **kwargs)
    except WebError:
        raise
    except UserError as exc:
        raise WebError(exc.message, status)


def _done(request: Request, message: str, url: str):
    flash(request, message)
    return redirect(url)


# --- list and create ----------------------------------------------------------------------


def _event_from_form(form) -> tuple[dict, dict]:
    errors = {}
    values = {k: str(form.get(k, "")).strip() for k in
              ("name", "date", "start", "slots", "slot_minutes", "tables", "venue")}
    if not values["name"] or len(values["name"]) > 80:
        errors["name"] = "请填写活动名称（80字以内）。"
    try:
        date.fromisoformat(values["date"])
    except ValueError:
        errors["date"] = "请填写日期，格式 YYYY-MM-DD。"
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", values["start"]):
        errors["start"] = "开始时间格式为 HH:MM，如 09:00。"
    limits = {"slots": (1, 100, "洽谈轮次"), "slot_minutes": (5, 240, "每轮时长"), "tables": (1, 1000, "洽谈桌数")}
    parsed = {}
    for key, (lo, hi, label) in limits.items():
        try:
            parsed[key] = int(values[key])
            if not lo <= parsed[key] <= hi:
                raise ValueError
        except ValueError:
            errors[key] = f"{label}应为 {lo}–{hi} 之间的整数。"
    if len(values["venue"]) > 100:
        errors["venue"] = "地点请控制在100字以内。"
    return {**values, **parsed}, errors


@endpoint("organizer")
async def event_list(request: Request):
    db = db_of(request)
    ctx = {"errors": {}, "values": {"start": "09:00", "slots": 8, "slot_minutes": 20, "tables": 10}}
    if request.method == "POST":
        form = await auth.read_form(request)
        values, errors = _event_from_form(form)
        if not errors:
            try:
                eid = await _act(request, _events_module().create_event, name=values["name"],
                                 date=values["date"], start=values["start"], slots=values["slots"],
                                 slot_minutes=values["slot_minutes"], tables=values["tables"],
                                 venue=values["venue"] or None)
            except WebError as exc:  # shown beside the form, not as an error page
                errors["form"] = exc.message
            else:
                return _done(request, "活动已创建，请邀请参会企业。", f"/events/{eid}")
        ctx = {"errors": errors, "values": values}
    events = rows(db, "SELECT e.*, (SELECT COUNT(*) FROM participants p WHERE p.event_id = e.id) AS firms, "
                      "(SELECT COUNT(*) FROM meetings m WHERE m.event_id = e.id) AS meetings "
                      "FROM events e ORDER BY e.date DESC, e.id DESC")
    return render(request, "events/list.html", {**ctx, "events": events},
                  status_code=422 if ctx["errors"] else 200)


# --- the workspace ------------------------------------------------------------------------


def _workspace(db, event: dict) -> dict:
    eid = event["id"]
    participants = rows(db, "SELECT p.*, f.name, f.role AS firm_role, f.tiers, f.district FROM participants p "
                            "JOIN firms f ON f.credit_code = p.credit_code WHERE p.event_id = ? "
                            "ORDER BY f.role, f.name", [eid])
    meetings = rows(db, "SELECT m.*, l.name AS leader_name, s.name AS sme_name, d.title AS demand_title, "
                        "o.result, o.note, o.amount FROM meetings m "
                        "LEFT JOIN firms l ON l.credit_code = m.leader LEFT JOIN firms s ON s.credit_code = m.sme "
                        "LEFT JOIN demands d ON d.demand_id = m.demand_id "
                        "LEFT JOIN outcomes o ON o.meeting_id = m.id "
                        "WHERE m.event_id = ? ORDER BY m.slot, m.table_no", [eid])
    slots = int(event.get("slots") or 0)
    tables = int(event.get("tables") or 0)
    grid: dict = {}
    for m in meetings:  # a repaired cell holds the freed meeting and its replacement
        key = (m["slot"], m["table_no"])
        if key not in grid or grid[key]["status"] in ("no_show", "cancelled"):
            grid[key] = m
    slot_rows = [{"slot": s, "time": slot_time(event["start"], event["slot_minutes"], s, event.get("breaks")),
                  "cells": [grid.get((s, t)) for t in range(1, tables + 1)]} for s in range(1, slots + 1)]
    unmatched = [p for p in participants if p["firm_role"] == "sme"
                 and not any(m["sme"] == p["credit_code"] for m in meetings)]
    requests = rows(db, "SELECT r.*, s.name AS sme_name, l.name AS leader_name FROM meeting_requests r "
                        "JOIN firms s ON s.credit_code = r.sme JOIN firms l ON l.credit_code = r.leader "
                        "WHERE r.event_id = ? ORDER BY r.id DESC", [eid])
    stats = {"leaders": sum(1 for p in participants if p["firm_role"] == "leader"),
             "smes": sum(1 for p in participants if p["firm_role"] == "sme"),
             "meetings": len(meetings), "locked": sum(1 for m in meetings if m["locked"]),
             "checked_in": sum(1 for p in participants if p["checked_in"]),
             "no_show": sum(1 for p in participants if p["no_show"]),
             "outcomes": sum(1 for m in meetings if m.get("result")),
             "requests_accepted": sum(1 for r in requests if r["status"] == "accepted")}
    table_owners = {}
    for p in participants:
        if p["firm_role"] == "leader":
            for t in json.loads(p.get("tables") or "[]"):
                table_owners[t] = p["name"]
    must = rows(db, "SELECT m.*, l.name AS leader_name, s.name AS sme_name FROM must_meets m "
                    "JOIN firms l ON l.credit_code = m.leader JOIN firms s ON s.credit_code = m.sme "
                    "WHERE m.event_id = ?", [eid])
    blocked: dict = {}
    for r in rows(db, "SELECT credit_code, slot FROM unavailability WHERE event_id = ? ORDER BY slot", [eid]):
        blocked.setdefault(r["credit_code"], []).append(r["slot"])
    for p in participants:
        p["table_list"] = json.loads(p.get("tables") or "[]")
        p["unavailable"] = blocked.get(p["credit_code"], [])
    return {"participants": participants, "meetings": meetings, "slot_rows": slot_rows,
            "table_owners": table_owners, "must_meets": must,
            "tables": list(range(1, tables + 1)), "unmatched": unmatched, "requests": requests,
            "stats": stats}


def _chain_names(request: Request) -> list[str]:
    from matchmaker.web.pages_org import chain_names

    return chain_names(request)


@endpoint("organizer")
async def event_workspace(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    data = _workspace(db, event)
    return render(request, "events/workspace.html", {
        "event": event, **data, "chains": _chain_names(request), "outcome_names": OUTCOME_NAMES,
        "tab": request.query_params.get("tab", "schedule")})


def _firms_for_invite(request: Request, db, event: dict, form) -> list[str]:
    mode = str(form.get("mode", "firms"))
    if mode == "firms":
        keys = split_list(form.get("firms", "")) + [str(v) for v in form.getlist("codes")]
        return [k for k in dict.fromkeys(keys) if k]
    if mode == "chain":
        chain = str(form.get("chain", ""))
        quoted = f"%{json.dumps(chain, ensure_ascii=False)}%"
        roles = [r for r in form.getlist("roles") if r in ("leader", "sme")] or ["leader", "sme"]
        marks = ",".join("?" * len(roles))
        return [r["credit_code"] for r in rows(
            db, f"SELECT credit_code FROM firms WHERE chains LIKE ? AND role IN ({marks})", [quoted, *roles])]
    if mode == "tier":
        tier = str(form.get("tier", ""))
        if tier not in TIERS:
            raise WebError("请选择资质。", 422)
        quoted = f"%{json.dumps(tier, ensure_ascii=False)}%"
        return [r["credit_code"] for r in rows(
            db, "SELECT credit_code FROM firms WHERE role = 'sme' AND tiers LIKE ?", [quoted])]
    if mode == "match":
        # the SMEs ranked highest for the invited leaders' open demands
        try:
            per = max(1, min(50, int(form.get("per_demand", 5))))
        except ValueError:
            per = 5
        leaders = [r["credit_code"] for r in rows(
            db, "SELECT p.credit_code FROM participants p JOIN firms f ON f.credit_code = p.credit_code "
                "WHERE p.event_id = ? AND f.role = 'leader'", [event["id"]])]
        if not leaders:
            raise WebError("请先邀请链主企业，再按匹配结果邀请中小企业。", 409)
        marks = ",".join("?" * len(leaders))
        demand_ids = [r["demand_id"] for r in rows(
            db, f"SELECT demand_id FROM demands WHERE status = 'open' AND leader IN ({marks})", leaders)]
        matching = request.app.state.matching
        codes = []
        with matching.foreground():  # the background warm-up waits meanwhile
            for did in demand_ids:
                try:
                    codes += [m["credit_code"] for m in matching.rank_smes(did, top=per)]
                except KeyError:
                    continue
        return list(dict.fromkeys(codes))
    raise WebError("未知的邀请方式。", 422)


@endpoint("organizer")
async def event_invite(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    form = await auth.read_form(request)
    codes = await run_in_threadpool(_firms_for_invite, request, db_of(request), event, form)
    if not codes:
        raise WebError("没有符合条件的企业可邀请。", 422)
    invited = await _act(request, _events_module().invite, event["id"], codes, status=422)
    return _done(request, f"已邀请 {len(invited) if invited is not None else len(codes)} 家企业。",
                 f"/events/{event['id']}?tab=firms")


@endpoint("organizer")
async def event_pair(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    form = await auth.read_form(request)
    max_per_sme = None
    if str(form.get("max_per_sme", "")).strip():
        try:
            max_per_sme = int(form.get("max_per_sme"))
            if not 1 <= max_per_sme <= 100:
                raise ValueError
        except ValueError:
            raise WebError("每家中小企业的洽谈上限应为 1–100 之间的整数。", 422)
    store = request.app.state.store
    events = _events_module()

    # the app's fitted model (no refit per request), ranked under its read lock
    matcher = request.app.state.matching.reader()

    def work():
        with request.app.state.matching.foreground(), store.write() as wdb:
            return events.run_pairing(wdb, event["id"], max_per_sme=max_per_sme, matcher=matcher)

    try:
        await run_in_threadpool(work)
    except UserError as exc:
        raise WebError(exc.message, 422)
    except ValueError as exc:  # the solver refused an inconsistent problem (e.g. a stale lock)
        raise WebError(f"排期条件相互矛盾，请检查锁定的洽谈和桌位分配后重试。（{exc}）", 409)
    n = scalar(db, "SELECT COUNT(*) FROM meetings WHERE event_id = ?", [event["id"]])
    return _done(request, f"配对完成：共安排 {n} 场洽谈。请审核后锁定或调整，再发布。",
                 f"/events/{event['id']}")


@endpoint("organizer")
async def event_open(request: Request):
    """draft -> open: invited SMEs may send meeting requests for this event."""
    db = db_of(request)
    event = _event_or_404(db, request)
    await _act(request, _events_module().open_requests, event["id"])
    return _done(request, "已开放对接申请：受邀中小企业可就本场活动提交对接申请。",
                 f"/events/{event['id']}")


def _int_list(raw: str, what: str) -> list[int]:
    try:
        return [int(x) for x in split_list(raw.replace(" ", "、"))]
    except ValueError:
        raise WebError(f"{what}请填写数字，多个用顿号分隔。", 422)


@endpoint("organizer")
async def event_constraints(request: Request):
    """Pairing inputs: a must-meet pair, a firm's unavailable slots, a leader's tables."""
    db = db_of(request)
    event = _event_or_404(db, request)
    form = await auth.read_form(request)
    kind = str(form.get("kind", ""))
    events = _events_module()
    if kind == "must_meet":
        await _act(request, events.add_must_meet, event["id"], str(form.get("leader", "")),
                   str(form.get("sme", "")), status=422)
        message = "已设为必见：配对时优先安排。"
    elif kind == "unavailable":
        slots = _int_list(str(form.get("slots", "")), "轮次")
        await _act(request, events.set_unavailable, event["id"], str(form.get("firm", "")), slots,
                   status=422)
        message = "已更新不可参加的轮次。"
    elif kind == "tables":
        tables = _int_list(str(form.get("tables", "")), "桌号")
        await _act(request, events.set_leader_tables, event["id"], str(form.get("leader", "")),
                   tables, status=422)
        message = "已更新链主企业的洽谈桌。"
    else:
        raise WebError("未知的操作。", 422)
    return _done(request, message, f"/events/{event['id']}?tab=firms")


@endpoint("organizer")
async def event_publish(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    await _act(request, _events_module().publish, event["id"])
    return _done(request, "日程已发布，参会企业可在“活动日程”中查看。", f"/events/{event['id']}")


def _meeting_or_404(db, event: dict, request: Request) -> dict:
    mid = path_int(request, "meeting_id", "洽谈")
    m = row(db, "SELECT * FROM meetings WHERE id = ? AND event_id = ?", [mid, event["id"]])
    if m is None:
        raise not_found("洽谈")
    return m


@endpoint("organizer")
async def meeting_lock(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    m = _meeting_or_404(db, event, request)
    await _act(request, _events_module().lock_meeting, m["id"], not m["locked"])
    if is_htmx(request):
        m = row(db, "SELECT * FROM meetings WHERE id = ?", [m["id"]])
        return render(request, "events/_lock_button.html", {"event": event, "m": m})
    return _done(request, "已锁定该场洽谈。" if not m["locked"] else "已解除锁定。",
                 f"/events/{event['id']}")


@endpoint("organizer")
async def meeting_move(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    m = _meeting_or_404(db, event, request)
    form = await auth.read_form(request)
    try:
        slot = int(form.get("slot", ""))
        table = int(form.get("table", ""))
    except ValueError:
        raise WebError("请填写目标轮次和桌号。", 422)
    if not (1 <= slot <= event["slots"] and 1 <= table <= event["tables"]):
        raise WebError(f"轮次应在 1–{event['slots']}，桌号应在 1–{event['tables']}。", 422)
    await _act(request, _events_module().move_meeting, m["id"], slot, table)
    return _done(request, f"已调整至第{slot}轮 {table}号桌。", f"/events/{event['id']}")


def outcome_fields(result, amount, note) -> tuple[dict, dict]:
    """({result, amount, note}, field -> fault) for a meeting outcome, from the form or the
    API (amount in 万元: a number, a numeric string or empty)."""
    errors = {}
    result = str(result or "")
    if result not in OUTCOME_NAMES:
        errors["result"] = "请选择对接结果（" + "、".join(OUTCOME_NAMES) + "）。"
    value = None
    if amount is not None and str(amount).strip() != "":
        try:
            value = float(str(amount).strip())
            if not math.isfinite(value) or value < 0 or value > 1e7:
                raise ValueError
        except ValueError:
            errors["amount"] = "意向金额（万元）应为非负数。"
            value = None
    return {"result": result, "amount": value, "note": str(note or "").strip()[:500]}, errors


def save_outcome(request: Request, meeting: dict, values: dict, user: dict) -> dict:
    """events.record_outcome in one short transaction; the stored outcome row."""
    try:
        _write(request, _events_module().record_outcome, meeting["id"], values["result"],
               amount=values["amount"], note=values["note"], recorded_by=user["username"])
    except UserError as exc:
        raise WebError(exc.message, 409)
    return row(db_of(request), "SELECT * FROM outcomes WHERE meeting_id = ?", [meeting["id"]])


@endpoint("organizer")
async def meeting_outcome(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    m = _meeting_or_404(db, event, request)
    form = await auth.read_form(request)
    values, errors = outcome_fields(form.get("result", ""), form.get("amount", ""), form.get("note", ""))
    if errors:
        raise WebError(next(iter(errors.values())), 422)
    await run_in_threadpool(save_outcome, request, m, values, auth.current_user(request))
    return _done(request, "对接结果已记录。", f"/events/{event['id']}?tab=outcomes")


@endpoint("organizer")
async def event_checkin(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    if request.method == "POST":
        form = await auth.read_form(request)
        code = str(form.get("firm", ""))
        action = str(form.get("action", ""))
        if not row(db, "SELECT 1 AS x FROM participants WHERE event_id = ? AND credit_code = ?",
                   [event["id"], code]):
            raise not_found("参会企业")
        events = _events_module()
        actions = {"checkin": events.check_in, "noshow": events.mark_no_show,
                   "undo": events.undo_check_in}
        if action not in actions:
            raise WebError("未知的操作。", 422)
        await _act(request, actions[action], event["id"], code)
        if is_htmx(request):
            p = row(db, "SELECT p.*, f.name, f.role AS firm_role FROM participants p JOIN firms f "
                        "ON f.credit_code = p.credit_code WHERE p.event_id = ? AND p.credit_code = ?",
                    [event["id"], code])
            return render(request, "events/_checkin_row.html", {"event": event, "p": p})
        return redirect(f"/events/{event['id']}/checkin")
    participants = rows(db, "SELECT p.*, f.name, f.role AS firm_role FROM participants p JOIN firms f "
                            "ON f.credit_code = p.credit_code WHERE p.event_id = ? ORDER BY f.role, f.name",
                        [event["id"]])
    q = request.query_params.get("q", "").strip()
    if q:
        participants = [p for p in participants if q in p["name"] or q in p["credit_code"]]
    return render(request, "events/checkin.html", {"event": event, "participants": participants, "q": q})


@endpoint("organizer")
async def event_repair(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    store = request.app.state.store
    events = _events_module()

    matcher = request.app.state.matching.reader()

    def work():
        with request.app.state.matching.foreground(), store.write() as wdb:
            return events.repair(wdb, event["id"], matcher=matcher)

    try:
        out = await run_in_threadpool(work)
    except UserError as exc:
        raise WebError(exc.message, 409)
    st = out.get("stats") or {}
    return _done(request, f"补位完成：从第{st.get('from_slot', '')}轮起释放 {st.get('cancelled', 0)} 场，"
                          f"新安排 {st.get('repaired', 0)} 场。", f"/events/{event['id']}")


@endpoint("organizer")
async def event_sheet(request: Request):
    db = db_of(request)
    event = _event_or_404(db, request)
    fmt = request.path_params["fmt"]
    if fmt not in SHEET_TYPES:
        raise not_found("对接表格式")
    try:
        from matchmaker import sheets
    except ImportError:
        raise WebError("对接表导出暂未启用。", 503)
    store = request.app.state.store

    def work():
        return sheets.render_event(store.db(), event["id"], fmt)

    try:
        body = await run_in_threadpool(work)
    except AttributeError:
        raise WebError("对接表导出暂未启用。", 503)
    except UserError as exc:
        raise WebError(exc.message, 409)
    if isinstance(body, str):
        body = body.encode("utf-8")
    from urllib.parse import quote

    filename = quote(f"{event['name']}-对接表.{fmt}")
    disposition = "inline" if fmt in ("html", "pdf") else "attachment"
    return Response(body, media_type=SHEET_TYPES[fmt],
                    headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{filename}"})
