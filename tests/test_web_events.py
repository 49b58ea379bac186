"""The organizer's event workspace end to end: create, invite, pair, lock, move, publish,
sheets, check-in, no-show, repair, outcomes — through the pages, over events.py."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from matchmaker import db as dbmod
from matchmaker.web.app import create_app
from matchmaker.web.sample import build_sample

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sample = build_sample(tmp_path_factory.mktemp("events") / "web.db")
    app = create_app(sample.path, secret="events-test-secret")
    with TestClient(app) as client:
        token = CSRF.search(client.get("/login").text).group(1)
        org = sample.users["organizer"]
        client.post("/login", data={"username": org["username"], "password": org["password"],
                                    "csrf_token": token})
        csrf = CSRF.search(client.get("/events").text).group(1)
        yield sample, client, csrf


def test_event_day_end_to_end(env):
    sample, client, csrf = env
    db = dbmod.connect(sample.path)
    bad = client.post("/events", data={"name": "", "date": "2027-13-01", "start": "9点", "slots": "0",
                                       "slot_minutes": "x", "tables": "5000", "csrf_token": csrf})
    assert bad.status_code == 422
    for message in ("请填写活动名称", "请填写日期", "开始时间格式", "洽谈轮次应为", "每轮时长应为", "洽谈桌数应为"):
        assert message in bad.text
    resp = client.post("/events", data={"name": "智能家电链主专场对接会", "date": "2027-08-18", "start": "09:30",
                                        "slots": "4", "slot_minutes": "20", "tables": "2",
                                        "venue": "崂山区会展中心", "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    url = resp.headers["location"]
    eid = int(url.rsplit("/", 1)[1])
    # pairing before anyone is invited is refused with a reason
    assert client.post(f"{url}/pair", data={"csrf_token": csrf}).status_code == 422
    # invite by chain (leaders and SMEs of 智能家电), then by name
    client.post(f"{url}/invite", data={"mode": "chain", "chain": "智能家电", "roles": ["leader", "sme"],
                                       "csrf_token": csrf})
    invited = {r[0] for r in db.execute("SELECT credit_code FROM participants WHERE event_id = ?", [eid])}
    assert {sample.firms["leader_a"], sample.firms["sme_a"], sample.firms["sme_b"]} <= invited
    assert sample.firms["leader_b"] not in invited
    resp = client.post(f"{url}/invite", data={"mode": "firms", "firms": "不存在的公司", "csrf_token": csrf})
    assert resp.status_code == 422 and "未找到企业" in resp.text
    resp = client.post(f"{url}/invite", data={"mode": "tier", "tier": "瞎写", "csrf_token": csrf})
    assert resp.status_code == 422
    client.post(f"{url}/invite", data={"mode": "match", "per_demand": "3", "csrf_token": csrf})
    # pairing conditions: a must-meet, a blocked slot, a leader's tables; bad input is a message
    leader, sme_b = sample.firms["leader_a"], sample.firms["sme_b"]
    resp = client.post(f"{url}/constraints", data={"kind": "must_meet", "leader": leader, "sme": sme_b,
                                                   "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    assert db.execute("SELECT COUNT(*) FROM must_meets WHERE event_id = ?", [eid]).fetchone()[0] == 1
    client.post(f"{url}/constraints", data={"kind": "unavailable", "firm": sample.firms["sme_a"],
                                            "slots": "4", "csrf_token": csrf})
    assert [r[0] for r in db.execute("SELECT slot FROM unavailability WHERE event_id = ?", [eid])] == [4]
    assert client.post(f"{url}/constraints", data={"kind": "unavailable", "firm": sample.firms["sme_a"],
                                                   "slots": "九", "csrf_token": csrf}).status_code == 422
    assert client.post(f"{url}/constraints", data={"kind": "tables", "leader": leader, "tables": "7",
                                                   "csrf_token": csrf}).status_code == 422
    client.post(f"{url}/constraints", data={"kind": "tables", "leader": leader, "tables": "1、2",
                                            "csrf_token": csrf})
    firms_tab = client.get(f"{url}?tab=firms").text
    assert 'data-testid="must-meet-form"' in firms_tab
    # open requests, pair, review
    client.post(f"{url}/open", data={"csrf_token": csrf})
    resp = client.post(f"{url}/pair", data={"max_per_sme": "2", "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    page = client.get(url).text
    meetings = re.findall(r'data-meeting-id="(\d+)"', page)
    assert meetings, "the pairing placed no meeting"
    # the must-meet pair is placed
    assert db.execute("SELECT COUNT(*) FROM meetings WHERE event_id = ? AND leader = ? AND sme = ?",
                      [eid, leader, sme_b]).fetchone()[0] == 1
    assert 'data-testid="schedule"' in page
    mid = int(meetings[0])
    # lock by htmx: the button comes back pressed
    lock = client.post(f"{url}/meetings/{mid}/lock", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert lock.status_code == 200 and 'aria-pressed="true"' in lock.text
    assert db.execute("SELECT locked FROM meetings WHERE id = ?", [mid]).fetchone()[0] == 1
    # move: out of range is a message; to a free slot of the same table works and locks
    slot, table = db.execute("SELECT slot, table_no FROM meetings WHERE id = ?", [mid]).fetchone()
    assert client.post(f"{url}/meetings/{mid}/move", data={"slot": "99", "table": "1", "csrf_token": csrf}).status_code == 422
    taken = {r[0] for r in db.execute("SELECT slot FROM meetings WHERE event_id = ? AND table_no = ?", [eid, table])}
    busy = {r[0] for r in db.execute("SELECT slot FROM meetings m WHERE event_id = ? AND sme = "
                                     "(SELECT sme FROM meetings WHERE id = ?)", [eid, mid])}
    free = [s for s in range(1, 5) if s not in taken | busy]
    if free:
        resp = client.post(f"{url}/meetings/{mid}/move", data={"slot": str(free[0]), "table": str(table),
                                                                "csrf_token": csrf}, follow_redirects=False)
        assert resp.status_code == 303
        assert db.execute("SELECT slot FROM meetings WHERE id = ?", [mid]).fetchone()[0] == free[0]
    # re-pairing keeps the locked meeting
    client.post(f"{url}/pair", data={"csrf_token": csrf})
    assert db.execute("SELECT COUNT(*) FROM meetings WHERE id = ?", [mid]).fetchone()[0] == 1
    # publish; firms now see their agenda
    resp = client.post(f"{url}/publish", data={"csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    assert db.execute("SELECT status FROM events WHERE id = ?", [eid]).fetchone()[0] == "published"
    assert client.post(f"{url}/pair", data={"csrf_token": csrf}).status_code == 422  # published: no re-pairing
    # sheets
    html = client.get(f"{url}/sheets/html")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    xlsx = client.get(f"{url}/sheets/xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "attachment" in xlsx.headers["content-disposition"]
    csv = client.get(f"{url}/sheets/csv")
    assert csv.status_code == 200
    # the day: check in, no-show, repair
    checkin = client.get(f"{url}/checkin")
    assert checkin.status_code == 200 and 'data-testid="checkin-table"' in checkin.text
    sme = db.execute("SELECT sme FROM meetings WHERE event_id = ? ORDER BY slot DESC LIMIT 1", [eid]).fetchone()[0]
    row = client.post(f"{url}/checkin", data={"firm": sample.firms["leader_a"], "action": "checkin"},
                      headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert row.status_code == 200 and "已签到" in row.text
    client.post(f"{url}/checkin", data={"firm": sme, "action": "noshow", "csrf_token": csrf})
    assert db.execute("SELECT no_show FROM participants WHERE event_id = ? AND credit_code = ?",
                      [eid, sme]).fetchone()[0] == 1
    assert client.post(f"{url}/checkin", data={"firm": "nobody", "action": "checkin", "csrf_token": csrf}).status_code == 404
    assert client.post(f"{url}/checkin", data={"firm": sme, "action": "explode", "csrf_token": csrf}).status_code == 422
    repair = client.post(f"{url}/repair", data={"csrf_token": csrf}, follow_redirects=False)
    assert repair.status_code in (303, 409)  # 409 only when every slot has already started
    client.post(f"{url}/checkin", data={"firm": sme, "action": "undo", "csrf_token": csrf})
    # outcomes feed the dashboard statistics
    assert client.post(f"{url}/meetings/{mid}/outcome", data={"result": "成功", "csrf_token": csrf}).status_code == 422
    assert client.post(f"{url}/meetings/{mid}/outcome", data={"result": "签约", "amount": "-5",
                                                              "csrf_token": csrf}).status_code == 422
    resp = client.post(f"{url}/meetings/{mid}/outcome", data={"result": "签约", "amount": "120",
                                                               "note": "首批订单", "csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert db.execute("SELECT result, amount FROM outcomes WHERE meeting_id = ?", [mid]).fetchone() == ("签约", 120.0)
    dash = client.get("/dashboard").text
    assert re.search(r'data-testid="stat-contracts">1<', dash)
    # the API lists the meetings with clock times
    api = client.get(f"/api/events/{eid}/meetings").json()
    assert api["event"]["id"] == eid and api["meetings"][0]["start"] >= "09:30"


def test_meeting_of_another_event_is_404(env):
    sample, client, csrf = env
    resp = client.post(f"/events/{sample.draft_event_id}/meetings/{sample.meeting_id}/lock",
                       data={"csrf_token": csrf})
    assert resp.status_code == 404
