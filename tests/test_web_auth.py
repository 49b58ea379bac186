"""Login, logout, session cookie, CSRF, login throttling, invitations, account pages."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from matchmaker import db as dbmod
from matchmaker.web.app import create_app
from matchmaker.web.sample import build_sample

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build_sample(tmp_path_factory.mktemp("auth") / "web.db")


@pytest.fixture
def client(sample):
    app = create_app(sample.path, secret="auth-test-secret", fit_matcher=False)
    with TestClient(app) as c:
        yield c


def csrf_of(client, url="/login") -> str:
    return CSRF.search(client.get(url).text).group(1)


def login(client, username, password, **extra):
    token = csrf_of(client)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, **extra}, follow_redirects=False)


def test_login_sends_each_role_home_and_logout_ends_the_session(client, sample):
    homes = {"organizer": "/dashboard", "leader_a": "/demands", "sme_a": "/recommended"}
    for key, home in homes.items():
        client.cookies.clear()
        user = sample.users[key]
        resp = login(client, user["username"], user["password"])
        assert resp.status_code == 303 and resp.headers["location"] == home
        assert client.get(home).status_code == 200
        token = CSRF.search(client.get(home).text).group(1)
        resp = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert resp.headers["location"] == "/login"
        assert client.get(home, follow_redirects=False).status_code == 303


def test_session_cookie_is_httponly_and_samesite_lax(client, sample):
    user = sample.users["sme_a"]
    resp = login(client, user["username"], user["password"])
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "matchmaker_session=" in cookie


def test_wrong_password_shows_the_form_again_in_chinese(client, sample):
    resp = login(client, sample.users["sme_b"]["username"], "wrong-password")
    assert resp.status_code == 400
    assert "用户名或密码不正确" in resp.text
    assert 'value="sme_b1"' in resp.text  # the username is kept


def test_next_parameter_is_followed_only_within_the_site(client, sample):
    user = sample.users["organizer"]
    resp = login(client, user["username"], user["password"], next="/firms?q=膜")
    assert unquote(resp.headers["location"]) == "/firms?q=膜"
    client.cookies.clear()
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        resp = login(client, user["username"], user["password"], next=evil)
        assert resp.headers["location"] == "/dashboard"
        client.cookies.clear()


def test_csrf_token_is_required_on_every_form_post(client, sample):
    user = sample.users["leader_a"]
    login(client, user["username"], user["password"])
    demand = sample.demands["a_open"]
    no_token = client.post(f"/demands/{demand}/status", data={"status": "closed"}, follow_redirects=False)
    assert no_token.status_code == 403
    assert "安全校验未通过" in no_token.text
    wrong = client.post(f"/demands/{demand}/status", data={"status": "closed", "csrf_token": "forged"},
                        follow_redirects=False)
    assert wrong.status_code == 403
    db = dbmod.connect(sample.path)
    assert dbmod.get_demand(db, demand)["status"] == "open"  # nothing changed
    # htmx sends the token in a header instead of a form field
    token = csrf_of(client, "/demands")
    ok = client.post("/demands/check", data={"title": "伺服电机"}, headers={"X-CSRF-Token": token,
                                                                          "HX-Request": "true"})
    assert ok.status_code == 200
    # and the login form itself is protected (login CSRF)
    client.cookies.clear()
    resp = client.post("/login", data={"username": user["username"], "password": user["password"]},
                       follow_redirects=False)
    assert resp.status_code == 403


def test_csrf_failure_on_htmx_request_goes_to_the_flash_area(client, sample):
    user = sample.users["leader_a"]
    login(client, user["username"], user["password"])
    resp = client.post("/demands/check", data={}, headers={"HX-Request": "true"})
    assert resp.status_code == 403
    assert resp.headers["HX-Retarget"] == "#flash"
    assert "安全校验未通过" in resp.text


def test_five_failures_lock_that_username_and_address_for_a_while(sample):
    app = create_app(sample.path, secret="auth-test-secret", fit_matcher=False)
    user = sample.users["sme_c"]
    with TestClient(app, client=("10.0.0.7", 40000)) as c:
        for _ in range(5):
            assert login(c, user["username"], "bad-guess").status_code == 400
        locked = login(c, user["username"], user["password"])
        assert locked.status_code == 429
        assert "15分钟后再试" in locked.text
    # another address is not locked out by someone else's guessing
    with TestClient(app, client=("10.0.0.8", 40000)) as c:
        assert login(c, user["username"], user["password"]).status_code == 303


def test_a_success_resets_the_failure_count(sample):
    app = create_app(sample.path, secret="auth-test-secret", fit_matcher=False)
    user = sample.users["sme_b"]
    with TestClient(app, client=("10.0.0.9", 40000)) as c:
        for _ in range(4):
            login(c, user["username"], "bad-guess")
        assert login(c, user["username"], user["password"]).status_code == 303
        c.cookies.clear()
        for _ in range(4):
            login(c, user["username"], "bad-guess")
        assert login(c, user["username"], user["password"]).status_code == 303


def test_invitation_link_opens_one_account_once(client, sample):
    org = sample.users["organizer"]
    login(client, org["username"], org["password"])
    token = csrf_of(client, "/users")
    resp = client.post("/users", data={"role": "sme", "firm": sample.firms["sme_d"], "csrf_token": token})
    assert resp.status_code == 200
    link = re.search(r'data-testid="invite-link">([^<]+)<', resp.text).group(1)
    path = "/" + link.split("/", 3)[3]
    # a firm of the other kind is refused with a message, not a 500
    bad = client.post("/users", data={"role": "leader", "firm": sample.firms["sme_d"], "csrf_token": token})
    assert bad.status_code == 422 and "类型" in bad.text
    client.cookies.clear()
    page = client.get(path)
    assert page.status_code == 200 and "苏州远芯传感技术有限公司" in page.text
    form_token = CSRF.search(page.text).group(1)
    mismatch = client.post(path, data={"username": "new_sme", "password": "long-enough-1",
                                       "password2": "other", "csrf_token": form_token})
    assert mismatch.status_code == 422 and "两次输入的密码不一致" in mismatch.text
    taken = client.post(path, data={"username": "sme_a1", "password": "long-enough-1",
                                    "password2": "long-enough-1", "csrf_token": form_token})
    assert taken.status_code == 422 and "已被使用" in taken.text
    ok = client.post(path, data={"username": "new_sme", "password": "long-enough-1",
                                 "password2": "long-enough-1", "csrf_token": form_token},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/recommended"
    me = client.get("/api/me").json()
    assert me == {"username": "new_sme", "role": "sme", "firm": sample.firms["sme_d"],
                  "display_name": "苏州远芯传感技术有限公司"}
    client.cookies.clear()
    assert client.get(path).status_code == 404  # used once


def test_deactivated_account_cannot_log_in_and_loses_its_session(client, sample):
    org = sample.users["organizer"]
    target = sample.users["toggle"]
    login(client, target["username"], target["password"])
    other = TestClient(client.app)
    with other:
        login(other, org["username"], org["password"])
        token = csrf_of(other, "/users")
        assert other.post(f"/users/{target['id']}/toggle", data={"csrf_token": token},
                          follow_redirects=False).status_code == 303
        assert client.get("/dashboard", follow_redirects=False).status_code == 303  # session ended
        client.cookies.clear()
        assert login(client, target["username"], target["password"]).status_code == 400
        assert client.get("/api/me", headers={"Authorization": f"Bearer {target['token']}"}).status_code == 401
        other.post(f"/users/{target['id']}/toggle", data={"csrf_token": token})
        # an organizer cannot lock itself out
        resp = other.post(f"/users/{org['id']}/toggle", data={"csrf_token": token})
        assert resp.status_code == 409


def test_api_tokens_are_shown_once_and_work(client, sample):
    user = sample.users["leader_b"]
    login(client, user["username"], user["password"])
    token = csrf_of(client, "/account")
    resp = client.post("/account", data={"name": "ERP对接", "csrf_token": token})
    plain = re.search(r'data-testid="new-token">([^<]+)<', resp.text).group(1)
    assert "ERP对接" in resp.text
    again = client.get("/account")
    assert plain not in again.text
    client.cookies.clear()
    me = client.get("/api/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.json()["username"] == user["username"]
    db = dbmod.connect(sample.path)
    used = db.execute("SELECT last_used_at FROM api_tokens WHERE name = 'ERP对接'").fetchone()[0]
    assert used and used[:2] == "20"


def test_session_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("MATCHMAKER_SECRET", raising=False)
    sample = build_sample(tmp_path / "s.db")
    user = sample.users["sme_a"]
    with TestClient(create_app(sample.path, fit_matcher=False)) as c:
        assert login(c, user["username"], user["password"]).status_code == 303
        cookies = dict(c.cookies)
    db = dbmod.connect(sample.path)
    first = dbmod.get_setting(db, "session_secret")
    assert first and len(first) > 40
    # a restarted app signs with the same key: the browser stays logged in
    with TestClient(create_app(sample.path, fit_matcher=False), cookies=cookies) as c:
        assert c.get("/recommended", follow_redirects=False).status_code == 200
    assert dbmod.get_setting(db, "session_secret") == first


def test_security_relevant_pages_escape_user_text(client, sample):
    """Jinja autoescape is on: a firm name with markup is shown, not executed."""
    db = dbmod.connect(sample.path)
    rec = dbmod.get_firm(db, sample.firms["sme_d"])
    rec["products"] = '<script>alert("x")</script>温湿度传感器'
    with db.atomic():
        dbmod.upsert_firms(db, [rec])
    org = sample.users["organizer"]
    login(client, org["username"], org["password"])
    page = client.get(f"/firms/{sample.firms['sme_d']}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert" in page.text


def test_security_headers(client):
    resp = client.get("/login")
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "onclick=" not in resp.text and "onchange=" not in resp.text
