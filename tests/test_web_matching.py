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
