"""Login, logout, invitations, accounts and API tokens."""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from matchmaker.errors import UserError
from matchmaker.web import auth
from matchmaker.web.auth import ANY, PUBLIC, endpoint
from matchmaker.web.errors import WebError
from matchmaker.web.store import rows
from matchmaker.web.views import db_of, flash, redirect, render

HOME = {"organizer": "/dashboard", "leader": "/demands", "sme": "/recommended"}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect after login would help phishing.
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@endpoint(PUBLIC)
async def home(request: Request):
    user = auth.current_user(request)
    if user is None:
        return redirect("/login")
    return redirect(HOME[user["role"]])


@endpoint(PUBLIC)
async def login_page(request: Request):
    user = auth.current_user(request)
    if request.method == "GET":
        if user is not None:
            return redirect(_safe_next(request.query_params.get("next")) or HOME[user["role"]])
        return render(request, "login.html", {"next": request.query_params.get("next", ""),
                                              "username": ""})
    form = await auth.read_form(request)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    target = _safe_next(str(form.get("next", "")))
    db = db_of(request)
    ip = auth.client_ip(request)
    store = request.app.state.store
    if auth.throttled(db, username, ip):
        return render(request, "login.html", {
            "error": "登录失败次数过多，请15分钟后再试，或联系组织方重置密码。",
            "username": username, "next": target or ""}, status_code=429)
    def check():
        # argon2 is deliberately slow (tens of ms): keep it off the event loop
        found = auth.authenticate(store.db(), username, password) if username and password else None
        with store.write() as wdb:
            auth.record_attempt(wdb, username, ip, found is not None)
        return found

    found = await run_in_threadpool(check)
    if found is None:
        return render(request, "login.html", {"error": "用户名或密码不正确。", "username": username,
                                              "next": target or ""}, status_code=400)
    auth.login(request, found)
    return redirect(target or HOME[found["role"]])


@endpoint(PUBLIC)
async def logout(request: Request):
    auth.logout(request)
    return redirect("/login")


@endpoint(PUBLIC)
async def invite_page(request: Request):
    token = request.path_params["token"]
    db = db_of(request)
    inv = auth.find_invitation(db, token)
    if inv is None:
        raise WebError("邀请链接无效、已使用或已过期，请联系组织方重新邀请。", 404)
    firm = db.execute("SELECT name FROM firms WHERE credit_code = ?", [inv["firm"]]).fetchone() \
        if inv.get("firm") else None
    ctx = {"invitation": inv, "firm_name": firm[0] if firm else "", "token": token,
           "errors": {}, "values": {}}
    if request.method == "GET":
        return render(request, "invite.html", ctx)
    form = await auth.read_form(request)
    values = {k: str(form.get(k, "")).strip() for k in ("username", "display_name")}
    password = str(form.get("password", ""))
    errors = auth.validate_new_account(db, values["username"], password, inv["role"], inv["firm"])
    if password != str(form.get("password2", "")):
        errors["password2"] = "两次输入的密码不一致。"
    if errors:
        return render(request, "invite.html", {**ctx, "errors": errors, "values": values},
                      status_code=422)
    try:
        with request.app.state.store.write() as wdb:
            user = auth.redeem_invitation(wdb, token, values["username"], password,
                                          values["display_name"] or None)
    except UserError as exc:
        return render(request, "invite.html", {**ctx, "errors": {"username": exc.message},
                                               "values": values}, status_code=422)
    auth.login(request, user)
    flash(request, "账号已开通，欢迎使用。")
    return redirect(HOME[user["role"]])


@endpoint(ANY)
async def account(request: Request):
    user = auth.current_user(request)
    db = db_of(request)
    new_token = None
    if request.method == "POST":
        form = await auth.read_form(request)
        name = str(form.get("name", "")).strip()[:40] or "未命名"
        with request.app.state.store.write() as wdb:
            new_token = auth.create_token(wdb, user["id"], name)
    tokens = rows(db, "SELECT id, name, created_at, last_used_at FROM api_tokens "
                      "WHERE user_id = ? ORDER BY id DESC", [user["id"]])
    firm = None
    if user.get("firm"):
        r = db.execute("SELECT name FROM firms WHERE credit_code = ?", [user["firm"]]).fetchone()
        firm = r[0] if r else None
    return render(request, "account.html", {"tokens": tokens, "new_token": new_token,
                                            "firm_name": firm})


@endpoint("organizer")
async def users_page(request: Request):
    db = db_of(request)
    link = None
    errors = {}
    values = {}
    if request.method == "POST":
        form = await auth.read_form(request)
        values = {k: str(form.get(k, "")).strip() for k in ("role", "firm")}
        try:
            with request.app.state.store.write() as wdb:
                token = auth.create_invitation(wdb, values["role"], values["firm"] or None,
                                               auth.current_user(request)["id"])
            link = str(request.url_for("invite", token=token))
        except UserError as exc:
            errors["form"] = exc.message
    users = rows(db, "SELECT u.id, u.username, u.display_name, u.role, u.firm, u.active, "
                     "u.created_at, f.name AS firm_name FROM users u "
                     "LEFT JOIN firms f ON f.credit_code = u.firm ORDER BY u.role, u.id")
    firms = rows(db, "SELECT credit_code, name, role FROM firms ORDER BY role, name")
    return render(request, "users.html", {
        "users": users, "firms": firms, "invite_link": link, "errors": errors,
        "values": values, "invitations": auth.list_invitations(db)},
        status_code=422 if errors else 200)


@endpoint("organizer")
async def user_toggle(request: Request):
    from matchmaker.web.views import path_int

    uid = path_int(request, "user_id", "账号")
    me = auth.current_user(request)
    if uid == me["id"]:
        raise WebError("不能停用自己的账号。", 409)
    with request.app.state.store.write() as wdb:
        found = wdb.execute("SELECT active FROM users WHERE id = ?", [uid]).fetchone()
        if found is None:
            raise WebError("账号不存在。", 404)
        wdb.execute("UPDATE users SET active = ? WHERE id = ?", [0 if found[0] else 1, uid])
    flash(request, "账号状态已更新。")
    return RedirectResponse("/users", status_code=303)
