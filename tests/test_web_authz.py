"""The authorization matrix: every route of the app x every role x own/other objects.

The routes come from the app's own route list, so a route added later is walked here
without being named: anonymous callers get 401 (API) or a redirect to the login page,
the wrong role 403, another firm's object 403, a bad id 404, and nothing ever 500.
"""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from matchmaker.web.app import create_app
from matchmaker.web.auth import ANY, PUBLIC
from matchmaker.web.sample import build_sample

from e2e_support import as_user

PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sample = build_sample(tmp_path_factory.mktemp("authz") / "web.db")
    app = create_app(sample.path, secret="authz-test-secret")
    with TestClient(app) as client:
        yield sample, app, client


def own_params(sample, who: str) -> dict[str, str]:
    """Path parameters naming objects the user `who` may act on."""
    firm_key = {"leader_a": "leader_a", "leader_a2": "leader_a", "leader_b": "leader_b",
                "sme_a": "sme_a", "sme_b": "sme_b", "sme_c": "sme_c"}.get(who, "sme_a")
    demand = "b_open" if who == "leader_b" else "a_open"
    request_id = sample.other_request_id if who == "leader_b" else sample.request_id
    return {"demand_id": sample.demands[demand], "request_id": str(request_id),
            "event_id": str(sample.event_id), "meeting_id": str(sample.meeting_id),
            "credit_code": sample.firms[firm_key], "chain": "智能家电", "fmt": "html",
            "user_id": str(sample.users["toggle"]["id"]), "token": "no-such-invitation"}


def routes(app):
    out = []
    for r in app.routes:
        if not isinstance(r, Route):
            continue  # the /static mount
        for method in sorted(r.methods - {"HEAD"}):
            out.append((r, method))
    return out


def fill(path: str, params: dict) -> str:
    return PARAM.sub(lambda m: params[m.group(1)], path)


def call(client, method, url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    return client.request(method, url, headers=headers, data={}, follow_redirects=False)


def test_every_route_declares_who_may_call_it(env):
    _, app, _ = env
    for r, _ in routes(app):
        assert getattr(r.endpoint, "roles", None), f"{r.path} has no @endpoint(...) declaration"


def test_anonymous(env):
    sample, app, client = env
    client.cookies.clear()
    params = own_params(sample, "organizer")
    for r, method in routes(app):
        resp = call(client, method, fill(r.path, params))
        where = f"{method} {r.path}"
        assert resp.status_code < 500, where
        if PUBLIC in r.endpoint.roles:
            continue
        if r.path.startswith("/api/"):
            assert resp.status_code == 401, where
            assert resp.json()["status"] == 401
        else:
            assert resp.status_code == 303, where
            assert resp.headers["location"].startswith("/login?next="), where


def test_invalid_bearer_token_is_401(env):
    sample, app, client = env
    resp = client.get(f"/api/demands/{sample.demands['a_open']}/matches",
                      headers={"Authorization": "Bearer mm_not-a-real-token"})
    assert resp.status_code == 401


USERS = ["organizer", "leader_a", "leader_a2", "leader_b", "sme_a", "sme_b", "sme_c"]


@pytest.mark.parametrize("who", USERS)
def test_roles_and_own_objects(env, who):
    sample, app, client = env
    client.cookies.clear()
    user = sample.users[who]
    params = own_params(sample, who)
    for r, method in routes(app):
        roles = r.endpoint.roles
        resp = call(client, method, fill(r.path, params), token=user["token"])
        where = f"{who}: {method} {r.path} -> {resp.status_code}"
        assert resp.status_code < 500, where
        allowed = PUBLIC in roles or ANY in roles or user["role"] in roles
        if not allowed:
            assert resp.status_code == 403, where
        elif PUBLIC not in roles:
            assert resp.status_code not in (401, 403), where


def test_other_leaders_objects_are_forbidden(env):
    """leader_b reaches none of leader_a's demands, requests or rankings."""
    sample, app, client = env
    token = sample.users["leader_b"]["token"]
    params = own_params(sample, "leader_a")
    checked = 0
    for r, method in routes(app):
        names = set(PARAM.findall(r.path))
        roles = r.endpoint.roles
        if not names & {"demand_id", "request_id"} or "leader" not in roles and ANY not in roles:
            continue
        resp = call(client, method, fill(r.path, params), token=token)
        assert resp.status_code == 403, f"{method} {r.path} -> {resp.status_code}"
        checked += 1
    assert checked >= 8


def test_smes_see_only_their_own(env):
    sample, app, client = env
    sme_b = sample.users["sme_b"]["token"]
    h = {"Authorization": f"Bearer {sme_b}"}
    assert client.get(f"/api/firms/{sample.firms['sme_a']}/recommendations", headers=h).status_code == 403
    assert client.get(f"/api/demands/{sample.demands['a_open']}/matches", headers=h).status_code == 403
    # drafts and closed demands are not shown to SMEs
    assert client.get(f"/api/demands/{sample.demands['a_draft']}", headers=h).status_code == 403
    assert client.get(f"/opportunities/{sample.demands['a_draft']}", headers=h).status_code == 404
    # an SME not invited to the event sees none of its meetings
    out = {"Authorization": f"Bearer {sample.users['outsider']['token']}"}
    assert client.get(f"/api/events/{sample.event_id}/meetings", headers=out).status_code == 403
    # an invited SME sees only the meetings it takes part in
    mine = client.get(f"/api/events/{sample.event_id}/meetings", headers=h).json()["meetings"]
    assert all(sample.firms["sme_b"] in (m["sme"], m["leader"]) for m in mine)
    # the firm list shows an SME only its own firm
    firms = client.get("/api/firms", headers=h).json()["firms"]
    assert [f["credit_code"] for f in firms] == [sample.firms["sme_b"]]


BAD_VALUES = {"demand_id": "不存在的需求", "request_id": "99999999", "event_id": "99999999",
              "meeting_id": "99999999", "credit_code": "000000000000000000", "chain": "不存在的产业链",
              "fmt": "docx", "user_id": "99999999", "token": "x"}


def test_bad_ids_are_404_never_500(env):
    sample, app, client = env
    for r, method in routes(app):
        names = PARAM.findall(r.path)
        roles = r.endpoint.roles
        who = next((u for u in ("organizer", "leader_a", "sme_a")
                    if PUBLIC in roles or ANY in roles or sample.users[u]["role"] in roles))
        token = sample.users[who]["token"]
        own = own_params(sample, who)
        for name in names:
            for bad in (BAD_VALUES[name], "abc", "-1", "1e99", "%27%3B--", "%00"):
                url = fill(r.path, {**own, name: bad})
                resp = call(client, method, url, token=token)
                where = f"{method} {url} -> {resp.status_code}"
                assert resp.status_code < 500, where
                if name in ("user_id", "event_id", "meeting_id", "request_id", "demand_id",
                            "credit_code", "chain", "fmt"):
                    assert resp.status_code in (404, 422), where


def test_session_role_checks_match_token_checks(env):
    """The same rules hold for a browser session as for a bearer token."""
    sample, app, client = env
    as_user(client, sample, "sme_a")
    assert client.get("/dashboard", follow_redirects=False).status_code == 403
    assert client.get(f"/demands/{sample.demands['a_open']}", follow_redirects=False).status_code == 403
    assert client.get("/recommended").status_code == 200
    assert client.get(f"/api/demands/{sample.demands['a_open']}/matches").status_code == 403
    client.cookies.clear()


FIELDS = ["title", "kind", "description", "specs", "chains", "cooperation", "cooperation_other",
          "deadline", "action", "status", "sme", "message", "event_id", "answer", "username",
          "password", "password2", "display_name", "role", "firm", "name", "date", "start", "slots",
          "slot_minutes", "tables", "venue", "max_per_sme", "slot", "table", "result", "amount",
          "note", "mode", "chain", "roles", "tier", "per_demand", "firms", "codes", "leader",
          "products", "technologies", "district", "segments", "tiers", "next"]
JUNK = ["", "0", "-1", "1e308", "NaN", "x" * 6000, "<script>alert(1)</script>", "２０２７－１３－０１",
        "a\x00b", "'; DROP TABLE firms; --", "../../etc/passwd", "[]", "{}", "99999999999999999999"]


def test_junk_form_values_never_cause_a_server_error(env):
    """Whatever a user types into any field of any form: a page or a message, never a 500."""
    sample, app, client = env
    for r, method in routes(app):
        if method != "POST":
            continue
        roles = r.endpoint.roles
        for who in ("organizer", "leader_a", "sme_a"):
            user = sample.users[who]
            if not (PUBLIC in roles or ANY in roles or user["role"] in roles):
                continue
            url = fill(r.path, own_params(sample, who))
            for value in JUNK:
                data = {f: value for f in FIELDS}
                resp = client.post(url, data=data, follow_redirects=False,
                                   headers={"Authorization": f"Bearer {user['token']}"})
                assert resp.status_code < 500, f"{who}: POST {url} with {value[:20]!r} -> {resp.status_code}"


def json_bodies(sample) -> dict[tuple[str, str], dict]:
    """A well-formed body for every API write (what a real client sends)."""
    return {("POST", "/api/demands"): {"title": "测试需求", "kind": "技术需求", "description": "测试用需求描述",
                                       "status": "draft", "leader": sample.firms["leader_a"]},
            ("PATCH", "/api/demands/{demand_id}"): {"specs": "精度0.01mm"},
            ("POST", "/api/requests"): {"demand_id": sample.demands["b_open"], "message": "测试申请"},
            ("POST", "/api/requests/{request_id}/answer"): {"answer": "declined"},
            ("POST", "/api/events/{event_id}/meetings/{meeting_id}/outcome"): {"result": "已洽谈"}}


@pytest.mark.parametrize("who", USERS)
def test_api_writes_with_json_bodies(env, who):
    """Every API write x role x own/other object, with well-formed JSON: the wrong role or
    another firm's object 403, an allowed caller a 2xx or a named 4xx (409/422), never 500."""
    sample, app, client = env
    client.cookies.clear()
    user = sample.users[who]
    bodies = json_bodies(sample)
    writes = [(r, m) for r, m in routes(app) if (m, r.path) in bodies]
    assert len(writes) == len(bodies)
    for params, own in ((own_params(sample, who), True), (own_params(sample, "leader_b" if who != "leader_b" else "leader_a"), False)):
        for r, method in writes:
            body = dict(bodies[(method, r.path)])
            if method == "POST" and r.path == "/api/demands" and user["role"] != "organizer":
                body.pop("leader")
            resp = client.request(method, fill(r.path, params), json=body,
                                  headers={"Authorization": f"Bearer {user['token']}"})
            where = f"{who} ({'own' if own else 'other'}): {method} {r.path} -> {resp.status_code} {resp.text[:120]}"
            assert resp.status_code < 500, where
            if user["role"] not in r.endpoint.roles:
                assert resp.status_code == 403, where
                continue
            names = set(PARAM.findall(r.path))
            foreign = not own and user["role"] == "leader" and names & {"demand_id", "request_id"}
            if foreign:
                assert resp.status_code == 403, where
            else:
                assert resp.status_code in (200, 201, 409, 422), where
                if resp.status_code == 422:
                    assert resp.json()["errors"], where
