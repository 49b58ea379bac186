"""The demo: a fictional Qingdao (datasets/qingdao) and one account per role.

The accounts are listed in README; their password is public, so the demo database is for
trying the product, never for real data.
"""

from __future__ import annotations

from pathlib import Path

from . import db as store
from .taxonomy import load_taxonomy
from .users import create_user

DATASET = Path(__file__).resolve().parents[1] / "datasets" / "qingdao"
DEMO_PASSWORD = "demo-2026"
ORGANIZER_NAME = "市中小企业服务中心"


def demo_accounts(db) -> list[tuple[str, str, str | None]]:
    """(username, role, firm credit code): the organizer, the first three chain leaders and
    three SMEs, chosen by load order so that README stays true when the data is regenerated."""
    leaders = [r[0] for r in db.execute(
        "SELECT credit_code FROM firms WHERE role = 'leader' AND credit_code IN "
        "(SELECT leader FROM demands) ORDER BY rowid LIMIT 3").fetchall()]
    smes = [r[0] for r in db.execute(
        "SELECT credit_code FROM firms WHERE role = 'sme' ORDER BY rowid LIMIT 3").fetchall()]
    accounts = [("admin", "organizer", None)]
    accounts += [(f"leader{i}", "leader", c) for i, c in enumerate(leaders, 1)]
    accounts += [(f"sme{i}", "sme", c) for i, c in enumerate(smes, 1)]
    return accounts


def load_demo(db, if_empty: bool = False, dataset: Path = DATASET) -> str:
    if if_empty and db["firms"].count:
        return "数据库中已有数据，未重新导入演示数据。"
    files = [dataset / n for n in ("firms.csv", "demands.csv", "relations.csv")]
    counts = store.load_files(db, [f for f in files if f.exists()])
    store.sync_taxonomy(db, load_taxonomy())
    lines = [f"已导入演示数据：企业 {counts['firms']} 家，需求 {counts['demands']} 条，"
             f"合作关系 {counts['relations']} 条", f"演示账号（密码均为 {DEMO_PASSWORD}）："]
    for username, role, firm in demo_accounts(db):
        name = ORGANIZER_NAME if role == "organizer" else None
        user = create_user(db, username, DEMO_PASSWORD, role, firm=firm, display_name=name)
        lines.append(f"  {username:8s} {role:10s} {user['display_name']}")
    return "\n".join(lines)
