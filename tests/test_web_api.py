"""The JSON API: the INTERCHANGE contract for matches, list endpoints, OpenAPI, fuzzing."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from matchmaker.web.app import create_app
from matchmaker.web.sample import build_sample


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sample = build_sample(tmp_path_factory.mktemp("api") / "web.db")
    app = create_app(sample.path, secret="api-test-secret")
    with TestClient(app) as client:
        yield sample, app, client


def bearer(sample, who):
    return {"Authorization": f"Bearer {sample.users[who]['token']}"}


def test_matches_follow_the_interchange_contract(env):
    sample, _, client = env
    did = sample.demands["a_open"]
    resp = client.get(f"/api/demands/{did}/matches?top=3", headers=bearer(sample, "leader_a"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["demand"]["demand_id"] == did
    assert body["demand"]["leader"] == sample.firms["leader_a"]
    assert 1 <= len(body["matches"]) <= 3
    first = body["matches"][0]
    assert set(first) == {"credit_code", "name", "score", "reasons"}
    # the membrane maker is the obvious answer to the membrane demand
    assert first["credit_code"] == sample.firms["sme_a"]
    assert first["name"] == "青岛渗清膜材料科技有限公司"
    assert isinstance(first["score"], float)
    assert first["reasons"]["terms"] and first["reasons"]["path"][0] == "高硬度水质地区净水机膜元件抗污堵"
    scores = [m["score"] for m in body["matches"]]
    assert scores == sorted(scores, reverse=True)
    # never a chain leader among the ranked SMEs
    assert sample.firms["leader_b"] not in {m["credit_code"] for m in body["matches"]}


def test_matches_authorization(env):
    sample, _, client = env
    did = sample.demands["a_open"]
    url = f"/api/demands/{did}/matches"
    assert client.get(url).status_code == 401
    assert client.get(url).json()["message"]
    assert client.get(url, headers=bearer(sample, "leader_a2")).status_code == 200  # same firm
    assert client.get(url, headers=bearer(sample, "organizer")).status_code == 200
    assert client.get(url, headers=bearer(sample, "leader_b")).status_code == 403
    assert client.get(url, headers=bearer(sample, "sme_a")).status_code == 403
    assert client.get("/api/demands/NOPE/matches", headers=bearer(sample, "organizer")).status_code == 404


@pytest.mark.parametrize("top", ["0", "-3", "abc", "100000", "1.5"])
def test_bad_top_is_a_400_in_chinese(env, top):
    sample, _, client = env
    resp = client.get(f"/api/demands/{sample.demands['a_open']}/matches?top={top}",
                      headers=bearer(sample, "leader_a"))
    assert resp.status_code == 400
    assert "top" in resp.json()["message"]


def test_list_endpoints_scope_by_role(env):
    sample, _, client = env
    org = client.get("/api/demands", headers=bearer(sample, "organizer")).json()["demands"]
    assert {d["demand_id"] for d in org} >= set(sample.demands.values())
    mine = client.get("/api/demands", headers=bearer(sample, "leader_b")).json()["demands"]
    assert {d["demand_id"] for d in mine} == {sample.demands["b_open"]}
    open_only = client.get("/api/demands", headers=bearer(sample, "sme_a")).json()["demands"]
    assert {d["status"] for d in open_only} == {"open"}
    firms = client.get("/api/firms?role=sme", headers=bearer(sample, "organizer")).json()["firms"]
    assert {f["role"] for f in firms} == {"sme"} and len(firms) == 4
    events = client.get("/api/events", headers=bearer(sample, "organizer")).json()["events"]
    assert {e["id"] for e in events} == {sample.event_id, sample.draft_event_id}
    invited = client.get("/api/events", headers=bearer(sample, "sme_a")).json()["events"]
    assert [e["id"] for e in invited] == [sample.event_id]
    meetings = client.get(f"/api/events/{sample.event_id}/meetings", headers=bearer(sample, "sme_a")).json()
    assert meetings["meetings"][0]["start"] == "09:00" and meetings["meetings"][0]["end"] == "09:20"
    recs = client.get(f"/api/firms/{sample.firms['sme_a']}/recommendations?top=5",
                      headers=bearer(sample, "sme_a")).json()
    assert recs["demands"][0]["demand_id"] == sample.demands["a_open"]
    assert all(d["demand_id"] != sample.demands["a_draft"] for d in recs["demands"])


def test_session_login_works_for_the_api(env):
    import re

    sample, _, client = env
    client.cookies.clear()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    user = sample.users["leader_a"]
    client.post("/login", data={"username": user["username"], "password": user["password"],
                                "csrf_token": token})
    assert client.get(f"/api/demands/{sample.demands['a_open']}/matches").status_code == 200
    client.cookies.clear()


def test_openapi_document_is_valid_and_lists_every_api_route(env):
    import schemathesis

    _, app, client = env
    doc = client.get("/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    for op in schema.get_all_operations():
        op.ok()  # raises when an operation cannot be read
    assert doc["openapi"].startswith("3.")
    api_paths = {r.path for r in app.routes if getattr(r, "path", "").startswith("/api/")} - {"/api/openapi.json"}
    assert api_paths == set(doc["paths"])


def test_schemathesis_finds_no_server_error(env):
    import schemathesis
    from hypothesis import HealthCheck, settings

    sample, app, client = env
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures = []
    calls = []
    for who in ("organizer", "leader_a", "sme_a"):
        for op in schema.get_all_operations():
            operation = op.ok()

            @settings(max_examples=15, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                resp = case.call(headers=bearer(sample, who))
                calls.append(resp.status_code)
                if resp.status_code >= 500:
                    failures.append((who, case.method, case.formatted_path, resp.status_code))
                case.validate_response(resp, checks=[schemathesis.checks.not_a_server_error,
                                                     schemathesis.checks.response_schema_conformance,
                                                     schemathesis.checks.status_code_conformance,
                                                     schemathesis.checks.content_type_conformance])

            from hypothesis import given
            given(operation.as_strategy())(check)()
    assert failures == []
    assert len(calls) > 100 and 200 in calls
