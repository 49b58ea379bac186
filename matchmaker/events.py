"""The event workflow on the database: create an event, invite firms, requests and
shortlists, run the pairing, publish, the day itself (check-in, no-shows, repair) and
outcomes with their statistics.

Every function takes the sqlite-utils ``Database`` first and raises
:class:`matchmaker.errors.UserError` (Chinese message) for anything a user did wrong. Writes
are wrapped in ``db.atomic()``: all or nothing.

Event states: ``draft`` → ``open`` (SMEs may send requests) → ``scheduled`` (paired) →
``published`` (sheets out, firms see their agendas) → ``done``.

Breaks are stored on the event as ``[{"after": slot, "minutes": m}, ...]``; they shift the
clock times of later slots (see :func:`matchmaker.sheets.slot_times`), not slot numbers.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date as _date
from datetime import datetime

from . import db as store
from . import pairing
from .errors import NotFound, UserError
from .sheets import build_context, slot_times

__all__ = [
    "STATES", "OUTCOMES", "create_event", "get_event", "update_event", "list_events",
    "open_requests", "publish", "finish", "invite", "uninvite", "participants",
    "set_leader_tables", "set_unavailable", "request_meeting", "answer_request",
    "cancel_request", "shortlist", "unshortlist", "add_must_meet", "remove_must_meet",
    "build_problem", "run_pairing", "pairing_result", "lock_meeting", "set_locked",
    "move_meeting", "add_walkin", "check_in", "mark_no_show", "undo_check_in", "repair",
    "current_slot", "record_outcome", "statistics", "sheet_context",
]

STATES = ("draft", "open", "scheduled", "published", "done")
STATE_NAMES = {"draft": "草稿", "open": "征集对接请求", "scheduled": "已排期", "published": "已发布",
               "done": "已结束"}
OUTCOMES = ("未见面", "已洽谈", "达成意向", "签约")
# Form keys some pages use; stored as the Chinese result.
OUTCOME_ALIASES = {"no_show": "未见面", "not_met": "未见面", "met": "已洽谈", "held": "已洽谈",
                   "follow_up": "已洽谈", "no_fit": "已洽谈", "intent": "达成意向",
                   "signed": "签约", "contract": "签约"}
RANK_TOP = 500   # how deep into the ranker's list pairing looks for invited SMEs


def _now() -> str:
    return store.now()


def _rows(db, sql: str, params=()) -> list[dict]:
    cur = db.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _firm(db, key: str, role: str | None = None) -> dict:
    firm = store.get_firm(db, str(key).strip())
    if firm is None:
        raise UserError(f"未找到企业：{key}")
    if role and firm["role"] != role:
        raise UserError(f"{firm['name']} 不是{'链主企业' if role == 'leader' else '中小企业'}")
    return firm


# --------------------------------------------------------------------------- events

def create_event(db, name: str, date: str, start: str, slots: int, slot_minutes: int,
                 tables: int, venue: str | None = None, chains: list[str] | None = None,
                 breaks: list[dict] | None = None, max_per_sme: int = 3,
                 relevance_floor: float | None = None) -> int:
    """Create an event in state ``draft`` and return its id.

    date ``YYYY-MM-DD``; start ``HH:MM``; ``slots`` meetings of ``slot_minutes`` each at
    ``tables`` numbered tables; ``breaks`` as in the module docstring; ``relevance_floor``
    defaults to :data:`matchmaker.pairing.DEFAULT_RELEVANCE_FLOOR`."""
    name = (name or "").strip()
    if not name:
        raise UserError("请填写活动名称")
    try:
        _date.fromisoformat(str(date))
    except ValueError:
        raise UserError(f"日期格式应为 YYYY-MM-DD：{date}")
    try:
        datetime.strptime(str(start), "%H:%M")
    except ValueError:
        raise UserError(f"开始时间格式应为 HH:MM：{start}")
    for label, v, lo, hi in (("洽谈轮次", slots, 1, 100), ("每轮时长（分钟）", slot_minutes, 5, 240),
                             ("洽谈桌数", tables, 1, 1000), ("每家中小企业洽谈上限", max_per_sme, 1, 100)):
        if not isinstance(v, int) or not lo <= v <= hi:
            raise UserError(f"{label}应为 {lo}–{hi} 之间的整数")
    breaks = _check_breaks(breaks or [], slots)
    floor = pairing.DEFAULT_RELEVANCE_FLOOR if relevance_floor is None else float(relevance_floor)
    with db.atomic():
        table = db["events"]
        table.insert({
            "name": name, "date": str(date), "venue": venue or "", "start": str(start),
            "slots": slots, "slot_minutes": slot_minutes, "tables": tables,
            "breaks": store.json_text(breaks), "chains": store.json_text(list(chains or [])), "status": "draft",
            "relevance_floor": floor, "max_per_sme": max_per_sme, "created_at": _now()})
        return table.last_pk


def _check_breaks(breaks, slots):
    out = []
    for b in breaks:
        try:
            after, minutes = int(b["after"]), int(b["minutes"])
        except (KeyError, TypeError, ValueError):
            raise UserError("休息时段应写成“第几轮之后、休息几分钟”")
        if not 1 <= after < slots or not 1 <= minutes <= 240:
            raise UserError(f"休息时段不合理：第{after}轮之后休息{minutes}分钟")
        out.append({"after": after, "minutes": minutes})
    return out


def get_event(db, event_id: int) -> dict:
    """The event as a dict (breaks and chains decoded); NotFound if there is none."""
    rows = _rows(db, "SELECT * FROM events WHERE id = ?", [event_id])
    if not rows:
        raise NotFound(f"未找到对接会：{event_id}")
    ev = rows[0]
    ev["breaks"] = store.json_value(ev.get("breaks"), [])
    ev["chains"] = store.json_value(ev.get("chains"), [])
    if ev.get("relevance_floor") is None:
        ev["relevance_floor"] = pairing.DEFAULT_RELEVANCE_FLOOR
    if not ev.get("max_per_sme"):
        ev["max_per_sme"] = 3
    return ev


def list_events(db) -> list[dict]:
    """All events, newest first."""
    return [get_event(db, r["id"]) for r in _rows(db, "SELECT id FROM events ORDER BY date DESC, id DESC")]


def update_event(db, event_id: int, **fields) -> dict:
    """Change name, date, venue, start, slots, slot_minutes, tables, breaks, chains,
    max_per_sme or relevance_floor — before the schedule is published."""
    ev = get_event(db, event_id)
    if ev["status"] in ("published", "done"):
        raise UserError("对接会已发布，不能再修改基本信息")
    allowed = {"name", "date", "venue", "start", "slots", "slot_minutes", "tables", "breaks",
               "chains", "max_per_sme", "relevance_floor"}
    unknown = set(fields) - allowed
    if unknown:
        raise UserError("不能修改：" + "、".join(sorted(unknown)))
    merged = {k: ev[k] for k in allowed} | fields
    # Re-validate everything through the same checks as creation.
    try:
        _date.fromisoformat(str(merged["date"]))
        datetime.strptime(str(merged["start"]), "%H:%M")
    except ValueError:
        raise UserError("日期格式应为 YYYY-MM-DD，开始时间格式应为 HH:MM")
    slots = merged["slots"]
    breaks = _check_breaks(merged["breaks"] or [], slots)
    with db.atomic():
        for k in ("slots", "slot_minutes", "tables", "max_per_sme"):
            if not isinstance(merged[k], int) or merged[k] < 1:
                raise UserError("轮次、时长、桌数和上限应为正整数")
        used = max((t for p in participants(db, event_id, "leader") for t in p["tables"]), default=0)
        if merged["tables"] < used:
            raise UserError(f"已分配到 {used} 号桌，洽谈桌数不能少于 {used}")
        row = {k: merged[k] for k in allowed}
        row["breaks"] = store.json_text(breaks)
        row["chains"] = store.json_text(list(merged["chains"] or []))
        db["events"].update(event_id, row)
    return get_event(db, event_id)


def _set_status(db, event_id: int, status: str, allowed_from: tuple[str, ...]) -> None:
    ev = get_event(db, event_id)
    if ev["status"] not in allowed_from:
        raise UserError(f"对接会当前为“{STATE_NAMES.get(ev['status'], ev['status'])}”，"
                        f"不能改为“{STATE_NAMES[status]}”")
    with db.atomic():
        db["events"].update(event_id, {"status": status})


def open_requests(db, event_id: int) -> None:
    """draft → open: invited SMEs may now send meeting requests."""
    _set_status(db, event_id, "open", ("draft",))


def publish(db, event_id: int) -> None:
    """scheduled → published: the schedule is final; firms see their agendas."""
    ev = get_event(db, event_id)
    if ev["status"] == "scheduled" and not _rows(db, "SELECT 1 AS x FROM meetings WHERE event_id = ? LIMIT 1", [event_id]):
        raise UserError("尚无洽谈安排，不能发布")
    _set_status(db, event_id, "published", ("scheduled",))


def finish(db, event_id: int) -> None:
    """published → done."""
    _set_status(db, event_id, "done", ("published",))


# --------------------------------------------------------------------------- participants

def invite(db, event_id: int, firms: list[str]) -> list[str]:
    """Invite firms (by 企业名称 or 统一社会信用代码), leaders and SMEs alike; returns their
    credit codes in the given order. A new leader gets the next free table. Unknown firms
    raise UserError and nothing is invited. Inviting a firm twice changes nothing."""
    ev = get_event(db, event_id)
    if ev["status"] in ("published", "done"):
        raise UserError("对接会已发布，不能再邀请企业")
    found, missing = [], []
    for key in firms:
        firm = store.get_firm(db, str(key).strip())
        (found if firm else missing).append(firm or key)
    if missing:
        raise UserError("未找到企业：" + "、".join(str(m) for m in missing))
    codes = []
    with db.atomic():
        existing = {p["credit_code"]: p for p in participants(db, event_id)}
        used = {t for p in existing.values() for t in p["tables"]}
        for firm in found:
            code = firm["credit_code"]
            codes.append(code)
            if code in existing:
                continue
            role = "leader" if firm["role"] in ("leader", "链主企业") else "sme"
            tables = []
            if role == "leader":
                free = [t for t in range(1, ev["tables"] + 1) if t not in used]
                if not free:
                    raise UserError(f"洽谈桌已分配完（共 {ev['tables']} 张），无法再为 {firm['name']} 安排桌位")
                tables = [free[0]]
                used.add(free[0])
            db["participants"].insert({"event_id": event_id, "credit_code": code, "role": role,
                                       "tables": store.json_text(tables), "checked_in": 0, "no_show": 0,
                                       "invited_at": _now()})
            existing[code] = {"credit_code": code, "tables": tables}
    return codes


def uninvite(db, event_id: int, firm: str) -> None:
    """Withdraw an invitation (before publishing); the firm's meetings go with it."""
    ev = get_event(db, event_id)
    if ev["status"] in ("published", "done"):
        raise UserError("对接会已发布，请在现场标记缺席")
    code = _firm(db, firm)["credit_code"]
    with db.atomic():
        ids = [r["id"] for r in _rows(db, "SELECT id FROM meetings WHERE event_id = ? AND (leader = ? OR sme = ?)",
                                     [event_id, code, code])]
        for mid in ids:
            db.execute("DELETE FROM outcomes WHERE meeting_id = ?", [mid])
            db.execute("DELETE FROM meetings WHERE id = ?", [mid])
        db.execute("DELETE FROM unavailability WHERE event_id = ? AND credit_code = ?", [event_id, code])
        db.execute("DELETE FROM participants WHERE event_id = ? AND credit_code = ?", [event_id, code])


def participants(db, event_id: int, role: str | None = None) -> list[dict]:
    """Invited firms with name, role, tables (list), checked_in, no_show, blocked slots."""
    sql = ("SELECT p.*, f.name FROM participants p JOIN firms f ON f.credit_code = p.credit_code "
           "WHERE p.event_id = ?" + (" AND p.role = ?" if role else "") + " ORDER BY p.rowid")
    out = _rows(db, sql, [event_id, role] if role else [event_id])
    blocked = defaultdict(list)
    for r in _rows(db, "SELECT credit_code, slot FROM unavailability WHERE event_id = ? ORDER BY slot", [event_id]):
        blocked[r["credit_code"]].append(r["slot"])
    for p in out:
        p["tables"] = store.json_value(p.get("tables"), [])
        p["unavailable"] = blocked.get(p["credit_code"], [])
    return out


def set_leader_tables(db, event_id: int, leader: str, tables: list[int]) -> None:
    """Give a leader one or more tables (several 对接人 meet in parallel); kept all day."""
    ev = get_event(db, event_id)
    code = _firm(db, leader, "leader")["credit_code"]
    tables = sorted({int(t) for t in tables})
    if not tables:
        raise UserError("每家链主企业至少需要一张洽谈桌")
    if tables[0] < 1 or tables[-1] > ev["tables"]:
        raise UserError(f"桌号应在 1–{ev['tables']} 之间")
    with db.atomic():
        mine = _rows(db, "SELECT * FROM participants WHERE event_id = ? AND credit_code = ?", [event_id, code])
        if not mine:
            raise UserError("该链主企业未受邀参加本次对接会")
        for p in participants(db, event_id, "leader"):
            if p["credit_code"] != code and set(p["tables"]) & set(tables):
                raise UserError(f"{sorted(set(p['tables']) & set(tables))[0]} 号桌已分给 {p['name']}")
        db.execute("UPDATE participants SET tables = ? WHERE event_id = ? AND credit_code = ?",
                   [store.json_text(tables), event_id, code])


def set_unavailable(db, event_id: int, firm: str, slots: list[int]) -> None:
    """Replace the slots a participant cannot attend (1-based)."""
    ev = get_event(db, event_id)
    code = _firm(db, firm)["credit_code"]
    slots = sorted({int(s) for s in slots})
    if slots and (slots[0] < 1 or slots[-1] > ev["slots"]):
        raise UserError(f"轮次应在 1–{ev['slots']} 之间")
    if not _rows(db, "SELECT 1 AS x FROM participants WHERE event_id = ? AND credit_code = ?", [event_id, code]):
        raise UserError("该企业未受邀参加本次对接会")
    with db.atomic():
        db.execute("DELETE FROM unavailability WHERE event_id = ? AND credit_code = ?", [event_id, code])
        for s in slots:
            db["unavailability"].insert({"event_id": event_id, "credit_code": code, "slot": s})


# --------------------------------------------------------------------------- requests

def request_meeting(db, sme: str, demand_id: str, message: str = "",
                    event_id: int | None = None) -> int:
    """An SME asks to meet the leader that posted ``demand_id``, with a message. Returns the
    request id (status ``pending``). With ``event_id`` the request is for that event, which
    must be open and have both firms invited."""
    code = _firm(db, sme, "sme")["credit_code"]
    demand = store.get_demand(db, demand_id)
    if demand is None:
        raise UserError(f"未找到需求：{demand_id}")
    if demand.get("status") == "closed":
        raise UserError("该需求已关闭")
    message = (message or "").strip()
    if len(message) > 1000:
        raise UserError("留言请控制在 1000 字以内")
    if event_id is not None:
        ev = get_event(db, event_id)
        if ev["status"] not in ("draft", "open", "scheduled"):
            raise UserError("该对接会已不再接受对接请求")
        invited = {p["credit_code"] for p in participants(db, event_id)}
        if code not in invited or demand["leader"] not in invited:
            raise UserError("双方均受邀参会后才能提出对接请求")
    dup = _rows(db, "SELECT id FROM meeting_requests WHERE sme = ? AND demand_id = ? AND "
                    "status IN ('pending', 'accepted') AND (event_id IS ? OR event_id = ?)",
                [code, demand_id, event_id, event_id])
    if dup:
        raise UserError("已就该需求提出过对接请求")
    with db.atomic():
        table = db["meeting_requests"]
        table.insert({"event_id": event_id, "sme": code, "leader": demand["leader"],
                                       "demand_id": demand_id, "message": message,
                                       "status": "pending", "created_at": _now()})
        return table.last_pk


def answer_request(db, request_id: int, accept: bool, leader: str | None = None) -> None:
    """The leader accepts or declines a pending request. ``leader`` (credit code), when
    given, must be the request's leader (the web passes the logged-in firm)."""
    rows = _rows(db, "SELECT * FROM meeting_requests WHERE id = ?", [request_id])
    if not rows:
        raise NotFound("未找到该对接请求")
    req = rows[0]
    if leader is not None and req["leader"] != leader:
        raise UserError("只能答复发给本企业的对接请求", 403)
    if req["status"] not in ("pending", "accepted", "declined"):
        raise UserError("该请求已撤回")
    with db.atomic():
        db["meeting_requests"].update(request_id, {"status": "accepted" if accept else "declined",
                                                   "answered_at": _now()})


def cancel_request(db, request_id: int, sme: str | None = None) -> None:
    """The SME withdraws its request."""
    rows = _rows(db, "SELECT * FROM meeting_requests WHERE id = ?", [request_id])
    if not rows:
        raise NotFound("未找到该对接请求")
    if sme is not None and rows[0]["sme"] != sme:
        raise UserError("只能撤回本企业的对接请求", 403)
    with db.atomic():
        db["meeting_requests"].update(request_id, {"status": "cancelled", "answered_at": _now()})


def shortlist(db, leader: str, demand_id: str, sme: str) -> None:
    """A leader puts an SME from the demand's ranked list on its shortlist. At an event
    where both are invited, a shortlisted pair is placed like an accepted request."""
    lcode = _firm(db, leader, "leader")["credit_code"]
    scode = _firm(db, sme, "sme")["credit_code"]
    demand = store.get_demand(db, demand_id)
    if demand is None or demand["leader"] != lcode:
        raise UserError("只能为本企业发布的需求加入候选")
    with db.atomic():
        db.execute("INSERT INTO shortlists (leader, demand_id, sme, created_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (demand_id, sme) DO NOTHING", [lcode, demand_id, scode, _now()])


def unshortlist(db, leader: str, demand_id: str, sme: str) -> None:
    """Remove an SME from a demand's shortlist."""
    lcode = _firm(db, leader, "leader")["credit_code"]
    scode = _firm(db, sme, "sme")["credit_code"]
    with db.atomic():
        db.execute("DELETE FROM shortlists WHERE leader = ? AND demand_id = ? AND sme = ?",
                   [lcode, demand_id, scode])


def add_must_meet(db, event_id: int, leader: str, sme: str, demand_id: str | None = None) -> None:
    """The organizer requires a pair to meet (placed first, even below the floor)."""
    get_event(db, event_id)
    lcode = _firm(db, leader, "leader")["credit_code"]
    scode = _firm(db, sme, "sme")["credit_code"]
    invited = {p["credit_code"] for p in participants(db, event_id)}
    if lcode not in invited or scode not in invited:
        raise UserError("双方均受邀参会后才能设为必见")
    with db.atomic():
        db.execute("INSERT INTO must_meets (event_id, leader, sme, demand_id) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (event_id, leader, sme) DO UPDATE SET demand_id = excluded.demand_id",
                   [event_id, lcode, scode, demand_id])


def remove_must_meet(db, event_id: int, leader: str, sme: str) -> None:
    """Drop a must-meet pair."""
    lcode = _firm(db, leader)["credit_code"]
    scode = _firm(db, sme)["credit_code"]
    with db.atomic():
        db.execute("DELETE FROM must_meets WHERE event_id = ? AND leader = ? AND sme = ?",
                   [event_id, lcode, scode])


# --------------------------------------------------------------------------- pairing

def _matcher_for(db):
    from .service import build_matcher

    return build_matcher(store.fetch_firms(db), store.fetch_demands(db), store.fetch_relations(db))


def build_problem(db, event_id: int, max_per_sme: int | None = None, matcher=None,
                  locked_only: bool = True) -> pairing.Problem:
    """The pairing problem of a stored event: invited leaders and their tables, invited SMEs,
    candidates from the ranker (each open demand of each leader ranked, restricted to the
    invited SMEs), accepted requests and shortlists (placed first), the organizer's
    must-meets, pending/declined requests, blocked slots and locked meetings."""
    ev = get_event(db, event_id)
    people = participants(db, event_id)
    leaders = {p["credit_code"]: p["tables"] for p in people if p["role"] == "leader" and p["tables"]}
    smes = [p["credit_code"] for p in people if p["role"] == "sme"]
    sme_set = set(smes)
    demands = [d for d in store.fetch_demands(db) if d["leader"] in leaders and d.get("status") != "closed"]
    if matcher is None and demands and smes:
        matcher = _matcher_for(db)
    candidates = []
    for d in demands:
        for m in matcher.rank_smes(d["demand_id"], top=RANK_TOP, among=sme_set) if matcher else []:
            if m.credit_code in sme_set:
                candidates.append(pairing.Candidate(d["leader"], m.credit_code, d["demand_id"],
                                                    round(float(m.score), 6), m.reasons))
    reqs = _rows(db, "SELECT * FROM meeting_requests WHERE (event_id = ? OR event_id IS NULL) "
                     "ORDER BY id", [event_id])
    reqs = [r for r in reqs if r["leader"] in leaders and r["sme"] in sme_set]
    accepted = [(r["leader"], r["sme"], r["demand_id"]) for r in reqs if r["status"] == "accepted"]
    accepted += [(r["leader"], r["sme"], r["demand_id"]) for r in _rows(
        db, "SELECT * FROM shortlists ORDER BY rowid") if r["leader"] in leaders and r["sme"] in sme_set]
    pending = [(r["leader"], r["sme"], r["demand_id"]) for r in reqs if r["status"] == "pending"]
    excluded = [(r["leader"], r["sme"]) for r in reqs if r["status"] == "declined"]
    must = [(r["leader"], r["sme"], r["demand_id"]) for r in _rows(
        db, "SELECT * FROM must_meets WHERE event_id = ? ORDER BY rowid", [event_id])]
    unavailable = defaultdict(set)
    for p in people:
        unavailable[p["credit_code"]].update(p["unavailable"])
    locked = [pairing.Meeting(r["slot"], r["table_no"], r["leader"], r["sme"], r["demand_id"],
                              r["score"] or 0.0, "locked", store.json_value(r["reasons"], None))
              for r in _rows(db, "SELECT * FROM meetings WHERE event_id = ? AND locked = 1 "
                                 "AND status != 'cancelled' ORDER BY slot, table_no", [event_id])]
    return pairing.Problem(
        slots=ev["slots"], leader_tables=leaders, smes=smes, candidates=candidates,
        accepted=accepted, must_meet=must, pending=pending, excluded=excluded,
        unavailable={k: v for k, v in unavailable.items() if v},
        max_per_sme=int(max_per_sme or ev["max_per_sme"] or 3),
        relevance_floor=float(ev["relevance_floor"]), locked=locked)


_SOURCE = {"locked": None, "request": "pairing", "must": "pairing", "pairing": "pairing",
           "repair": "repair"}


def run_pairing(db, event_id: int, max_per_sme: int | None = None, matcher=None) -> dict:
    """Pair the event: build the problem, solve it, replace the unlocked meetings with the
    new schedule (locked ones stay), move the event to ``scheduled`` and return the
    ``pair --format json`` object of INTERCHANGE.md (plus ``open_cells``, ``unplaced`` with
    Chinese reasons, ``waitlist`` and ``stats``)."""
    ev = get_event(db, event_id)
    if ev["status"] in ("published", "done"):
        raise UserError("对接会已发布，不能整体重排；请在现场用补位功能调整")
    if max_per_sme is not None and not 1 <= int(max_per_sme) <= 100:
        raise UserError("每家中小企业洽谈上限应为 1–100")
    if not any(p["role"] == "leader" for p in participants(db, event_id)):
        raise UserError("尚未邀请链主企业")
    problem = build_problem(db, event_id, max_per_sme=max_per_sme, matcher=matcher)
    schedule = pairing.solve(problem)
    with db.atomic():
        db.execute("DELETE FROM outcomes WHERE meeting_id IN (SELECT id FROM meetings "
                   "WHERE event_id = ? AND locked = 0)", [event_id])
        db.execute("DELETE FROM meetings WHERE event_id = ? AND locked = 0", [event_id])
        for m in schedule.meetings:
            if m.kind == "locked":
                continue
            db["meetings"].insert({"event_id": event_id, "slot": m.slot, "table_no": m.table,
                                   "leader": m.leader, "sme": m.sme, "demand_id": m.demand_id,
                                   "score": m.score, "reasons": store.json_text(m.reasons or {}),
                                   "locked": 0, "status": "scheduled",
                                   "source": "manual" if m.kind == "must" else "pairing"})
        if max_per_sme is not None:
            db["events"].update(event_id, {"max_per_sme": int(max_per_sme)})
        db["events"].update(event_id, {"status": "scheduled"})
        report = {"unplaced": [u.__dict__ for u in schedule.unplaced],
                  "waitlist": schedule.waitlist, "stats": schedule.stats}
        store.set_setting(db, f"pairing_report:{event_id}", store.json_text(report))
    return pairing_result(db, event_id)


def pairing_result(db, event_id: int) -> dict:
    """The stored schedule as the ``pair --format json`` object (INTERCHANGE.md), with
    names and demand titles added to each meeting, and the last run's report."""
    ev = get_event(db, event_id)
    times = {t["slot"]: t for t in slot_times(ev["start"], ev["slot_minutes"], ev["slots"], ev["breaks"])}
    rows = _rows(db, "SELECT m.*, l.name AS leader_name, s.name AS sme_name, d.title AS demand_title "
                     "FROM meetings m JOIN firms l ON l.credit_code = m.leader "
                     "JOIN firms s ON s.credit_code = m.sme LEFT JOIN demands d ON d.demand_id = m.demand_id "
                     "WHERE m.event_id = ? AND m.status != 'cancelled' ORDER BY m.slot, m.table_no",
                 [event_id])
    meetings = [{"slot": r["slot"], "start": times[r["slot"]]["start"], "end": times[r["slot"]]["end"],
                 "table": r["table_no"], "leader": r["leader"], "sme": r["sme"],
                 "demand_id": r["demand_id"], "score": None if r["score"] is None else round(r["score"], 6),
                 "id": r["id"], "leader_name": r["leader_name"], "sme_name": r["sme_name"],
                 "demand_title": r["demand_title"] or "", "locked": bool(r["locked"]),
                 "status": r["status"], "source": r["source"]}
                for r in rows]
    people = participants(db, event_id)
    met = {m["sme"] for m in meetings if m["status"] != "no_show"}
    report = store.json_value(store.get_setting(db, f"pairing_report:{event_id}"), {})
    busy = {(m["slot"], m["table"]) for m in meetings}
    blocked = {p["credit_code"]: set(p["unavailable"]) for p in people}
    open_cells = [{"slot": s, "table": t, "leader": p["credit_code"]}
                  for s in range(1, ev["slots"] + 1) for p in people if p["role"] == "leader"
                  for t in p["tables"] if (s, t) not in busy and s not in blocked[p["credit_code"]]]
    open_cells.sort(key=lambda c: (c["slot"], c["table"]))
    event = {k: ev[k] for k in ("id", "name", "date", "venue", "start", "slots", "slot_minutes",
                                "tables", "breaks", "status", "max_per_sme", "relevance_floor")}
    return {"event": event, "meetings": meetings,
            "unmatched_smes": [p["credit_code"] for p in people
                               if p["role"] == "sme" and p["credit_code"] not in met],
            "table_leaders": {str(t): p["credit_code"] for p in people if p["role"] == "leader"
                              for t in p["tables"]},
            "open_cells": open_cells,
            "unplaced": report.get("unplaced", []), "waitlist": report.get("waitlist", []),
            "stats": report.get("stats", {})}


def _meeting(db, meeting_id: int) -> dict:
    rows = _rows(db, "SELECT * FROM meetings WHERE id = ?", [meeting_id])
    if not rows:
        raise NotFound("未找到该场洽谈")
    return rows[0]


def lock_meeting(db, meeting_id: int, locked: bool = True) -> None:
    """Lock (or unlock) a meeting: a locked meeting keeps its slot and table in every later
    pairing run and repair."""
    _meeting(db, meeting_id)
    with db.atomic():
        db["meetings"].update(meeting_id, {"locked": 1 if locked else 0})


set_locked = lock_meeting


def _check_cell(db, ev: dict, meeting_id: int | None, slot: int, table: int, leader: str, sme: str):
    if not 1 <= slot <= ev["slots"]:
        raise UserError(f"轮次应在 1–{ev['slots']} 之间")
    people = {p["credit_code"]: p for p in participants(db, ev["id"])}
    if leader not in people or sme not in people:
        raise UserError("双方均需受邀参会")
    if table not in people[leader]["tables"]:
        raise UserError(f"{table} 号桌不是该链主企业的洽谈桌")
    for code in (leader, sme):
        if slot in people[code]["unavailable"]:
            raise UserError(f"{people[code]['name']} 在第{slot}轮不可参加")
    others = [m for m in _rows(db, "SELECT * FROM meetings WHERE event_id = ? AND status != 'cancelled'",
                               [ev["id"]]) if m["id"] != meeting_id]
    if any(m["slot"] == slot and m["table_no"] == table for m in others):
        raise UserError(f"第{slot}轮 {table} 号桌已有洽谈")
    if any(m["slot"] == slot and m["sme"] == sme for m in others):
        raise UserError(f"{people[sme]['name']} 在第{slot}轮已有洽谈")
    if any(m["leader"] == leader and m["sme"] == sme for m in others):
        raise UserError("双方已安排过洽谈")


def move_meeting(db, meeting_id: int, slot: int, table: int) -> None:
    """Move a meeting by hand to another slot/table of the same leader; it becomes locked.
    Refused (UserError) if the cell is taken, a firm is busy or blocked in that slot."""
    m = _meeting(db, meeting_id)
    ev = get_event(db, m["event_id"])
    _check_cell(db, ev, meeting_id, int(slot), int(table), m["leader"], m["sme"])
    with db.atomic():
        db["meetings"].update(meeting_id, {"slot": int(slot), "table_no": int(table), "locked": 1})


def add_walkin(db, event_id: int, slot: int, table: int, sme: str, demand_id: str | None = None,
               score: float | None = None) -> int:
    """Put a walk-in SME into an open cell (slot, table) on the day; returns the meeting id.
    The SME is invited if it was not."""
    ev = get_event(db, event_id)
    scode = _firm(db, sme, "sme")["credit_code"]
    owner = [p for p in participants(db, event_id, "leader") if int(table) in p["tables"]]
    if not owner:
        raise UserError(f"{table} 号桌没有安排链主企业")
    leader = owner[0]["credit_code"]
    if scode not in {p["credit_code"] for p in participants(db, event_id, "sme")}:
        if ev["status"] == "done":
            raise UserError("对接会已结束")
        with db.atomic():
            db["participants"].insert({"event_id": event_id, "credit_code": scode, "role": "sme",
                                       "tables": "[]", "checked_in": 1, "no_show": 0,
                                       "invited_at": _now()})
    _check_cell(db, ev, None, int(slot), int(table), leader, scode)
    with db.atomic():
        meetings = db["meetings"]
        meetings.insert({"event_id": event_id, "slot": int(slot), "table_no": int(table),
                               "leader": leader, "sme": scode, "demand_id": demand_id,
                               "score": score, "reasons": "{}", "locked": 1,
                               "status": "scheduled", "source": "walkin"})
        return meetings.last_pk


# --------------------------------------------------------------------------- the day

def _participant(db, event_id: int, firm: str) -> str:
    code = _firm(db, firm)["credit_code"]
    if not _rows(db, "SELECT 1 AS x FROM participants WHERE event_id = ? AND credit_code = ?", [event_id, code]):
        raise UserError("该企业未受邀参加本次对接会")
    return code


def check_in(db, event_id: int, firm: str) -> None:
    """Mark a participant as arrived (clears a no-show mark)."""
    code = _participant(db, event_id, firm)
    with db.atomic():
        db.execute("UPDATE participants SET checked_in = 1, no_show = 0 WHERE event_id = ? AND credit_code = ?",
                   [event_id, code])


def mark_no_show(db, event_id: int, firm: str) -> None:
    """Mark a participant as absent. Its meetings from the current slot on become
    ``no_show``; call :func:`repair` to fill the freed cells."""
    ev = get_event(db, event_id)
    code = _participant(db, event_id, firm)
    with db.atomic():
        db.execute("UPDATE participants SET checked_in = 0, no_show = 1 WHERE event_id = ? AND credit_code = ?",
                   [event_id, code])
        db.execute("UPDATE meetings SET status = 'no_show' WHERE event_id = ? AND (leader = ? OR sme = ?) "
                   "AND slot >= ? AND status = 'scheduled'", [event_id, code, code, current_slot(db, ev)])


def undo_check_in(db, event_id: int, firm: str) -> None:
    """Clear check-in and no-show marks (a mistaken click); no-show meetings that have not
    been re-paired become scheduled again."""
    code = _participant(db, event_id, firm)
    with db.atomic():
        db.execute("UPDATE participants SET checked_in = 0, no_show = 0 WHERE event_id = ? AND credit_code = ?",
                   [event_id, code])
        for m in _rows(db, "SELECT * FROM meetings WHERE event_id = ? AND status = 'no_show' "
                           "AND (leader = ? OR sme = ?)", [event_id, code, code]):
            clash = _rows(db, "SELECT 1 AS x FROM meetings WHERE event_id = ? AND id != ? AND slot = ? "
                              "AND status = 'scheduled' AND (table_no = ? OR sme = ?)",
                          [event_id, m["id"], m["slot"], m["table_no"], m["sme"]])
            if not clash:
                db["meetings"].update(m["id"], {"status": "scheduled"})


def current_slot(db, ev: dict | int, now: datetime | None = None) -> int:
    """The first slot that has not started yet on the event's day (Asia/Shanghai time);
    1 before the day, slots + 1 after it. Meetings already marked held push it on."""
    if not isinstance(ev, dict):
        ev = get_event(db, ev)
    from zoneinfo import ZoneInfo

    now = now or datetime.now(ZoneInfo("Asia/Shanghai"))
    day = _date.fromisoformat(ev["date"])
    held = _rows(db, "SELECT MAX(slot) AS s FROM meetings WHERE event_id = ? AND status = 'held'", [ev["id"]])
    after_held = (held[0]["s"] or 0) + 1
    if now.date() < day:
        by_clock = 1
    elif now.date() > day:
        by_clock = ev["slots"] + 1
    else:
        hm = now.strftime("%H:%M")
        times = slot_times(ev["start"], ev["slot_minutes"], ev["slots"], ev["breaks"])
        by_clock = next((t["slot"] for t in times if t["start"] > hm), ev["slots"] + 1)
    return max(after_held, by_clock)


def repair(db, event_id: int, from_slot: int | None = None, matcher=None) -> dict:
    """Re-pair the cells freed by no-shows from ``from_slot`` on (default: the next slot that
    has not started), from the waitlist of relevant SMEs that are checked in (all invited
    SMEs if nobody has been checked in). No other meeting moves. Returns the
    ``pair`` object with ``stats.repaired`` new and ``stats.cancelled`` freed meetings."""
    ev = get_event(db, event_id)
    if ev["status"] not in ("scheduled", "published"):
        raise UserError("请先完成排期后再进行现场补位")
    start = int(from_slot) if from_slot is not None else current_slot(db, ev)
    if start > ev["slots"]:
        raise UserError("所有轮次均已开始，无法补位")
    people = participants(db, event_id)
    absent = {p["credit_code"] for p in people if p["no_show"]}
    checked = {p["credit_code"] for p in people if p["checked_in"] and p["role"] == "sme"}
    problem = build_problem(db, event_id, matcher=matcher)
    stored = _rows(db, "SELECT * FROM meetings WHERE event_id = ? AND status IN ('scheduled', 'held', 'no_show') "
                       "ORDER BY slot, table_no", [event_id])
    current = [pairing.Meeting(r["slot"], r["table_no"], r["leader"], r["sme"], r["demand_id"],
                               r["score"] or 0.0, "locked") for r in stored]
    problem.locked = []
    sched = pairing.Schedule(current, [], [], [], [], {})
    fixed, cancelled = pairing.repair(problem, sched, absent=absent, from_slot=start,
                                      present=checked or None)
    with db.atomic():
        for m in cancelled:
            db.execute("UPDATE meetings SET status = 'no_show' WHERE event_id = ? AND slot = ? AND table_no = ? "
                       "AND status IN ('scheduled', 'no_show')", [event_id, m.slot, m.table])
        for m in fixed.meetings:
            if m.kind == "repair":
                db["meetings"].insert({"event_id": event_id, "slot": m.slot, "table_no": m.table,
                                       "leader": m.leader, "sme": m.sme, "demand_id": m.demand_id,
                                       "score": m.score, "reasons": store.json_text(m.reasons or {}),
                                       "locked": 1, "status": "scheduled", "source": "repair"})
    out = pairing_result(db, event_id)
    out["stats"] = dict(out.get("stats") or {}, repaired=fixed.stats.get("repaired", 0),
                        cancelled=len(cancelled), from_slot=start)
    return out


# --------------------------------------------------------------------------- outcomes

def record_outcome(db, meeting_id: int, result: str, amount: float | None = None,
                   note: str = "", recorded_by: str | None = None) -> None:
    """Record a meeting's outcome: 未见面 / 已洽谈 / 达成意向 / 签约 (amount in 万元). The
    meeting becomes ``held`` (or ``no_show`` for 未见面). 签约 adds a 供应 relation
    SME → leader (source ``outcome``) so the graph learns the new supply link."""
    result = OUTCOME_ALIASES.get(result, result)
    if result not in OUTCOMES:
        raise UserError("对接结果应为：" + "、".join(OUTCOMES))
    if amount is not None:
        try:
            amount = float(amount)
        except (TypeError, ValueError):
            raise UserError("金额（万元）应为数字")
        if amount < 0:
            raise UserError("金额（万元）不能为负数")
    m = _meeting(db, meeting_id)
    ev = get_event(db, m["event_id"])
    with db.atomic():
        db.execute("INSERT INTO outcomes (meeting_id, result, amount, note, recorded_by, recorded_at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meeting_id) DO UPDATE SET result = excluded.result, "
                   "amount = excluded.amount, note = excluded.note, recorded_by = excluded.recorded_by, "
                   "recorded_at = excluded.recorded_at",
                   [meeting_id, result, amount, (note or "")[:2000], recorded_by, _now()])
        db["meetings"].update(meeting_id, {"status": "no_show" if result == "未见面" else "held"})
        if result == "签约":
            store.upsert_relations(db, [{"firm_a": m["sme"], "firm_b": m["leader"], "relation": "供应",
                                         "year": int(ev["date"][:4]), "source": "outcome"}],
                                   source="outcome")


def statistics(db, event_id: int | None = None) -> dict:
    """Outcome figures for one event (or all): ``total`` and ``by_chain`` (the demand's first
    chain, else the leader's) each with meetings scheduled/held, intents, contracts, amount
    (万元), and SMEs that entered a leader's supply chain (distinct signed pairs)."""
    sql = ("SELECT m.id, m.leader, m.sme, m.status, m.demand_id, o.result, o.amount, "
           "d.chains AS d_chains, f.chains AS l_chains FROM meetings m "
           "LEFT JOIN outcomes o ON o.meeting_id = m.id LEFT JOIN demands d ON d.demand_id = m.demand_id "
           "JOIN firms f ON f.credit_code = m.leader WHERE m.status != 'cancelled'")
    rows = _rows(db, sql + (" AND m.event_id = ?" if event_id is not None else ""),
                 [event_id] if event_id is not None else [])

    def blank():
        return {"meetings": 0, "held": 0, "intents": 0, "contracts": 0, "amount": 0.0,
                "smes_joined": set()}

    total, by_chain = blank(), defaultdict(blank)
    for r in rows:
        chains = store.json_value(r["d_chains"], []) or store.json_value(r["l_chains"], []) or ["未分类"]
        for acc in (total, by_chain[chains[0]]):
            acc["meetings"] += 1
            if r["result"] in ("已洽谈", "达成意向", "签约") or r["status"] == "held":
                acc["held"] += 1
            if r["result"] == "达成意向":
                acc["intents"] += 1
            if r["result"] == "签约":
                acc["contracts"] += 1
                acc["smes_joined"].add((r["sme"], r["leader"]))
            if r["result"] in ("达成意向", "签约") and r["amount"]:
                acc["amount"] += float(r["amount"])

    def done(acc):
        return dict(acc, amount=round(acc["amount"], 2), smes_joined=len(acc["smes_joined"]))

    return {"total": done(total), "by_chain": {c: done(a) for c, a in sorted(by_chain.items())}}


# --------------------------------------------------------------------------- sheets

def sheet_context(db, event_id: int) -> dict:
    """Everything the sheets render (see :func:`matchmaker.sheets.build_context`), from the
    stored event: names, demand titles, SME profiles and match reasons."""
    ev = get_event(db, event_id)
    result = pairing_result(db, event_id)
    people = participants(db, event_id)
    firms = {}
    for p in people:
        f = store.get_firm(db, p["credit_code"])
        if f:
            firms[p["credit_code"]] = f
    demand_ids = {m["demand_id"] for m in result["meetings"] if m["demand_id"]}
    demands = {d: store.get_demand(db, d) or {} for d in demand_ids}
    reasons = {r["id"]: r["reasons"] for r in _rows(db, "SELECT id, reasons FROM meetings WHERE event_id = ?",
                                                    [event_id])}
    meetings = [dict(m, reasons=store.json_value(reasons.get(m["id"]), {}))
                for m in result["meetings"] if m["status"] != "no_show"]
    times = slot_times(ev["start"], ev["slot_minutes"], ev["slots"], ev["breaks"])
    unplaced = [u for u in result["unplaced"]]
    return build_context(result["event"], times, meetings, firms, result["table_leaders"],
                         result["unmatched_smes"], demands, unplaced, result["waitlist"])
