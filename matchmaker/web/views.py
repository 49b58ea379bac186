"""Helpers shared by the page modules: rendering, template filters, lookups, form parsing."""

from __future__ import annotations

import json
import re
from datetime import date
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request

from matchmaker import db as dbmod
from matchmaker.web import auth
from matchmaker.web.errors import not_found
from matchmaker.web.store import row, rows

TIERS = ("创新型中小企业", "专精特新中小企业", "专精特新“小巨人”", "雏鹰企业", "瞪羚企业", "独角兽企业")
KINDS = ("技术需求", "场景需求")
COOPERATION = ("联合研发", "产品采购", "技术转让", "场景开放", "技术服务", "投资合作")
QINGDAO_DISTRICTS = ("市南区", "市北区", "李沧区", "崂山区", "城阳区", "黄岛区", "西海岸新区",
                     "即墨区", "胶州市", "平度市", "莱西市", "高新区")
STATUS_NAMES = {"open": "征集中", "closed": "已关闭", "draft": "草稿"}
REQUEST_STATUS = {"pending": "待答复", "accepted": "已接受", "declined": "已婉拒",
                  "scheduled": "已排入", "cancelled": "已撤回"}
EVENT_STATUS = {"draft": "筹备中", "open": "征集对接申请", "scheduled": "已排期", "published": "已发布",
                "done": "已结束"}
# the states in which firms see their meetings (events.py publishes a final schedule)
EVENT_VISIBLE = ("published", "done")
SPLIT = re.compile(r"[；;、，,|\n]")


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200,
           headers: dict | None = None):
    return request.app.state.templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers)


def db_of(request: Request):
    return request.app.state.store.db()


def context(request: Request) -> dict:
    """Available to every template."""
    user = request.state.user if hasattr(request.state, "user") else auth.current_user(request)
    nav = _nav(user)
    path = request.url.path
    # the nav item whose link is the longest prefix of this page is the current one
    prefixes = [href for href, _, _ in nav if path == href or path.startswith(href.rstrip("/") + "/")]
    current = max(prefixes, key=len) if prefixes else None
    return {"user": user, "csrf_token": auth.csrf_token(request), "role_names": auth.ROLE_NAMES,
            "nav": nav, "nav_current": current, "path": path, "today": date.today().isoformat(),
            "flash": request.session.pop("flash", None) if "session" in request.scope else None}


def flash(request: Request, message: str, kind: str = "success") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


def _nav(user: dict | None) -> list[tuple[str, str, str]]:
    if user is None:
        return []
    role = user["role"]
    if role == "organizer":
        return [("/dashboard", "工作台", "dashboard"), ("/events", "对接活动", "events"),
                ("/firms", "企业名录", "firms"), ("/demands", "需求清单", "demands"),
                ("/chains", "产业链图谱", "chains"), ("/users", "账号管理", "users")]
    if role == "leader":
        return [("/demands", "我的需求", "demands"), ("/demands/new", "发布需求", "new"),
                ("/requests", "对接申请", "requests"), ("/agenda", "活动日程", "agenda")]
    return [("/recommended", "为您推荐的需求", "recommended"), ("/requests", "我的申请", "requests"),
            ("/agenda", "我的日程", "agenda"), ("/profile", "企业信息", "profile")]


# --- template filters ---------------------------------------------------------------------


def highlight(text: str, terms) -> Markup:
    """Escape `text` and mark the matched terms (longest first so 伺服电机 beats 电机)."""
    text = str(text or "")
    terms = sorted({t for t in (terms or []) if t and len(t.strip()) > 0}, key=len, reverse=True)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms[:40]), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last:m.start()])))
        out.append(f'<mark class="term">{escape(m.group(0))}</mark>')
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def pct(score) -> str:
    try:
        return f"{float(score) * 100:.0f}"
    except (TypeError, ValueError):
        return "–"


def joinlist(values, sep="、") -> str:
    if not values:
        return ""
    if isinstance(values, str):
        return values
    return sep.join(str(v) for v in values if v)


def truncate_cn(text, n=60) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[:n] + "…"


def fromjson(value, default=None):
    if isinstance(value, (list, dict)):
        return value
    try:
        return json.loads(value) if value else default
    except (TypeError, ValueError):
        return default


def qs(params: dict, **changes) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


FILTERS = {"highlight": highlight, "pct": pct, "joinlist": joinlist, "truncate_cn": truncate_cn,
           "fromjson": fromjson}
GLOBALS = {"TIERS": TIERS, "KINDS": KINDS, "COOPERATION": COOPERATION,
           "STATUS_NAMES": STATUS_NAMES, "REQUEST_STATUS": REQUEST_STATUS,
           "EVENT_STATUS": EVENT_STATUS, "DISTRICTS": QINGDAO_DISTRICTS, "qs": qs}


# --- lookups ------------------------------------------------------------------------------


def get_demand_or_404(db, demand_id: str) -> dict:
    demand = dbmod.get_demand(db, demand_id)
    if demand is None:
        raise not_found("需求")
    return demand


def get_firm_or_404(db, code: str) -> dict:
    firm = row(db, "SELECT credit_code FROM firms WHERE credit_code = ?", [code])
    if firm is None:
        raise not_found("企业")
    return dbmod.get_firm(db, code)


def firm_names(db, codes=None) -> dict[str, str]:
    if codes is None:
        return {r["credit_code"]: r["name"] for r in rows(db, "SELECT credit_code, name FROM firms")}
    codes = list(set(codes))
    out = {}
    for i in range(0, len(codes), 500):
        part = codes[i:i + 500]
        marks = ",".join("?" * len(part))
        for r in rows(db, f"SELECT credit_code, name FROM firms WHERE credit_code IN ({marks})", part):
            out[r["credit_code"]] = r["name"]
    return out


def firms_by_code(db, codes) -> dict[str, dict]:
    codes = list(set(codes))
    out = {}
    for i in range(0, len(codes), 500):
        part = codes[i:i + 500]
        marks = ",".join("?" * len(part))
        for r in rows(db, f"SELECT * FROM firms WHERE credit_code IN ({marks})", part):
            out[r["credit_code"]] = dbmod.firm_record(r)
    return out


PAGE_CACHE_SIZE = 256


def cached_by_data(request: Request, key: tuple, compute):
    """compute() once per version of the firms and demands (Matching.data_version: every
    edit, import or refit expires it), for page parts that depend on nothing else. The
    version is read before computing, so an edit made meanwhile is seen at the next view."""
    matching = getattr(request.app.state, "matching", None)
    if matching is None:
        return compute()
    version = matching.data_version()
    cache = request.app.state.page_cache
    hit = cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = compute()
    if len(cache) >= PAGE_CACHE_SIZE:
        cache.clear()
    cache[key] = (version, value)
    return value


def split_list(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = []
        for v in value:
            items.extend(split_list(v))
        return items
    return [v.strip() for v in SPLIT.split(str(value or "")) if v.strip()]


def int_param(request: Request, name: str, default: int, lo: int = 1, hi: int = 500) -> int:
    raw = request.query_params.get(name, "")
    try:
        value = int(raw)
    except ValueError:
        return default
    return max(lo, min(hi, value))


def path_int(request: Request, name: str, what: str = "记录") -> int:
    raw = request.path_params.get(name, "")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise not_found(what)
    if value < 0 or value > 2**62:
        raise not_found(what)
    return value


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def redirect(url: str):
    from starlette.responses import RedirectResponse

    return RedirectResponse(url, status_code=303)
