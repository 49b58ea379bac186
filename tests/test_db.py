"""The store: migrations, all-or-nothing loads, updates in place — on real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from matchmaker import db as store
from matchmaker.importer import ImportFailed
from conftest import CODES, ROOT


def test_pragmas(tmp_path):
    db = store.open_db(tmp_path / "m.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"firms", "demands", "relations", "events", "meetings", "outcomes", "users",
            "api_tokens", "chains", "segments", "participants"} <= set(db.table_names())


def test_migrations_bring_an_old_database_up_to_date(tmp_path, small_set):
    path = tmp_path / "old.db"
    old = store.connect(path)
    store.migrations.apply(old, stop_before="m002_events")  # a database from the first release
    store.upsert_firms(old, [{"credit_code": CODES["sme1"], "name": "旧企业", "role": "sme"}])
    assert "events" not in old.table_names()
    old.close()
    db = store.open_db(path)
    assert store.schema_version(db)[-1] == store.migrations._migrations[-1].name
    assert "events" in db.table_names() and "users" in db.table_names()
    assert store.get_firm(db, "旧企业")["credit_code"] == CODES["sme1"]


def test_load_and_reload_updates_in_place(tmp_path, small_set):
    db = store.open_db(tmp_path / "m.db")
    paths = [small_set["relations"], small_set["firms"], small_set["demands"]]
    assert store.load_files(db, paths) == {"firms": 3, "demands": 2, "relations": 2}
    first = store.get_firm(db, CODES["sme1"])
    small_set["firms"].write_text(small_set["firms"].read_text(encoding="utf-8").replace(
        "反渗透膜元件", "反渗透膜元件、纳滤膜"), encoding="utf-8")
    store.load_files(db, paths)
    assert store.counts(db)["firms"] == 3 and store.counts(db)["relations"] == 2
    again = store.get_firm(db, CODES["sme1"])
    assert again["products"] == "反渗透膜元件、纳滤膜" and again["tiers"] == first["tiers"]
    assert store.get_demand(db, "T-1")["cooperation"] == ["联合开发", "产品采购"]


def test_rejected_load_changes_nothing(tmp_path, small_set):
    db = store.open_db(tmp_path / "m.db")
    store.load_files(db, [small_set["firms"]])
    before = db.execute("SELECT * FROM firms ORDER BY credit_code").fetchall()
    small_set["firms"].write_text(small_set["firms"].read_text(encoding="utf-8").replace(
        "做膜的", "改过的").replace("中小企业,创新型", "未知,创新型"), encoding="utf-8")
    with pytest.raises(ImportFailed):
        store.load_files(db, [small_set["firms"], small_set["demands"]])
    assert db.execute("SELECT * FROM firms ORDER BY credit_code").fetchall() == before
    assert store.counts(db)["demands"] == 0


def test_load_killed_half_way_leaves_the_database_as_it_was(tmp_path, small_set):
    """A real process writes the firms, then dies before committing the demands."""
    path = tmp_path / "m.db"
    store.open_db(path).close()
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from matchmaker import db as store
        real = store.upsert_demands
        def dying(db, records, progress=None):
            assert db.execute("SELECT count(*) FROM firms").fetchone()[0] == 3
            os._exit(9)  # as a kill -9 would: no cleanup, no rollback by Python
        store.upsert_demands = dying
        store.load_files(store.open_db({str(path)!r}), {[str(p) for p in small_set.values()]!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM firms").fetchone()[0] == 0
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_relation_rows_keep_foreign_keys(tmp_path, small_set):
    db = store.open_db(tmp_path / "m.db")
    store.load_files(db, list(small_set.values()))
    with pytest.raises(sqlite3.IntegrityError):
        with db.atomic():
            db.execute("INSERT INTO relations(firm_a, firm_b, relation) VALUES ('x', 'y', '供应')")


def test_taxonomy_mirrored_into_tables(tmp_path):
    from matchmaker.taxonomy import load_taxonomy

    db = store.open_db(tmp_path / "m.db")
    tx = load_taxonomy()
    assert store.sync_taxonomy(db, tx) == len(tx.segments)
    assert store.sync_taxonomy(db, tx) == len(tx.segments)  # idempotent
    stages = {r[0] for r in db.execute("SELECT DISTINCT stage FROM segments").fetchall()}
    assert stages == {"上游", "中游", "下游"}
    assert db["chains"].count == len(tx.chains)
