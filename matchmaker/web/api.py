"""JSON API under /api, described by the OpenAPI document below (served at /api/openapi.json).

Authentication: `Authorization: Bearer <token>` (tokens from /account or `matchmaker token
create`) or the login session (writes then carry the X-CSRF-Token header). Without
credentials: 401; with the wrong ones: 403; a faulty body: 422 naming each faulty field.
Authorization is the pages' own: a leader sees its demands and their ranked SMEs, an SME
sees open demands, its recommendations and its own meetings, an organizer sees everything.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from matchmaker import db as dbmod
from matchmaker.web import auth
from matchmaker.web.auth import ANY, PUBLIC, endpoint
from matchmaker.web.errors import WebError, forbidden, invalid, not_found
from matchmaker.web.store import row, rows
from matchmaker.web.views import EVENT_VISIBLE as VISIBLE_TO_FIRMS
from matchmaker.web.views import firm_names, path_int

MAX_TOP = 200


def _int_query(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WebError(f"参数 {name} 应为整数。", 400)
    if not lo <= value <= hi:
        raise WebError(f"参数 {name} 应在 {lo} 到 {hi} 之间。", 400)
    return value


def _demand_json(d: dict, leader_name: str | None = None) -> dict:
    out = {k: d.get(k) for k in ("demand_id", "leader", "kind", "title", "description", "specs",
                                 "chains", "cooperation", "deadline", "status")}
    if leader_name is not None:
        out["leader_name"] = leader_name
    return out


def _firm_json(f: dict) -> dict:
    return {k: f.get(k) for k in ("credit_code", "name", "role", "tiers", "chains", "segments",
                                  "products", "technologies", "description", "district")}


def _db(request: Request):
    return request.app.state.store.db()


@endpoint(PUBLIC)
async def openapi(request: Request):
    return JSONResponse(OPENAPI)


@endpoint(PUBLIC)
async def health(request: Request):
    """For monitoring and deployment scripts: is the ranking model fitted, and has the start-up
    warm-up (every demand ranked once) finished? Says nothing about the data."""
    matching = getattr(request.app.state, "matching", None)
    ready = bool(matching and matching.ready.is_set())
    model = "none" if not ready else ("ready" if matching.model is not None else "empty")
    return JSONResponse({"status": "ok", "model": model,
                         "warmed": bool(ready and matching.warmed.is_set())})


@endpoint(ANY)
async def me(request: Request):
    user = auth.current_user(request)
    return JSONResponse({"username": user["username"], "role": user["role"], "firm": user.get("firm"),
                         "display_name": user.get("display_name")})


@endpoint(ANY)
async def demands(request: Request):
    user = auth.current_user(request)
    db = _db(request)
    limit = _int_query(request, "limit", 100, 1, 1000)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    status = request.query_params.get("status")
    if status is not None and status not in ("open", "closed", "draft"):
        raise WebError("参数 status 应为 open、closed 或 draft。", 400)
    where, params = [], []
    if user["role"] == "leader":
        where.append("leader = ?")
        params.append(user["firm"])
    elif user["role"] == "sme":
        where.append("status = 'open'")
    if status:
        where.append("status = ?")
        params.append(status)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    found = [dbmod.demand_record(r) for r in rows(
        db, "SELECT * FROM demands" + clause + " ORDER BY rowid LIMIT ? OFFSET ?", params + [limit, offset])]
    names = firm_names(db, [d["leader"] for d in found])
    return JSONResponse({"demands": [_demand_json(d, names.get(d["leader"], "")) for d in found],
                         "limit": limit, "offset": offset})


def _visible_demand(request: Request) -> dict:
    user = auth.current_user(request)
    demand = dbmod.get_demand(_db(request), request.path_params["demand_id"])
    if demand is None:
        raise not_found("需求")
    if not auth.can_view_demand(user, demand):
        raise forbidden("无权查看该需求。")
    return demand


@endpoint(ANY)
async def demand(request: Request):
    d = _visible_demand(request)
    names = firm_names(_db(request), [d["leader"]])
    return JSONResponse({"demand": _demand_json(d, names.get(d["leader"], ""))})


@endpoint("leader", "organizer")
async def demand_matches(request: Request):
    """Ranked SMEs for a demand: only for the leader that posted it and organizers."""
    user = auth.current_user(request)
    db = _db(request)
    d = dbmod.get_demand(db, request.path_params["demand_id"])
    if d is None:
        raise not_found("需求")
    auth.require_demand_owner(user, d)
    top = _int_query(request, "top", 20, 1, MAX_TOP)
    matching = request.app.state.matching

    def work():
        try:
            return matching.rank_smes(d["demand_id"], top=top)
        except KeyError:
            return matching.rank_smes(d, top=top)

    matches = await run_in_threadpool(work)
    names = firm_names(db, [m["credit_code"] for m in matches])
    return JSONResponse({
        "demand": _demand_json(d, firm_names(db, [d["leader"]]).get(d["leader"], "")),
        "matches": [{"credit_code": m["credit_code"], "name": names.get(m["credit_code"], ""),
                     "score": round(float(m["score"]), 6), "reasons": m.get("reasons") or {}}
                    for m in matches]})


@endpoint(ANY)
async def firms(request: Request):
    """Organizers: the directory (filter by role, search by q); others: their own firm."""
    user = auth.current_user(request)
    db = _db(request)
    limit = _int_query(request, "limit", 100, 1, 1000)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    role = request.query_params.get("role")
    if role is not None and role not in ("leader", "sme"):
        raise WebError("参数 role 应为 leader 或 sme。", 400)
    q = (request.query_params.get("q") or "")[:50]
    where, params = [], []
    if user["role"] != "organizer":
        where.append("credit_code = ?")
        params.append(user.get("firm") or "")
    if role:
        where.append("role = ?")
        params.append(role)
    if q:
        where.append("(name LIKE ? OR credit_code LIKE ?)")
        params += [f"%{q}%", f"%{q}%"]
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    found = [dbmod.firm_record(r) for r in rows(
        db, "SELECT * FROM firms" + clause + " ORDER BY rowid LIMIT ? OFFSET ?", params + [limit, offset])]
    return JSONResponse({"firms": [_firm_json(f) for f in found], "limit": limit, "offset": offset})


@endpoint(ANY)
async def firm_recommendations(request: Request):
    """Open demands ranked for an SME: for that SME's users and organizers."""
    user = auth.current_user(request)
    db = _db(request)
    code = request.path_params["credit_code"]
    firm = row(db, "SELECT credit_code, role FROM firms WHERE credit_code = ?", [code])
    if firm is None:
        raise not_found("企业")
    if user["role"] != "organizer" and user.get("firm") != code:
        raise forbidden("只能查看本企业的推荐。")
    if firm["role"] != "sme":
        raise WebError("只为中小企业推荐需求。", 400)
    top = _int_query(request, "top", 20, 1, MAX_TOP)
    matches = await run_in_threadpool(request.app.state.matching.rank_demands, code, top)
    open_ids = {r["demand_id"]: r["title"] for r in rows(db, "SELECT demand_id, title FROM demands "
                                                              "WHERE status = 'open'")}
    return JSONResponse({"credit_code": code, "demands": [
        {"demand_id": m["demand_id"], "title": open_ids[m["demand_id"]],
         "score": round(float(m["score"]), 6), "reasons": m.get("reasons") or {}}
        for m in matches if m["demand_id"] in open_ids]})


def _event_json(e: dict) -> dict:
    out = {k: e.get(k) for k in ("id", "name", "date", "venue", "start", "slots", "slot_minutes",
                                 "tables", "status", "max_per_sme")}
    try:
        out["chains"] = json.loads(e.get("chains") or "[]")
    except ValueError:
        out["chains"] = []
    return out


@endpoint(ANY)
async def events(request: Request):
    """Organizers: every event; firms: the events they are invited to."""
    user = auth.current_user(request)
    db = _db(request)
    if user["role"] == "organizer":
        found = rows(db, "SELECT * FROM events ORDER BY date DESC, id DESC")
    else:
        found = rows(db, "SELECT e.* FROM events e JOIN participants p ON p.event_id = e.id "
                         "WHERE p.credit_code = ? ORDER BY e.date DESC", [user.get("firm") or ""])
    return JSONResponse({"events": [_event_json(e) for e in found]})





@endpoint(ANY)
async def event_meetings(request: Request):
    """Organizers: every meeting; firms: their own meetings once the event is published."""
    user = auth.current_user(request)
    db = _db(request)
    eid = path_int(request, "event_id", "活动")
    event = row(db, "SELECT * FROM events WHERE id = ?", [eid])
    if event is None:
        raise not_found("活动")
    params: list = [eid]
    sql = "SELECT * FROM meetings WHERE event_id = ?"
    if user["role"] != "organizer":
        invited = row(db, "SELECT 1 AS x FROM participants WHERE event_id = ? AND credit_code = ?",
                      [eid, user.get("firm") or ""])
        if invited is None:
            raise forbidden("贵企业未受邀参加该活动。")
        if event.get("status") not in VISIBLE_TO_FIRMS:
            raise forbidden("活动日程尚未发布。")
        sql += " AND (leader = ? OR sme = ?)"
        params += [user["firm"], user["firm"]]
    from matchmaker.web.pages_sme import slot_time

    meetings = rows(db, sql + " ORDER BY slot, table_no", params)
    # one clock reading per slot (the meetings of a slot share it): [start, end], or [""]
    times = {s: slot_time(event["start"], event["slot_minutes"], s, event.get("breaks")).split("–")
             for s in {m["slot"] for m in meetings}}
    return JSONResponse({"event": _event_json(event), "meetings": [
        {"id": m["id"], "slot": m["slot"],
         "start": times[m["slot"]][0], "end": times[m["slot"]][-1],
         "table": m["table_no"], "leader": m["leader"], "sme": m["sme"], "demand_id": m["demand_id"],
         "score": m["score"], "locked": bool(m["locked"]), "status": m["status"]}
        for m in meetings]})


# --- writes -------------------------------------------------------------------------------
# Each write reuses the pages' own checks and library calls (pages_demands, pages_sme,
# pages_events -> db.py / events.py) and the same object-level authorization; only the
# body format differs: a JSON object whose faulty fields are named in the 422 answer.

MAX_BODY = 256 * 1024
_TYPES = {"string": (str,), "array": (list,), "integer": (int,), "number": (int, float),
          "string|null": (str, type(None)), "integer|null": (int, type(None)),
          "number|null": (int, float, type(None))}
_TYPE_NAMES = {"string": "字符串", "array": "字符串数组", "integer": "整数", "number": "数字",
               "string|null": "字符串或 null", "integer|null": "整数或 null",
               "number|null": "数字或 null"}


def _reject_constant(name: str):
    raise ValueError(name)  # NaN / Infinity are not JSON


async def _json_body(request: Request, fields: dict[str, str], required=()) -> dict:
    """The body as a JSON object holding only `fields` (name -> type), each of its type;
    400 when it is not a JSON object, 422 naming every faulty field."""
    if "form" in request.headers.get("content-type", ""):
        # a form body may already be consumed (the CSRF check reads forms)
        raise WebError("请求体应为 JSON 对象（Content-Type: application/json）。", 400)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise WebError("请求体过大。", 413)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise WebError("请求体过大。", 413)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise WebError("请求体应为 JSON 对象（Content-Type: application/json）。", 400)
    if not isinstance(data, dict):
        raise WebError("请求体应为 JSON 对象。", 400)
    errors = {}
    for name, value in data.items():
        kind = fields.get(name)
        if kind is None:
            errors[str(name)[:50]] = "未知字段。"
        elif isinstance(value, bool) or not isinstance(value, _TYPES[kind]):
            errors[name] = f"应为{_TYPE_NAMES[kind]}。"
        elif kind == "array" and not all(isinstance(v, str) for v in value):
            errors[name] = "应为字符串数组。"
        elif isinstance(value, str) and "\x00" in value:
            errors[name] = "含有不可见的控制字符。"
    for name in required:
        if name not in data:
            errors.setdefault(name, "必填。")
    if errors:
        raise invalid(errors)
    return data


class _Form(dict):
    """A JSON body read through the interface the page helpers expect from a form."""

    def getlist(self, key: str) -> list:
        value = self.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, (list, tuple)) else [value]


DEMAND_FIELDS = {"title": "string", "kind": "string", "description": "string", "specs": "string",
                 "chains": "array", "cooperation": "array", "deadline": "string|null",
                 "status": "string"}


def _demand_form(fields: dict) -> _Form:
    form = _Form(fields)
    if form.get("deadline") is None:
        form["deadline"] = ""
    return form


def _stored_demand(request: Request, demand_id: str, status: int) -> JSONResponse:
    d = dbmod.get_demand(_db(request), demand_id)
    names = firm_names(_db(request), [d["leader"]])
    return JSONResponse({"demand": _demand_json(d, names.get(d["leader"], ""))}, status_code=status)


@endpoint("leader", "organizer")
async def demand_create(request: Request):
    """A leader posts a demand of its own (an organizer names the leader)."""
    from matchmaker.web.pages_demands import new_demand_from_form, save_demand

    user = auth.current_user(request)
    named = ("leader",) if user["role"] == "organizer" else ()  # an organizer names the leader
    data = await _json_body(request, {**DEMAND_FIELDS, **{k: "string" for k in named}},
                            required=("title", "kind", "description") + named)
    rec, errors = new_demand_from_form(request, user, _demand_form(data))
    status = data.get("status", "open")
    if status not in ("open", "draft"):
        errors["status"] = "新需求的状态应为 open（发布）或 draft（草稿）。"
    if errors:
        raise invalid(errors)
    rec["status"] = status
    saved = await run_in_threadpool(save_demand, request, rec, True)
    return _stored_demand(request, saved["demand_id"], 201)


@endpoint("leader", "organizer")
async def demand_update(request: Request):
    """Edit a demand in part (only the fields given), or close/reopen it through `status`."""
    from matchmaker.web.pages_demands import demand_from_form, save_demand

    user = auth.current_user(request)
    demand = dbmod.get_demand(_db(request), request.path_params["demand_id"])
    if demand is None:
        raise not_found("需求")
    auth.require_demand_owner(user, demand)
    data = await _json_body(request, DEMAND_FIELDS)
    current = {k: demand.get(k) for k in DEMAND_FIELDS}
    rec, errors = demand_from_form(_demand_form({**current, **data}), demand["leader"], base=demand)
    # only the fields sent are judged: a stored demand may predate today's rules
    errors = {k: v for k, v in errors.items() if k in data}
    status = data.get("status", demand["status"])
    if status not in ("open", "closed", "draft"):
        errors["status"] = "状态应为 open（征集中）、closed（已关闭）或 draft（草稿）。"
    if errors:
        raise invalid(errors)
    rec["status"] = status
    await run_in_threadpool(save_demand, request, rec, False)
    return _stored_demand(request, demand["demand_id"], 200)


def _request_json(r: dict) -> dict:
    return {k: r.get(k) for k in ("id", "demand_id", "sme", "leader", "event_id", "message",
                                  "status", "created_at", "answered_at")}


@endpoint(ANY)
async def requests_list(request: Request):
    """Meeting requests: an SME's own, those sent to a leader's firm, all for organizers."""
    user = auth.current_user(request)
    status = request.query_params.get("status")
    if status is not None and status not in ("pending", "accepted", "declined", "cancelled"):
        raise WebError("参数 status 应为 pending、accepted、declined 或 cancelled。", 400)
    limit = _int_query(request, "limit", 100, 1, 1000)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    where, params = [], []
    if user["role"] != "organizer":
        where.append("sme = ?" if user["role"] == "sme" else "leader = ?")
        params.append(user.get("firm") or "")
    if status:
        where.append("status = ?")
        params.append(status)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    found = rows(_db(request), "SELECT * FROM meeting_requests" + clause
                 + " ORDER BY id DESC LIMIT ? OFFSET ?", params + [limit, offset])
    return JSONResponse({"requests": [_request_json(r) for r in found], "limit": limit,
                         "offset": offset})


@endpoint("sme")
async def request_create(request: Request):
    """An SME asks the leader of an open demand for a meeting, with a message."""
    from matchmaker.web.pages_sme import (meeting_request_fields, open_demand_for_request,
                                          save_meeting_request)

    user = auth.current_user(request)
    data = await _json_body(request, {"demand_id": "string", "message": "string",
                                      "event_id": "integer|null"},
                            required=("demand_id", "message"))
    db = _db(request)
    try:
        demand = open_demand_for_request(db, data["demand_id"])
    except WebError as exc:
        if exc.status_code == 404:
            raise invalid({"demand_id": "需求不存在或未在征集中。"})
        raise
    message = data["message"].strip()
    event = data.get("event_id")
    event_id, errors = meeting_request_fields(db, user["firm"], message,
                                              "" if event is None else str(event))
    if errors:
        raise invalid(errors)
    rid = await run_in_threadpool(save_meeting_request, request, user["firm"], demand["demand_id"],
                                  message, event_id)
    created = row(db, "SELECT * FROM meeting_requests WHERE id = ?", [rid])
    return JSONResponse({"request": _request_json(created)}, status_code=201)


@endpoint("leader", "organizer")
async def request_answer(request: Request):
    """The leader the request was sent to (or an organizer) accepts or declines it."""
    from matchmaker.web.pages_sme import answerable_request, save_answer

    user = auth.current_user(request)
    req = answerable_request(request, user)
    data = await _json_body(request, {"answer": "string"}, required=("answer",))
    answered = await run_in_threadpool(save_answer, request, user, req, data["answer"])
    return JSONResponse({"request": _request_json(answered)})


@endpoint("organizer")
async def meeting_outcome(request: Request):
    """An organizer records what a meeting came to (未见面、已洽谈、达成意向、签约)."""
    from matchmaker.web.pages_events import outcome_fields, save_outcome

    db = _db(request)
    eid = path_int(request, "event_id", "活动")
    mid = path_int(request, "meeting_id", "洽谈")
    meeting = row(db, "SELECT * FROM meetings WHERE id = ? AND event_id = ?", [mid, eid])
    if meeting is None:
        raise not_found("洽谈")
    data = await _json_body(request, {"result": "string", "amount": "number|null", "note": "string"},
                            required=("result",))
    values, errors = outcome_fields(data["result"], data.get("amount"), data.get("note", ""))
    if errors:
        raise invalid(errors)
    stored = await run_in_threadpool(save_outcome, request, meeting, values, auth.current_user(request))
    return JSONResponse({"outcome": {"meeting_id": mid, "result": stored["result"],
                                     "amount": stored["amount"], "note": stored["note"] or "",
                                     "recorded_by": stored["recorded_by"],
                                     "recorded_at": stored["recorded_at"]}})


# --- the OpenAPI document -----------------------------------------------------------------

_ERR = {"description": "错误", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_AUTH_ERRORS = {"401": dict(_ERR, description="未提供有效凭据"), "403": dict(_ERR, description="无权访问")}
_LIST = {"type": "array", "items": {"type": "string"}}


def _ok(schema_ref: str, description: str) -> dict:
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}}


def _param(name: str, where: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}


_LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "每页条数")
_OFFSET = _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "跳过条数")
_TOP = _param("top", "query", {"type": "integer", "minimum": 1, "maximum": MAX_TOP, "default": 20}, "返回前N个")
_DEMAND_ID = _param("demand_id", "path", {"type": "string"}, "需求编号")

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "matchmaker 融链固链对接平台 API", "version": "1.0.0",
             "description": ("链主企业需求、中小企业推荐与对接活动的接口：查询，以及发布和修改需求、申请对接、"
                             "答复申请、记录洽谈结果。使用 `Authorization: Bearer <token>`，或登录会话加请求头 "
                             "`X-CSRF-Token`；未认证返回401，无权访问返回403，字段有误返回422（errors 逐项说明）。")},
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/api/health": {"get": {
            "summary": "服务状态", "operationId": "health", "security": [],
            "description": "无需登录。model：ready 模型已就绪，empty 尚无可排序的企业，none 正在启动；"
                           "warmed：启动后的预排序是否已完成。",
            "responses": {**_ok("Health", "服务状态")}}},
        "/api/me": {"get": {"summary": "当前账号", "operationId": "me",
                            "responses": {**_ok("Me", "当前账号"), **_AUTH_ERRORS}}},
        "/api/demands": {"get": {
            "summary": "需求列表", "operationId": "listDemands",
            "description": "链主企业：本企业的需求；中小企业：征集中的需求；组织方：全部。",
            "parameters": [_param("status", "query", {"type": "string", "enum": ["open", "closed", "draft"]}, "需求状态"),
                           _LIMIT, _OFFSET],
            "responses": {**_ok("DemandList", "需求列表"), "400": _ERR, **_AUTH_ERRORS}}},
        "/api/demands/{demand_id}": {"get": {
            "summary": "需求详情", "operationId": "getDemand", "parameters": [_DEMAND_ID],
            "responses": {**_ok("DemandOne", "需求"), "404": _ERR, **_AUTH_ERRORS}}},
        "/api/demands/{demand_id}/matches": {"get": {
            "summary": "为需求推荐的中小企业（含匹配理由）", "operationId": "demandMatches",
            "description": "仅发布该需求的链主企业和组织方可见。",
            "parameters": [_DEMAND_ID, _TOP],
            "responses": {**_ok("Matches", "排序后的中小企业"), "400": _ERR, "404": _ERR, **_AUTH_ERRORS}}},
        "/api/firms": {"get": {
            "summary": "企业名录", "operationId": "listFirms",
            "description": "组织方：全部企业；企业账号：仅本企业。",
            "parameters": [_param("role", "query", {"type": "string", "enum": ["leader", "sme"]}, "企业类型"),
                           _param("q", "query", {"type": "string"}, "按名称或信用代码搜索"), _LIMIT, _OFFSET],
            "responses": {**_ok("FirmList", "企业列表"), "400": _ERR, **_AUTH_ERRORS}}},
        "/api/firms/{credit_code}/recommendations": {"get": {
            "summary": "为中小企业推荐的需求", "operationId": "firmRecommendations",
            "parameters": [_param("credit_code", "path", {"type": "string"}, "统一社会信用代码"), _TOP],
            "responses": {**_ok("Recommendations", "推荐的需求"), "400": _ERR, "404": _ERR, **_AUTH_ERRORS}}},
        "/api/events": {"get": {
            "summary": "对接活动列表", "operationId": "listEvents",
            "responses": {**_ok("EventList", "活动列表"), **_AUTH_ERRORS}}},
        "/api/events/{event_id}/meetings": {"get": {
            "summary": "活动的洽谈安排", "operationId": "eventMeetings",
            "description": "组织方：全部洽谈；企业：活动发布后本企业的洽谈。",
            "parameters": [_param("event_id", "path", {"type": "integer", "minimum": 0}, "活动编号")],
            "responses": {**_ok("Meetings", "洽谈安排"), "404": _ERR, **_AUTH_ERRORS}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "matchmaker_session"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "message", "status"],
                      "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                     "status": {"type": "integer"}}},
            "Health": {"type": "object", "required": ["status", "model", "warmed"],
                       "properties": {"status": {"type": "string", "enum": ["ok"]},
                                      "model": {"type": "string", "enum": ["ready", "empty", "none"]},
                                      "warmed": {"type": "boolean"}}},
            "Me": {"type": "object", "required": ["username", "role"],
                   "properties": {"username": {"type": "string"},
                                  "role": {"type": "string", "enum": ["organizer", "leader", "sme"]},
                                  "firm": {"type": "string", "nullable": True},
                                  "display_name": {"type": "string", "nullable": True}}},
            "Demand": {"type": "object", "required": ["demand_id", "leader", "kind", "title", "status"],
                       "properties": {"demand_id": {"type": "string"}, "leader": {"type": "string"},
                                      "leader_name": {"type": "string"},
                                      "kind": {"type": "string"}, "title": {"type": "string"},
                                      "description": {"type": "string"}, "specs": {"type": "string"},
                                      "chains": _LIST, "cooperation": _LIST,
                                      "deadline": {"type": "string", "nullable": True},
                                      "status": {"type": "string", "enum": ["open", "closed", "draft"]}}},
            "DemandOne": {"type": "object", "required": ["demand"],
                          "properties": {"demand": {"$ref": "#/components/schemas/Demand"}}},
            "DemandList": {"type": "object", "required": ["demands"],
                           "properties": {"demands": {"type": "array", "items": {"$ref": "#/components/schemas/Demand"}},
                                          "limit": {"type": "integer"}, "offset": {"type": "integer"}}},
            "Reasons": {"type": "object", "description": "匹配理由：terms 命中词，path 产业链路径",
                        "properties": {"terms": _LIST, "path": _LIST}, "additionalProperties": True},
            "Match": {"type": "object", "required": ["credit_code", "name", "score", "reasons"],
                      "properties": {"credit_code": {"type": "string"}, "name": {"type": "string"},
                                     "score": {"type": "number"}, "reasons": {"$ref": "#/components/schemas/Reasons"}}},
            "Matches": {"type": "object", "required": ["demand", "matches"],
                        "properties": {"demand": {"$ref": "#/components/schemas/Demand"},
                                       "matches": {"type": "array", "items": {"$ref": "#/components/schemas/Match"}}}},
            "Firm": {"type": "object", "required": ["credit_code", "name", "role"],
                     "properties": {"credit_code": {"type": "string"}, "name": {"type": "string"},
                                    "role": {"type": "string"}, "tiers": _LIST, "chains": _LIST,
                                    "segments": _LIST, "products": {"type": "string"},
                                    "technologies": {"type": "string"}, "description": {"type": "string"},
                                    "district": {"type": "string"}}},
            "FirmList": {"type": "object", "required": ["firms"],
                         "properties": {"firms": {"type": "array", "items": {"$ref": "#/components/schemas/Firm"}},
                                        "limit": {"type": "integer"}, "offset": {"type": "integer"}}},
            "Recommendations": {"type": "object", "required": ["credit_code", "demands"], "properties": {
                "credit_code": {"type": "string"},
                "demands": {"type": "array", "items": {"type": "object", "properties": {
                    "demand_id": {"type": "string"}, "title": {"type": "string"},
                    "score": {"type": "number"}, "reasons": {"$ref": "#/components/schemas/Reasons"}}}}}},
            "Event": {"type": "object", "required": ["id", "name", "date"],
                      "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                     "date": {"type": "string"}, "venue": {"type": "string", "nullable": True},
                                     "start": {"type": "string"}, "slots": {"type": "integer"},
                                     "slot_minutes": {"type": "integer"}, "tables": {"type": "integer"},
                                     "status": {"type": "string", "nullable": True},
                                     "max_per_sme": {"type": "integer", "nullable": True}, "chains": _LIST}},
            "EventList": {"type": "object", "required": ["events"],
                          "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
            "Meetings": {"type": "object", "required": ["event", "meetings"], "properties": {
                "event": {"$ref": "#/components/schemas/Event"},
                "meetings": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "slot": {"type": "integer"}, "start": {"type": "string"},
                    "end": {"type": "string"}, "table": {"type": "integer", "nullable": True},
                    "leader": {"type": "string"}, "sme": {"type": "string"},
                    "demand_id": {"type": "string", "nullable": True},
                    "score": {"type": "number", "nullable": True}, "locked": {"type": "boolean"},
                    "status": {"type": "string", "nullable": True}}}}}},
        },
    },
}


# --- the write operations in the document -------------------------------------------------


def _body(schema_ref: str, description: str) -> dict:
    return {"required": True, "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _answer(code: str, schema_ref: str, description: str) -> dict:
    return {code: _ok(schema_ref, description)["200"]}


_WRITE_ERRORS = {"400": dict(_ERR, description="请求体不是 JSON 对象"),
                 "413": dict(_ERR, description="请求体过大"),
                 "422": dict(_ERR, description="字段有误：errors 逐项说明"), **_AUTH_ERRORS}
_STR = {"type": "string"}
_DEMAND_INPUT = {"title": {"type": "string", "description": "需求名称（80字以内）"},
                 "kind": {"type": "string", "enum": ["技术需求", "场景需求"]},
                 "description": {"type": "string", "description": "需求描述（5000字以内）"},
                 "specs": {"type": "string", "description": "技术指标"},
                 "chains": _LIST, "cooperation": _LIST,
                 "deadline": {"type": "string", "nullable": True, "description": "截止日期 YYYY-MM-DD"}}

_paths = OPENAPI["paths"]
_paths["/api/demands"]["post"] = {
    "summary": "发布需求", "operationId": "createDemand",
    "description": "链主企业发布本企业的需求；组织方须以 leader 指定链主企业。status 为 open（发布，默认）或 draft（草稿）。",
    "requestBody": _body("DemandInput", "需求内容"),
    "responses": {**_answer("201", "DemandOne", "已创建的需求"), **_WRITE_ERRORS}}
_paths["/api/demands/{demand_id}"]["patch"] = {
    "summary": "修改、关闭或重新发布需求", "operationId": "updateDemand",
    "description": "只改所给字段；status=closed 关闭需求。仅发布该需求的链主企业和组织方可改。",
    "parameters": [_DEMAND_ID], "requestBody": _body("DemandPatch", "要修改的字段"),
    "responses": {**_ok("DemandOne", "修改后的需求"), "404": _ERR, **_WRITE_ERRORS}}
_paths["/api/requests"] = {
    "get": {"summary": "对接申请列表", "operationId": "listRequests",
            "description": "中小企业：本企业提出的；链主企业：发给本企业的；组织方：全部。",
            "parameters": [_param("status", "query", {"type": "string", "enum": [
                "pending", "accepted", "declined", "cancelled"]}, "申请状态"), _LIMIT, _OFFSET],
            "responses": {**_ok("RequestList", "对接申请"), "400": _ERR, **_AUTH_ERRORS}},
    "post": {"summary": "申请对接", "operationId": "createRequest",
             "description": "中小企业就一项征集中的需求向链主企业申请对接，可指定已受邀的活动。",
             "requestBody": _body("RequestInput", "申请内容"),
             "responses": {**_answer("201", "RequestOne", "已提交的申请"),
                           "409": dict(_ERR, description="需求已关闭或已申请过"), **_WRITE_ERRORS}}}
_paths["/api/requests/{request_id}/answer"] = {"post": {
    "summary": "答复对接申请", "operationId": "answerRequest",
    "description": "收到申请的链主企业（或组织方）接受或婉拒。",
    "parameters": [_param("request_id", "path", {"type": "integer", "minimum": 0}, "申请编号")],
    "requestBody": _body("AnswerInput", "答复"),
    "responses": {**_ok("RequestOne", "答复后的申请"), "404": _ERR,
                  "409": dict(_ERR, description="申请已撤回"), **_WRITE_ERRORS}}}
_paths["/api/events/{event_id}/meetings/{meeting_id}/outcome"] = {"post": {
    "summary": "记录洽谈结果", "operationId": "recordOutcome",
    "description": "组织方记录一场洽谈的结果；再次提交即更正。",
    "parameters": [_param("event_id", "path", {"type": "integer", "minimum": 0}, "活动编号"),
                   _param("meeting_id", "path", {"type": "integer", "minimum": 0}, "洽谈编号")],
    "requestBody": _body("OutcomeInput", "洽谈结果"),
    "responses": {**_ok("OutcomeOne", "已记录的结果"), "404": _ERR,
                  "409": dict(_ERR, description="无法记录"), **_WRITE_ERRORS}}}

_schemas = OPENAPI["components"]["schemas"]
_schemas["Error"]["properties"].update({
    "field": {"type": "string", "description": "第一个有误的字段"},
    "errors": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "字段 -> 错误说明"}})
_schemas["DemandInput"] = {
    "type": "object", "additionalProperties": False, "required": ["title", "kind", "description"],
    "properties": {**_DEMAND_INPUT, "status": {"type": "string", "enum": ["open", "draft"]},
                   "leader": {"type": "string", "description": "链主企业信用代码（仅组织方填写）"}}}
_schemas["DemandPatch"] = {
    "type": "object", "additionalProperties": False,
    "properties": {**_DEMAND_INPUT, "status": {"type": "string", "enum": ["open", "closed", "draft"]}}}
_schemas["Request"] = {
    "type": "object", "required": ["id", "demand_id", "sme", "leader", "status"],
    "properties": {"id": {"type": "integer"}, "demand_id": _STR, "sme": _STR, "leader": _STR,
                   "event_id": {"type": "integer", "nullable": True},
                   "message": {"type": "string", "nullable": True},
                   "status": {"type": "string", "enum": ["pending", "accepted", "declined", "scheduled",
                                                          "cancelled"]},
                   "created_at": {"type": "string", "nullable": True},
                   "answered_at": {"type": "string", "nullable": True}}}
_schemas["RequestOne"] = {"type": "object", "required": ["request"],
                          "properties": {"request": {"$ref": "#/components/schemas/Request"}}}
_schemas["RequestList"] = {
    "type": "object", "required": ["requests"],
    "properties": {"requests": {"type": "array", "items": {"$ref": "#/components/schemas/Request"}},
                   "limit": {"type": "integer"}, "offset": {"type": "integer"}}}
_schemas["RequestInput"] = {
    "type": "object", "additionalProperties": False, "required": ["demand_id", "message"],
    "properties": {"demand_id": _STR, "message": {"type": "string", "description": "留言（1000字以内）"},
                   "event_id": {"type": "integer", "nullable": True, "description": "已受邀的活动"}}}
_schemas["AnswerInput"] = {
    "type": "object", "additionalProperties": False, "required": ["answer"],
    "properties": {"answer": {"type": "string", "enum": ["accepted", "declined"]}}}
_schemas["OutcomeInput"] = {
    "type": "object", "additionalProperties": False, "required": ["result"],
    "properties": {"result": {"type": "string", "enum": ["已洽谈", "达成意向", "签约", "未见面"]},
                   "amount": {"type": "number", "nullable": True, "minimum": 0,
                              "description": "意向或签约金额（万元）"},
                   "note": {"type": "string"}}}
_schemas["OutcomeOne"] = {
    "type": "object", "required": ["outcome"],
    "properties": {"outcome": {"type": "object", "required": ["meeting_id", "result"], "properties": {
        "meeting_id": {"type": "integer"}, "result": _STR,
        "amount": {"type": "number", "nullable": True}, "note": _STR,
        "recorded_by": {"type": "string", "nullable": True},
        "recorded_at": {"type": "string", "nullable": True}}}}}
