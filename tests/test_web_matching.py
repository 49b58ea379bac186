"""The app's one Matcher: incremental updates, background refit that loses no edit."""

from __future__ import annotations

from matchmaker import db as dbmod
from matchmaker.web.matching import Matching
from matchmaker.web.sample import build_sample
from matchmaker.web.store import Store


def test_refit_in_background_keeps_edits_made_meanwhile(tmp_path):
    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load()
    db = store.db()
    new = {"demand_id": "LIVE-1", "leader": sample.firms["leader_b"], "kind": "技术需求",
           "title": "碳纤维司机室罩板", "description": "轨道车辆司机室碳纤维复合材料罩板，阻燃减重",
           "specs": "减重30%", "chains": ["轨道交通装备"], "cooperation": [], "deadline": None,
           "status": "open", "extra": {}}
    thread = matching.refit_in_background()
    assert thread is not None
    assert matching.refit_in_background() is None  # one refit at a time
    # saved and pushed to the model while the refit runs, but after its snapshot may be taken
    with store.write() as w:
        dbmod.upsert_demands(w, [new])
    matching.update_demand(dbmod.get_demand(db, "LIVE-1"))
    thread.join(timeout=120)
    ranked = matching.rank_smes("LIVE-1", top=3)
    assert ranked and ranked[0]["credit_code"] == sample.firms["sme_c"]
    assert ranked[0]["reasons"]["terms"]
    store.close()


def test_update_firm_changes_rankings_at_once(tmp_path):
    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load()
    def score_of_d():
        ranked = matching.rank_smes(sample.demands["b_open"], top=10)
        return next((m["score"] for m in ranked if m["credit_code"] == sample.firms["sme_d"]), 0.0)

    before = score_of_d()
    firm = dbmod.get_firm(store.db(), sample.firms["sme_d"])
    firm.update(products="碳纤维复合材料车体部件、阻燃复合材料内饰板", technologies="碳纤维预浸料、EN45545阻燃",
                chains=["轨道交通装备"])
    matching.update_firm(firm)
    assert score_of_d() > before + 0.05
    store.close()


def test_a_new_empty_installation_serves_pages_and_fits_once_firms_arrive(tmp_path):
    import re

    from starlette.testclient import TestClient

    from matchmaker.users import create_user
    from matchmaker.web.app import create_app
    from matchmaker.web.sample import FIRMS

    path = tmp_path / "empty.db"
    db = dbmod.open_db(path)
    create_user(db, "admin", "long-enough-1", "organizer")
    app = create_app(path, secret="empty-secret")
    with TestClient(app) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        c.post("/login", data={"username": "admin", "password": "long-enough-1", "csrf_token": token})
        for url in ("/dashboard", "/firms", "/demands", "/chains", "/events", "/demands/new", "/api/demands"):
            assert c.get(url).status_code == 200, url
        assert app.state.matching.model is None
        header = "企业名称,统一社会信用代码,企业类型,所属产业链,主营产品\n"
        rows = "".join(f"{f['name']},{f['credit_code']},{'链主企业' if f['role'] == 'leader' else '中小企业'},"
                       f"{f['chains'][0]},{f['products'].replace('、', ' ')}\n" for f in FIRMS.values())
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/firms/import").text).group(1)
        resp = c.post("/firms/import", data={"csrf_token": token},
                      files=[("files", ("firms.csv", (header + rows).encode("utf-8"), "text/csv"))],
                      follow_redirects=False)
        assert resp.status_code == 303
        for _ in range(600):
            if app.state.matching.model is not None:
                break
            import time

            time.sleep(0.1)
        assert app.state.matching.model is not None


def test_cached_rankings_expire_only_where_an_edit_reaches(tmp_path):
    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)  # no background warming filling the cache
    a, b = sample.demands["a_open"], sample.demands["b_open"]
    matching.rank_smes(a, top=5)
    matching.rank_smes(b, top=5)
    matching.rank_demands(sample.firms["sme_a"], top=5)
    demand = dbmod.get_demand(store.db(), a)
    demand["specs"] += "；通量≥50GPD"
    matching.update_demand(demand)
    keys = set(matching._cache)
    assert ("smes", b) in keys  # another demand's SME list is still good
    assert ("smes", a) not in keys and ("demands", sample.firms["sme_a"]) not in keys
    firm = dbmod.get_firm(store.db(), sample.firms["sme_c"])
    matching.update_firm(firm)
    assert not any(k[0] == "smes" for k in matching._cache)
    # and a fresh ranking after the edits still answers
    assert matching.rank_smes(a, top=3)[0]["credit_code"] == sample.firms["sme_a"]
    store.close()


def test_warming_ranks_every_demand_once_and_caches_it(tmp_path):
    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)
    assert not matching._cache
    ids = matching.model.demand_ids()
    assert matching.warm() == len(ids) > 0
    assert matching.warmed.is_set()
    assert {("smes", d) for d in ids} <= set(matching._cache)
    # served from the cache: the same list as a ranking computed now
    for d in ids:
        fresh = [m.credit_code for m in matching.model.rank_smes(d, top=10)]
        assert [m["credit_code"] for m in matching.rank_smes(d, top=10)] == fresh
    store.close()


def test_a_slow_ranking_blocks_no_cached_page_and_edits_wait_for_it(tmp_path):
    """A ranking holds only the model's read lock: cache hits and other rankings go on
    beside it; an edit waits until it is done, and a ranking begun before an edit is not
    kept in the cache afterwards."""
    import threading
    import time

    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)
    a, b = sample.demands["a_open"], sample.demands["b_open"]
    matching.rank_smes(a, top=5)
    release, holding = threading.Event(), threading.Event()

    def long_ranking():  # stands for a slow rank_demands: holds the read lock meanwhile
        with matching._rw.read():
            holding.set()
            release.wait(10)

    reader = threading.Thread(target=long_ranking)
    reader.start()
    holding.wait(5)
    t = time.perf_counter()
    assert matching.rank_smes(a, top=5)  # cache hit
    assert matching.rank_smes(b, top=5)  # a ranking of its own, beside the slow one
    assert time.perf_counter() - t < 5
    firm = dbmod.get_firm(store.db(), sample.firms["sme_d"])
    firm.update(products="碳纤维复合材料车体部件", chains=["轨道交通装备"])
    writer = threading.Thread(target=matching.update_firm, args=(firm,))
    writer.start()
    time.sleep(0.2)
    assert writer.is_alive()  # the edit waits for the ranking in progress
    release.set()
    writer.join(10)
    reader.join(10)
    assert not writer.is_alive()
    assert ("smes", b) not in matching._cache  # the firm edit expired every SME list
    store.close()


def test_rankings_and_edits_at_once_stay_consistent(tmp_path):
    import threading

    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)
    ids = matching.model.demand_ids()
    smes = [c for k, c in sample.firms.items() if k.startswith("sme")]
    firms = [dbmod.get_firm(store.db(), c) for c in smes]
    errors = []

    def ranker(i):
        try:
            for r in range(30):
                matching.rank_smes(ids[(i + r) % len(ids)], top=5)
                matching.rank_demands(smes[(i + r) % len(smes)], top=5)
        except Exception as exc:  # reported below with the thread's failure
            errors.append(exc)

    def editor():
        try:
            for r in range(10):
                f = dict(firms[r % len(firms)])
                f["technologies"] = (f.get("technologies") or "") + f"、工艺{r}"
                matching.update_firm(f)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ranker, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=editor))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    # whatever stayed cached agrees with the model as it is now
    for d in ids:
        fresh = [(m.credit_code, round(m.score, 6)) for m in matching.model.rank_smes(d, top=5)]
        assert [(m["credit_code"], round(m["score"], 6)) for m in matching.rank_smes(d, top=5)] == fresh
    for c in smes:
        fresh = [(m.demand_id, round(m.score, 6)) for m in matching.model.rank_demands(c, top=5)]
        assert [(m["demand_id"], round(m["score"], 6)) for m in matching.rank_demands(c, top=5)] == fresh
    store.close()


def test_explain_gives_the_ranked_pair_and_expires_with_an_edit(tmp_path):
    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)
    a, sme_a, sme_c = sample.demands["a_open"], sample.firms["sme_a"], sample.firms["sme_c"]
    ranked = {m["credit_code"]: m for m in matching.rank_smes(a, top=10)}
    pair = matching.explain(a, sme_a)
    assert pair["demand_id"] == a and pair["credit_code"] == sme_a
    assert abs(pair["score"] - ranked[sme_a]["score"]) < 1e-9 and pair["reasons"]["terms"]
    # a pair outside any cached ranking comes from the Matcher and is kept
    matching._cache.clear()
    far = matching.explain(a, sme_c)
    assert far is not None and (a, sme_c) in matching._pairs
    assert far["score"] < pair["score"]
    assert matching.explain("NOPE", sme_a) is None and matching.explain(a, "000") is None
    # an edit of either side expires it
    demand = dbmod.get_demand(store.db(), a)
    demand["description"] += "，兼顾碳纤维复合材料外壳"
    matching.update_demand(demand)
    assert (a, sme_c) not in matching._pairs
    store.close()


def test_warming_also_ranks_the_demands_of_smes_that_can_sign_in(tmp_path):
    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)
    matching.warm()
    with_accounts = {u["firm"] for u in sample.users.values() if u["role"] == "sme"}
    assert with_accounts and {("demands", c) for c in with_accounts} <= set(matching._cache)
    for code in with_accounts:
        fresh = [m.demand_id for m in matching.model.rank_demands(code, top=10)]
        assert [m["demand_id"] for m in matching.rank_demands(code, top=10)] == fresh
    store.close()


def test_pairing_ranks_through_the_cache_and_pauses_the_warm_up(tmp_path):
    import threading

    sample = build_sample(tmp_path / "m.db")
    store = Store(sample.path)
    matching = Matching(store).load(warm=False)
    a = sample.demands["a_open"]
    view = matching.reader()
    got = view.rank_smes(a, top=500)
    fresh = matching.model.rank_smes(a, top=500)
    assert [(m.credit_code, m.score) for m in got] == [(m.credit_code, m.score) for m in fresh]
    assert got[0].reasons == fresh[0].reasons
    assert matching._cache[("smes", a)][1] >= 500  # kept for the next pairing or repair
    # while a user's bulk ranking runs, the warm-up waits between its rankings
    with matching.foreground():
        resting = threading.Thread(target=matching._yield_to_users, args=(0.0,))
        resting.start()
        resting.join(0.3)
        assert resting.is_alive()
    resting.join(5)
    assert not resting.is_alive()
    store.close()
