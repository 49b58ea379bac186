"""The demo that `make serve` loads: data, taxonomy tables and one account per role."""

from matchmaker import db as store
from matchmaker.demo import DEMO_PASSWORD, load_demo
from matchmaker.users import authenticate


def test_demo_loads_once_with_accounts(tmp_path):
    db = store.open_db(tmp_path / "demo.db")
    summary = load_demo(db)
    c = store.counts(db)
    assert c["firms"] >= 3000 and c["demands"] >= 150 and c["relations"] > 1000
    assert db["segments"].count > 50
    roles = {authenticate(db, u, DEMO_PASSWORD)["role"] for u in ("admin", "leader1", "sme1")}
    assert roles == {"organizer", "leader", "sme"}
    assert "leader1" in summary
    assert "已有数据" in load_demo(db, if_empty=True)
    assert store.counts(db)["firms"] == c["firms"]
