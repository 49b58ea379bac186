"""Twenty people writing at once through a live `matchmaker serve` on the demo data: twelve
SMEs request meetings, five chain leaders post and edit demands and answer requests, three
organizers record meeting outcomes. Nobody may see "database is locked" or a 5xx, and every
write must be there afterwards, as each person would check it on their own pages.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import date, timedelta

import httpx
import pytest

from e2e_support import add_accounts, demo_server, http_login, stop_demo_server

pytestmark = pytest.mark.timeout(300)

N_SME, N_LEADER, N_ORG = 12, 5, 3
REQUESTS_PER_SME = 3
EDITS_PER_LEADER = 3
DEMAND_ID = re.compile(r'data-demand-id="([^"]+)"')
MEETING_ID = re.compile(r'data-meeting-id="(\d+)"')
REQUEST_ID = re.compile(r'data-testid="accept-(\d+)"')


@pytest.fixture(scope="module")
def server():
    yield demo_server("concurrency")
    stop_demo_server("concurrency")


@pytest.fixture
def server_log_on_failure(server):
    """The server's own log beside a failure (pytest shows captured output only then): a 500
    says more there than in the page."""
    yield
    print("\n--- matchmaker serve log (tail) ---\n" + server.log())


class Person:
    """One signed-in browser session: an httpx client and its CSRF token."""

    def __init__(self, base: str, username: str):
        self.username = username
        self.client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        self.csrf = http_login(self.client, username)
        self.results: list[tuple[str, int, float, str]] = []

    def post(self, what: str, url: str, data: dict) -> httpx.Response:
        t = time.perf_counter()
        resp = self.client.post(url, data={**data, "csrf_token": self.csrf})
        body = resp.text[:300] if resp.status_code != 303 else ""
        self.results.append((what, resp.status_code, time.perf_counter() - t, body))
        return resp

    def get(self, url: str) -> httpx.Response:
        resp = self.client.get(url, follow_redirects=True)
        assert resp.status_code == 200, f"{self.username} GET {url}: {resp.status_code}"
        return resp


def prepare_event(admin: Person, leader_names: list[str], sme_names: list[str]) -> tuple[int, list[int]]:
    """An event with the five leaders and the twelve SMEs, paired: meetings to record."""
    resp = admin.post("create event", "/events", {
        "name": "并发测试对接会", "date": (date.today() + timedelta(days=7)).isoformat(),
        "start": "09:00", "slots": "6", "slot_minutes": "20", "tables": str(N_LEADER), "venue": ""})
    assert resp.status_code == 303, resp.text[:500]
    eid = int(resp.headers["location"].rsplit("/", 1)[1])
    resp = admin.post("invite", f"/events/{eid}/invite",
                      {"mode": "firms", "firms": "\n".join(leader_names + sme_names)})
    assert resp.status_code == 303, resp.text[:500]
    # the SMEs ranked first for the leaders' demands, so that pairing has meetings to place
    resp = admin.post("invite by match", f"/events/{eid}/invite", {"mode": "match", "per_demand": "2"})
    assert resp.status_code == 303, resp.text[:500]
    resp = admin.post("pair", f"/events/{eid}/pair", {"max_per_sme": "3"})
    assert resp.status_code == 303, resp.text[:500]
    meetings = [int(m) for m in MEETING_ID.findall(admin.get(f"/events/{eid}").text)]
    assert len(meetings) >= 10, "pairing placed too few meetings to record outcomes on"
    return eid, meetings


def firm_of(person: Person) -> str:
    html = person.get("/account").text
    return re.search(r'data-testid="account-link">([^<]+)<', html).group(1).strip()


def test_twenty_users_write_at_once(server, server_log_on_failure):
    t0 = time.perf_counter()
    accounts = add_accounts(server.db_path, N_SME, N_LEADER, N_ORG)
    base = server.url
    smes = [Person(base, u) for u in accounts["sme"]]
    leaders = [Person(base, u) for u in accounts["leader"]]
    orgs = [Person(base, u) for u in accounts["organizer"]]
    assert len(smes) + len(leaders) + len(orgs) == 20
    t1 = time.perf_counter()
    eid, meetings = prepare_event(orgs[0], [firm_of(p) for p in leaders], [firm_of(p) for p in smes])
    t2 = time.perf_counter()
    print(f"\naccounts and logins {t1 - t0:.1f} s, event paired {t2 - t1:.1f} s")
    # what each person will write, chosen from what they see on their own pages
    sme_targets = {p.username: DEMAND_ID.findall(p.get("/recommended").text)[:REQUESTS_PER_SME]
                   for p in smes}
    leader_demands = {p.username: DEMAND_ID.findall(p.get("/demands?status=open").text)[:EDITS_PER_LEADER]
                      for p in leaders}
    assert all(len(v) == REQUESTS_PER_SME for v in sme_targets.values())
    assert all(len(v) == EDITS_PER_LEADER for v in leader_demands.values())
    originals = {}
    for p in leaders:
        for did in leader_demands[p.username]:
            originals[did] = p.get(f"/api/demands/{did}").json()["demand"]
    outcome_of = {mid: ("已洽谈", "达成意向", "签约")[i % 3] for i, mid in enumerate(meetings)}

    def sme_work(p: Person):
        for did in sme_targets[p.username]:
            p.post("request", f"/opportunities/{did}/request",
                   {"message": f"{p.username} 并发测试留言：可提供样品与技术方案。"})

    def leader_work(p: Person):
        # two leaders posting at the same moment must get two demand numbers
        p.post("new demand", "/demands/new", {
            "title": f"{p.username}并发发布的需求", "kind": "技术需求",
            "description": "并发测试：征集伺服电机与控制系统配套企业，要求本地化供货与联合调试。",
            "specs": "额定功率2kW", "chains": "智能制造装备", "cooperation": ["产品采购"],
            "deadline": (date.today() + timedelta(days=60)).isoformat(), "action": "publish"})
        for round_ in range(2):
            for did in leader_demands[p.username]:
                d = originals[did]
                p.post("edit demand", f"/demands/{did}/edit", {
                    "title": d["title"], "kind": d["kind"],
                    "description": d["description"] + f"（第{round_ + 1}次补充说明）",
                    "specs": d.get("specs") or "", "chains": "、".join(d.get("chains") or []),
                    "cooperation": d.get("cooperation") or [], "deadline": d.get("deadline") or "",
                    "action": "save"})
            # answer whatever has arrived so far, while SMEs keep sending
            for rid in REQUEST_ID.findall(p.client.get("/requests?status=pending").text):
                p.post("answer", f"/requests/{rid}/answer", {"answer": "accepted"})

    def org_work(p: Person, share: list[int]):
        for mid in share:
            p.post("outcome", f"/events/{eid}/meetings/{mid}/outcome",
                   {"result": outcome_of[mid], "amount": "50", "note": f"{p.username} 记录"})

    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def run(fn, *args):
        try:
            barrier.wait(timeout=60)
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported below with the person
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sme_work, p)) for p in smes]
    threads += [threading.Thread(target=run, args=(leader_work, p)) for p in leaders]
    threads += [threading.Thread(target=run, args=(org_work, p, meetings[i::N_ORG]))
                for i, p in enumerate(orgs)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    elapsed = time.perf_counter() - started
    assert not errors, errors

    results = [(p.username, *r) for p in smes + leaders + orgs for r in p.results
               if r[0] not in ("create event", "invite", "invite by match", "pair")]
    statuses = Counter((what, status) for _, what, status, _, _ in results)
    bad = [r for r in results if r[2] != 303 or "database is locked" in r[4]]
    assert not bad, f"failed writes {statuses}: {bad[:5]}"
    assert statuses[("request", 303)] == N_SME * REQUESTS_PER_SME
    assert statuses[("edit demand", 303)] == N_LEADER * EDITS_PER_LEADER * 2
    assert statuses[("new demand", 303)] == N_LEADER
    assert statuses[("outcome", 303)] == len(meetings)
    assert "database is locked" not in server.log()
    assert "Traceback" not in server.log(), server.log()
    slowest = max(r[3] for r in results)
    print(f"\n{len(results)} writes by 20 users in {elapsed:.1f} s; slowest {slowest * 1000:.0f} ms; {dict(statuses)}")

    # every write is there, as each person sees it
    for p in smes:
        page = p.get("/requests").text
        assert page.count(f"{p.username} 并发测试留言") == REQUESTS_PER_SME, p.username
    for p in leaders:
        assert p.get("/demands").text.count(f"{p.username}并发发布的需求") == 1, p.username
        for did in leader_demands[p.username]:
            assert "（第2次补充说明）" in p.get(f"/api/demands/{did}").json()["demand"]["description"]
    outcomes = orgs[1].get(f"/events/{eid}?tab=outcomes").text
    recorded = {int(mid): text.strip() for mid, text in
                re.findall(r'data-testid="outcome-(\d+)">([^<]*)', outcomes)}
    assert recorded == outcome_of
    for p in smes + leaders + orgs:
        p.client.close()
