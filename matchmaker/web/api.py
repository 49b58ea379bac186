"""JSON API under /api, described by the OpenAPI document below (served at /api/openapi.json).

Authentication: `Authorization: Bearer <token>` (tokens from /account or `matchmaker token
create`) or the login session. Without credentials: 401; with the wrong ones: 403.
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
from matchmaker.web.errors import WebError, forbidden, not_found
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
    return JSONResponse({"event": _event_json(event), "meetings": [
        {"id": m["id"], "slot": m["slot"],
         "start": slot_time(event["start"], event["slot_minutes"], m["slot"], event.get("breaks")).split("–")[0],
         "end": slot_time(event["start"], event["slot_minutes"], m["slot"], event.get("breaks")).split("–")[-1],
         "table": m["table_no"], "leader": m["leader"], "sme": m["sme"], "demand_id": m["demand_id"],
         "score": m["score"], "locked": bool(m["locked"]), "status": m["status"]}
        for m in meetings]})


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
             "description": "链主企业需求、中小企业推荐与对接活动的只读接口。使用 `Authorization: Bearer <token>` "
                            "或登录会话认证；未认证返回401，无权访问返回403。"},
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
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
