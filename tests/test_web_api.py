"""The JSON API: the INTERCHANGE contract for matches, list endpoints, OpenAPI, fuzzing."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from matchmaker.web.app import create_app
from matchmaker.web.sample import build_sample

from e2e_support import as_user


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
    sample, _, client = env
    as_user(client, sample, "leader_a")
    assert client.get(f"/api/demands/{sample.demands['a_open']}/matches").status_code == 200
    client.cookies.clear()


# --- writes (their own server: these tests change the data) --------------------------------


@pytest.fixture(scope="module")
def wenv(tmp_path_factory):
    sample = build_sample(tmp_path_factory.mktemp("api-write") / "web.db")
    app = create_app(sample.path, secret="api-write-secret")
    with TestClient(app) as client:
        yield sample, app, client


MOTOR = {"title": "洗碗机变频无刷直流电机配套", "kind": "技术需求",
         "description": "新一代洗碗机需要变频无刷直流电机，采用永磁同步电机设计与FOC矢量控制，"
                        "要求低噪声、高效率，年需求量约二十万台，寻求本地电机企业联合开发。",
         "specs": "额定功率80W；噪声≤38dB；效率≥85%", "chains": ["智能家电"],
         "cooperation": ["联合研发", "产品采购"], "deadline": "2027-06-30"}


def test_a_leader_posts_edits_and_closes_its_demand_and_the_matcher_follows(wenv):
    sample, app, client = wenv
    h = bearer(sample, "leader_a")
    resp = client.post("/api/demands", json=MOTOR, headers=h)
    assert resp.status_code == 201, resp.text
    demand = resp.json()["demand"]
    did = demand["demand_id"]
    assert demand["leader"] == sample.firms["leader_a"] and demand["status"] == "open"
    assert demand["cooperation"] == ["联合研发", "产品采购"] and demand["deadline"] == "2027-06-30"
    # ranked at once: the motor maker first, without a refit
    top = client.get(f"/api/demands/{did}/matches?top=3", headers=h).json()["matches"]
    assert top[0]["credit_code"] == sample.firms["sme_b"]
    # and offered to that SME
    recs = client.get(f"/api/firms/{sample.firms['sme_b']}/recommendations?top=10",
                      headers=bearer(sample, "sme_b")).json()["demands"]
    assert did in [d["demand_id"] for d in recs]
    # a partial edit changes only what is sent, and the cached ranking expires with it
    resp = client.patch(f"/api/demands/{did}", headers=h, json={
        "title": "净水机反渗透膜元件配套", "specs": "脱盐率≥97%",
        "description": "净水机需要抗污染反渗透膜元件和卷式膜元件，用于高硬度水质地区，"
                       "寻求本地膜材料企业联合开发并批量供货。"})
    assert resp.status_code == 200, resp.text
    edited = resp.json()["demand"]
    assert edited["title"] == "净水机反渗透膜元件配套" and edited["cooperation"] == MOTOR["cooperation"]
    top = client.get(f"/api/demands/{did}/matches?top=3", headers=h).json()["matches"]
    assert top[0]["credit_code"] == sample.firms["sme_a"]
    # closing it takes it out of the SMEs' recommendations and lists
    resp = client.patch(f"/api/demands/{did}", headers=h, json={"status": "closed"})
    assert resp.status_code == 200 and resp.json()["demand"]["status"] == "closed"
    recs = client.get(f"/api/firms/{sample.firms['sme_a']}/recommendations?top=20",
                      headers=bearer(sample, "sme_a")).json()["demands"]
    assert did not in [d["demand_id"] for d in recs]
    assert client.get(f"/api/demands/{did}", headers=bearer(sample, "sme_a")).status_code == 403
    # the page shows the same record
    assert "净水机反渗透膜元件配套" in client.get(f"/demands/{did}", headers=h).text


def test_demand_writes_authorization_and_faults(wenv):
    sample, app, client = wenv
    did = sample.demands["a_open"]
    # anonymous 401, wrong role 403, wrong owner 403
    assert client.post("/api/demands", json=MOTOR).status_code == 401
    assert client.post("/api/demands", json=MOTOR, headers=bearer(sample, "sme_a")).status_code == 403
    assert client.patch(f"/api/demands/{did}", json={"status": "closed"}).status_code == 401
    assert client.patch(f"/api/demands/{did}", json={"status": "closed"},
                        headers=bearer(sample, "leader_b")).status_code == 403
    assert client.patch(f"/api/demands/{did}", json={"status": "closed"},
                        headers=bearer(sample, "sme_a")).status_code == 403
    assert client.patch("/api/demands/NOPE", json={}, headers=bearer(sample, "organizer")).status_code == 404
    h = bearer(sample, "leader_a")
    # a 422 names each faulty field and says what is wrong with it
    resp = client.post("/api/demands", headers=h, json={**MOTOR, "title": "", "kind": "其他",
                                                         "deadline": "2027-13-40"})
    body = resp.json()
    assert resp.status_code == 422
    assert set(body["errors"]) == {"title", "kind", "deadline"} and body["field"] == "title"
    assert "title" in body["message"] and "需求名称" in body["errors"]["title"]
    for bad, field in (({**MOTOR, "chains": "智能家电"}, "chains"), ({**MOTOR, "title": 7}, "title"),
                       ({**MOTOR, "leader": sample.firms["leader_b"]}, "leader"),
                       ({**MOTOR, "status": "closed"}, "status"), ({"kind": "技术需求"}, "title"),
                       ({**MOTOR, "description": "x" * 6000}, "description")):
        resp = client.post("/api/demands", headers=h, json=bad)
        assert resp.status_code == 422 and field in resp.json()["errors"], (bad, resp.text)
    for body in (b"", b"not json", b"[1, 2]", b'{"title": NaN}', "{\"title\": \"\u6c34\"".encode()):
        resp = client.post("/api/demands", headers=h, content=body)
        assert resp.status_code == 400 and resp.json()["message"], body
    assert client.patch(f"/api/demands/{did}", headers=h, json={"status": "gone"}).status_code == 422
    # an organizer names the leader, which must be a chain leader
    org = bearer(sample, "organizer")
    assert client.post("/api/demands", headers=org, json=MOTOR).json()["errors"]["leader"]
    resp = client.post("/api/demands", headers=org, json={**MOTOR, "leader": sample.firms["sme_a"]})
    assert resp.status_code == 422 and "leader" in resp.json()["errors"]
    resp = client.post("/api/demands", headers=org, json={**MOTOR, "leader": sample.firms["leader_b"],
                                                          "status": "draft"})
    assert resp.status_code == 201 and resp.json()["demand"]["leader"] == sample.firms["leader_b"]
    # nothing was changed by the refused calls
    assert client.get(f"/api/demands/{did}", headers=h).json()["demand"]["status"] == "open"


def test_session_writes_need_the_csrf_header(wenv):
    sample, _, client = wenv
    token = as_user(client, sample, "leader_a")
    assert client.post("/api/demands", json=MOTOR).status_code == 403
    resp = client.post("/api/demands", json=MOTOR, headers={"X-CSRF-Token": token})
    assert resp.status_code == 201
    client.cookies.clear()


def test_an_sme_requests_a_meeting_the_leader_answers_and_an_organizer_records_the_outcome(wenv):
    sample, _, client = wenv
    sme, leader = bearer(sample, "sme_b"), bearer(sample, "leader_a")
    did = sample.demands["a_open"]
    resp = client.post("/api/requests", headers=sme, json={
        "demand_id": did, "message": "我司变频无刷直流电机可配套", "event_id": None})
    assert resp.status_code == 201, resp.text
    req = resp.json()["request"]
    assert (req["sme"], req["leader"], req["status"]) == (sample.firms["sme_b"], sample.firms["leader_a"], "pending")
    assert client.post("/api/requests", headers=sme, json={
        "demand_id": did, "message": "再次申请"}).status_code == 409
    # each side sees it in its own list, nobody else does
    assert req["id"] in [r["id"] for r in client.get("/api/requests", headers=sme).json()["requests"]]
    assert req["id"] in [r["id"] for r in client.get("/api/requests?status=pending", headers=leader).json()["requests"]]
    assert req["id"] not in [r["id"] for r in client.get("/api/requests", headers=bearer(sample, "leader_b")).json()["requests"]]
    assert req["id"] not in [r["id"] for r in client.get("/api/requests", headers=bearer(sample, "sme_a")).json()["requests"]]
    # only the receiving leader (or an organizer) answers
    url = f"/api/requests/{req['id']}/answer"
    assert client.post(url, json={"answer": "accepted"}).status_code == 401
    assert client.post(url, json={"answer": "accepted"}, headers=bearer(sample, "leader_b")).status_code == 403
    assert client.post(url, json={"answer": "accepted"}, headers=sme).status_code == 403
    assert client.post(url, json={"answer": "yes"}, headers=leader).json()["field"] == "answer"
    resp = client.post(url, json={"answer": "accepted"}, headers=bearer(sample, "leader_a2"))
    assert resp.status_code == 200 and resp.json()["request"]["status"] == "accepted"
    assert "已接受" in client.get("/requests", headers=sme).text
    # faults name their field
    for body, field in (({"demand_id": did}, "message"), ({"demand_id": "NOPE", "message": "x"}, "demand_id"),
                        ({"demand_id": sample.demands["a_draft"], "message": "x"}, "demand_id"),
                        ({"demand_id": did, "message": "x", "event_id": sample.draft_event_id}, "event_id"),
                        ({"demand_id": did, "message": "x", "event_id": sample.event_id}, "event_id"),
                        ({"demand_id": did, "message": "x" * 1001}, "message"),
                        ({"demand_id": did, "message": "x", "event_id": "1"}, "event_id")):
        resp = client.post("/api/requests", headers=bearer(sample, "sme_c"), json=body)
        assert resp.status_code == 422 and field in resp.json()["errors"], (body, resp.text)
    assert client.post("/api/requests", headers=bearer(sample, "sme_c"), json={
        "demand_id": sample.demands["a_closed"], "message": "x"}).status_code == 409
    assert client.post("/api/requests", headers=leader, json={"demand_id": did, "message": "x"}).status_code == 403
    # the outcome of the sample's meeting: organizers only
    url = f"/api/events/{sample.event_id}/meetings/{sample.meeting_id}/outcome"
    assert client.post(url, json={"result": "签约"}, headers=leader).status_code == 403
    assert client.post(url, json={"result": "签约"}).status_code == 401
    org = bearer(sample, "organizer")
    for body, field in (({"result": "成功"}, "result"), ({"result": "签约", "amount": -5}, "amount"),
                        ({"result": "签约", "amount": "很多"}, "amount"), ({"amount": 3}, "result")):
        resp = client.post(url, json=body, headers=org)
        assert resp.status_code == 422 and field in resp.json()["errors"], (body, resp.text)
    resp = client.post(url, json={"result": "签约", "amount": 120.5, "note": "年供货协议"}, headers=org)
    assert resp.status_code == 200, resp.text
    assert resp.json()["outcome"]["result"] == "签约" and resp.json()["outcome"]["amount"] == 120.5
    stats = client.get(f"/api/events/{sample.event_id}/meetings", headers=org).json()["meetings"]
    assert next(m for m in stats if m["id"] == sample.meeting_id)["status"] == "held"
    assert client.post(f"/api/events/{sample.draft_event_id}/meetings/{sample.meeting_id}/outcome",
                       json={"result": "签约"}, headers=org).status_code == 404


def test_health_needs_no_login_and_says_when_the_model_is_warm(env):
    _, app, client = env
    matching = app.state.matching
    assert matching.warmed.wait(120), "the start-up warm-up did not finish"
    client.cookies.clear()
    resp = client.get("/api/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "model": "ready", "warmed": True}
    assert "demand" not in resp.text and "firm" not in resp.text


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
    writes = []
    for who in ("organizer", "leader_a", "sme_a"):
        for op in schema.get_all_operations():
            operation = op.ok()

            @settings(max_examples=15, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                resp = case.call(headers=bearer(sample, who))
                calls.append(resp.status_code)
                if case.method.upper() in ("POST", "PATCH"):
                    writes.append((case.method.upper(), case.path, who, resp.status_code))
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
    # every write operation was called by every role, and some writes went through
    ops = {(m, p) for m, p, _, _ in writes}
    assert len(ops) == 5 and len({(m, p, w) for m, p, w, _ in writes}) == 15
    assert {201, 422} <= {code for *_, code in writes}
