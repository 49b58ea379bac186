"""Accounts, sessions, CSRF, roles, login throttling and invitations for the web app.

Who may call a view is declared on the view with `@endpoint(...)`; the route list reads it
back (routes.py) and the authorization test walks it. Object-level checks (a leader's own
demands, an SME's own requests) happen in the views through `can_see_demand` and friends.

Passwords and API tokens go through `matchmaker.users` (argon2id hashes, SHA-256 token hashes).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from sqlite_utils import Database
from starlette.requests import Request

from matchmaker import db as dbmod
from matchmaker.web.errors import WebError, forbidden, unauthorized
from matchmaker import users as _users
from matchmaker.web.store import row, rows, scalar

ROLES = ("organizer", "leader", "sme")
ROLE_NAMES = {"organizer": "组织方", "leader": "链主企业", "sme": "中小企业"}
PUBLIC = "public"  # no login needed
ANY = "any"  # any logged-in user

THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
INVITATION_DAYS = 7
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(t: datetime | None = None) -> str:
    return (t or _now()).isoformat(timespec="seconds")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- passwords and users ------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _users.hash_password(password)


def verify_password(password_hash: str, password: str) -> bool:
    return bool(_users.verify_password(password_hash, password))


def validate_new_account(db: Database, username: str, password: str, role: str,
                         firm: str | None) -> dict[str, str]:
    """Field -> Chinese message for what is wrong with a new account (empty when fine)."""
    errors: dict[str, str] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = "请填写用户名。"
    elif len(username) > 40 or any(c.isspace() for c in username):
        errors["username"] = "用户名不能含空格，且不超过40个字符。"
    elif scalar(db, "SELECT 1 FROM users WHERE username = ?", [username]):
        errors["username"] = "该用户名已被使用，请换一个。"
    if len(password or "") < 8:
        errors["password"] = "密码至少8位。"
    if role not in ROLES:
        errors["role"] = "请选择账号类型。"
    elif role != "organizer":
        if not firm:
            errors["firm"] = "企业账号须绑定一家企业。"
        else:
            f = row(db, "SELECT role FROM firms WHERE credit_code = ?", [firm])
            if not f:
                errors["firm"] = "企业不存在。"
            elif f["role"] != role:
                errors["firm"] = "该企业的类型与账号类型不符。"
    return errors


def create_user(db: Database, username: str, password: str, role: str,
                firm: str | None = None, display_name: str | None = None) -> dict:
    """Create an account (used by the invitation page and by demo-data loading).

    `firm` is a credit code or a firm name; leaders and SMEs must have one. Raises WebError
    with a Chinese message when the account cannot be created.
    """
    if firm:
        f = dbmod.get_firm(db, firm)
        firm = f["credit_code"] if f else firm
    errors = validate_new_account(db, username, password, role, firm)
    if errors:
        raise WebError("；".join(errors.values()), 422)
    return _users.create_user(db, username.strip(), password, role, firm=firm,
                              display_name=display_name)


def get_user(db: Database, user_id: int | None = None, username: str | None = None) -> dict | None:
    if user_id is not None:
        return row(db, "SELECT * FROM users WHERE id = ?", [user_id])
    return row(db, "SELECT * FROM users WHERE username = ?", [username])


def authenticate(db: Database, username: str, password: str) -> dict | None:
    return _users.authenticate(db, username, password)


# --- API tokens ---------------------------------------------------------------------------


def create_token(db: Database, user_id: int, name: str | None = None) -> str:
    """A new API token for a user: the plain token is returned once, only its hash is kept."""
    user = get_user(db, user_id=user_id)
    return _users.create_token(db, user["username"], name=name)


def user_for_token(db: Database, token: str) -> dict | None:
    if not token:
        return None
    return _users.user_for_token(db, token)


# --- sessions and the current user --------------------------------------------------------


def session_secret(db: Database) -> str:
    """MATCHMAKER_SECRET, or a random key made once and kept in the database, so sessions
    survive restarts and every worker of one database signs alike."""
    env = os.environ.get("MATCHMAKER_SECRET")
    if env:
        return env
    key = dbmod.get_setting(db, "session_secret")
    if not key:
        candidate = secrets.token_urlsafe(48)
        with db.atomic():
            db.execute("INSERT OR IGNORE INTO settings(key, value) VALUES ('session_secret', ?)",
                       [candidate])
        key = dbmod.get_setting(db, "session_secret")
    return key


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def current_user(request: Request) -> dict | None:
    if hasattr(request.state, "user"):
        return request.state.user
    db = request.app.state.store.db()
    user = None
    token = bearer_token(request)
    if token is not None:
        user = user_for_token(db, token)
        request.state.via_token = user is not None
        if user is not None:
            _touch_token(request, token)
    elif request.session.get("uid"):
        user = get_user(db, user_id=request.session["uid"])
        if user is not None and (not user.get("active")
                                 or request.session.get("pwv") != _password_version(user)):
            user = None
        if user is None:
            request.session.clear()
    if user is not None:
        user = {k: v for k, v in user.items() if k != "password_hash"}
    request.state.user = user
    return user


def _touch_token(request: Request, token: str) -> None:
    """Note when a token was last used (shown on /account), at most once an hour per token
    so that API reads do not each become a write."""
    stale = _stamp(_now() - timedelta(hours=1))
    db = request.app.state.store.db()
    digest = _users.token_hash(token)
    last = scalar(db, "SELECT last_used_at FROM api_tokens WHERE token_hash = ?", [digest])
    if last is None or last < stale:
        with request.app.state.store.write() as wdb:
            wdb.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", [_stamp(), digest])


def _password_version(user: dict) -> str:
    # A changed password or hash invalidates sessions signed before the change.
    return sha256(user.get("password_hash") or "")[:12]


def login(request: Request, user: dict) -> None:
    # read the row again: authenticate() may have upgraded the hash after fetching it
    fresh = get_user(request.app.state.store.db(), user_id=user["id"]) or user
    request.session.clear()
    request.session["uid"] = fresh["id"]
    request.session["pwv"] = _password_version(fresh)
    request.session["csrf"] = secrets.token_urlsafe(24)
    request.state.user = None
    del request.state.user


def logout(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS or getattr(request.state, "via_token", False):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await read_form(request)
            sent = form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        raise WebError("页面已过期或来源不明（安全校验未通过），请刷新页面后重试。", 403)


MAX_UPLOAD_BYTES = 20 * 1024 * 1024


async def read_form(request: Request):
    """The request's form, parsed once; oversized or malformed bodies are refused kindly."""
    if hasattr(request.state, "form"):
        return request.state.form
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        raise WebError("上传内容超过20MB，请拆分后再上传。", 413)
    try:
        form = await request.form(max_files=5, max_fields=2000)
    except Exception:  # multipart parser errors: a user's malformed request, not our bug
        raise WebError("提交的内容无法识别，请刷新页面后重试。", 400)
    request.state.form = form
    return form


def endpoint(*roles: str, csrf: bool = True) -> Callable:
    """Declare who may call a view: PUBLIC, ANY, or roles among organizer/leader/sme.

    Anonymous callers get 401 (a redirect to the login page for browsers), the wrong role
    403; unsafe methods must carry the session's CSRF token unless authenticated by token.
    """
    allowed = set(roles) or {ANY}

    def wrap(view):
        @functools.wraps(view)
        async def guarded(request: Request):
            if PUBLIC not in allowed:
                user = current_user(request)
                if user is None:
                    raise unauthorized()
                if ANY not in allowed and user["role"] not in allowed:
                    raise forbidden()
            else:
                current_user(request)
            if csrf:
                await check_csrf(request)
            return await view(request)

        guarded.roles = frozenset(allowed)
        return guarded

    return wrap


def require_user(request: Request) -> dict:
    user = current_user(request)
    if user is None:
        raise unauthorized()
    return user


# --- object-level authorization -----------------------------------------------------------


def owns_demand(user: dict, demand: dict) -> bool:
    return user["role"] == "organizer" or (
        user["role"] == "leader" and user.get("firm") and demand["leader"] == user["firm"])


def can_view_demand(user: dict, demand: dict) -> bool:
    """Leaders see their own demands; SMEs see open ones (to request meetings)."""
    if owns_demand(user, demand):
        return True
    return user["role"] == "sme" and demand.get("status") == "open"


def require_demand_owner(user: dict, demand: dict) -> None:
    if not owns_demand(user, demand):
        raise forbidden("只有发布该需求的链主企业和组织方可以查看或修改。")


# --- login throttling ---------------------------------------------------------------------


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled(db: Database, username: str, ip: str) -> bool:
    """Five failures for one username from one address within 15 minutes lock that pair
    until the window passes; a success resets the count."""
    since = _stamp(_now() - THROTTLE_WINDOW)
    last_ok = scalar(db, "SELECT MAX(at) FROM login_attempts WHERE username = ? AND ip = ? "
                         "AND ok = 1", [username, ip])
    floor = max(since, last_ok or "")
    failures = scalar(db, "SELECT COUNT(*) FROM login_attempts WHERE username = ? AND ip = ? "
                          "AND ok = 0 AND at > ?", [username, ip, floor])
    return failures >= THROTTLE_FAILURES


def record_attempt(db: Database, username: str, ip: str, ok: bool) -> None:
    db.execute("INSERT INTO login_attempts(username, ip, at, ok) VALUES (?, ?, ?, ?)",
               [username, ip, _stamp(), 1 if ok else 0])


# --- invitations --------------------------------------------------------------------------


def create_invitation(db: Database, role: str, firm: str | None, created_by: int,
                      days: int = INVITATION_DAYS) -> str:
    """A one-time invitation; the plain token (for the link) is returned once."""
    if role not in ROLES:
        raise WebError("请选择账号类型。", 422)
    if role != "organizer":
        f = dbmod.get_firm(db, firm or "")
        if not f:
            raise WebError("请选择要绑定的企业。", 422)
        if f["role"] != role:
            raise WebError("该企业的类型与账号类型不符。", 422)
        firm = f["credit_code"]
    else:
        firm = None
    token = secrets.token_urlsafe(24)
    db["invitations"].insert({
        "token_hash": sha256(token), "role": role, "firm": firm, "created_by": created_by,
        "expires_at": _stamp(_now() + timedelta(days=days)), "used_at": None,
    })
    return token


def find_invitation(db: Database, token: str) -> dict | None:
    """The invitation for a token if it is still usable, else None."""
    inv = row(db, "SELECT * FROM invitations WHERE token_hash = ?", [sha256(token or "")])
    if inv is None or inv.get("used_at") or (inv.get("expires_at") or "") < _stamp():
        return None
    return inv


def redeem_invitation(db: Database, token: str, username: str, password: str,
                      display_name: str | None = None) -> dict:
    inv = find_invitation(db, token)
    if inv is None:
        raise WebError("邀请链接无效、已使用或已过期，请联系组织方重新邀请。", 404)
    user = create_user(db, username, password, inv["role"], firm=inv["firm"],
                       display_name=display_name)
    db.execute("UPDATE invitations SET used_at = ? WHERE id = ? AND used_at IS NULL",
               [_stamp(), inv["id"]])
    return user


def list_invitations(db: Database) -> list[dict]:
    return rows(db, "SELECT i.*, f.name AS firm_name FROM invitations i "
                    "LEFT JOIN firms f ON f.credit_code = i.firm ORDER BY i.id DESC LIMIT 100")


def roles_of(view) -> frozenset:
    return getattr(view, "roles", frozenset())


def role_names(roles: Iterable[str]) -> str:
    return "、".join(ROLE_NAMES.get(r, r) for r in roles)
