"""The one module that owns the database: schema (as sqlite-utils migrations), connections,
and reading and writing the canonical records of docs/design.md.

Every connection runs in WAL mode with foreign keys on and a busy timeout, so the web app's
short write transactions from many users queue instead of failing with "database is locked".
Writes that belong together go through `db.atomic()` (nested blocks become savepoints), so a
command either changes everything it set out to or nothing.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

DEFAULT_PATH = "matchmaker.db"
BUSY_TIMEOUT_MS = 30_000

migrations = Migrations("matchmaker")

FIRM_LIST_FIELDS = ("tiers", "chains", "segments")
DEMAND_LIST_FIELDS = ("chains", "cooperation")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path: str | Path = DEFAULT_PATH) -> Database:
    """A connection with our pragmas, without touching the schema."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")
    if str(path) != ":memory:":
        with db.ensure_autocommit_on():
            db.execute("PRAGMA journal_mode = WAL")
    return db


def open_db(path: str | Path = DEFAULT_PATH) -> Database:
    """Connect and bring the schema up to date."""
    db = connect(path)
    migrate(db)
    return db


def migrate(db: Database) -> None:
    migrations.apply(db)


def schema_version(db: Database) -> list[str]:
    return [m.name for m in migrations.applied(db)]


# --- migrations -------------------------------------------------------------------------
# Append new migrations at the end; never edit one that has shipped.


@migrations()
def m001_core(db: Database) -> None:
    db["firms"].create(
        {
            "credit_code": str,
            "name": str,
            "role": str,
            "tiers": str,
            "chains": str,
            "segments": str,
            "products": str,
            "technologies": str,
            "description": str,
            "district": str,
            "extra": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="credit_code",
        not_null={"name", "role"},
    )
    db["firms"].create_index(["name"], unique=True)
    db["firms"].create_index(["role"])
    db["demands"].create(
        {
            "demand_id": str,
            "leader": str,
            "kind": str,
            "title": str,
            "description": str,
            "specs": str,
            "chains": str,
            "cooperation": str,
            "deadline": str,
            "status": str,
            "extra": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="demand_id",
        not_null={"leader", "kind", "title"},
        defaults={"status": "open"},
        foreign_keys=[("leader", "firms", "credit_code")],
    )
    db["demands"].create_index(["leader"])
    db["relations"].create(
        {
            "id": int,
            "firm_a": str,
            "firm_b": str,
            "relation": str,
            "year": int,
            "source": str,
            "created_at": str,
        },
        pk="id",
        not_null={"firm_a", "firm_b", "relation"},
        defaults={"source": "import"},
        foreign_keys=[("firm_a", "firms", "credit_code"), ("firm_b", "firms", "credit_code")],
    )
    db["relations"].create_index(["firm_a", "firm_b", "relation"], unique=True)
    db["relations"].create_index(["firm_b"])
    db["chains"].create(
        {"name": str, "aliases": str, "description": str}, pk="name"
    )
    db["segments"].create(
        {"id": str, "chain": str, "name": str, "stage": str, "parent": str, "terms": str},
        pk="id",
        foreign_keys=[("chain", "chains", "name")],
    )


@migrations()
def m002_events(db: Database) -> None:
    db["events"].create(
        {
            "id": int,
            "name": str,
            "date": str,
            "venue": str,
            "start": str,
            "slots": int,
            "slot_minutes": int,
            "tables": int,
            "breaks": str,
            "chains": str,
            "status": str,
            "relevance_floor": float,
            "max_per_sme": int,
            "created_at": str,
        },
        pk="id",
        not_null={"name", "date", "start", "slots", "slot_minutes", "tables"},
        defaults={"status": "draft", "max_per_sme": 3, "breaks": "[]", "chains": "[]"},
    )
    db["participants"].create(
        {
            "event_id": int,
            "credit_code": str,
            "role": str,
            "tables": str,
            "checked_in": int,
            "no_show": int,
            "invited_at": str,
        },
        pk=("event_id", "credit_code"),
        defaults={"checked_in": 0, "no_show": 0, "tables": "[]"},
        foreign_keys=[("event_id", "events", "id"), ("credit_code", "firms", "credit_code")],
    )
    db["unavailability"].create(
        {"event_id": int, "credit_code": str, "slot": int},
        pk=("event_id", "credit_code", "slot"),
        foreign_keys=[("event_id", "events", "id"), ("credit_code", "firms", "credit_code")],
    )
    db["meeting_requests"].create(
        {
            "id": int,
            "event_id": int,
            "sme": str,
            "leader": str,
            "demand_id": str,
            "message": str,
            "status": str,
            "created_at": str,
            "answered_at": str,
        },
        pk="id",
        defaults={"status": "pending"},
        foreign_keys=[
            ("event_id", "events", "id"),
            ("sme", "firms", "credit_code"),
            ("leader", "firms", "credit_code"),
            ("demand_id", "demands", "demand_id"),
        ],
    )
    db["meeting_requests"].create_index(["leader", "status"])
    db["meeting_requests"].create_index(["sme"])
    db["shortlists"].create(
        {"leader": str, "demand_id": str, "sme": str, "created_at": str},
        pk=("demand_id", "sme"),
        foreign_keys=[
            ("leader", "firms", "credit_code"),
            ("demand_id", "demands", "demand_id"),
            ("sme", "firms", "credit_code"),
        ],
    )
    db["must_meets"].create(
        {"event_id": int, "leader": str, "sme": str, "demand_id": str},
        pk=("event_id", "leader", "sme"),
        foreign_keys=[
            ("event_id", "events", "id"),
            ("leader", "firms", "credit_code"),
            ("sme", "firms", "credit_code"),
        ],
    )
    db["meetings"].create(
        {
            "id": int,
            "event_id": int,
            "slot": int,
            "table_no": int,
            "leader": str,
            "sme": str,
            "demand_id": str,
            "score": float,
            "reasons": str,
            "locked": int,
            "status": str,
            "source": str,
        },
        pk="id",
        defaults={"locked": 0, "status": "scheduled", "source": "pairing"},
        foreign_keys=[
            ("event_id", "events", "id"),
            ("leader", "firms", "credit_code"),
            ("sme", "firms", "credit_code"),
        ],
    )
    db["meetings"].create_index(["event_id", "slot"])
    db["outcomes"].create(
        {
            "meeting_id": int,
            "result": str,
            "amount": float,
            "note": str,
            "recorded_by": str,
            "recorded_at": str,
        },
        pk="meeting_id",
        foreign_keys=[("meeting_id", "meetings", "id")],
    )


@migrations()
def m003_users(db: Database) -> None:
    db["users"].create(
        {
            "id": int,
            "username": str,
            "password_hash": str,
            "role": str,
            "firm": str,
            "display_name": str,
            "active": int,
            "created_at": str,
        },
        pk="id",
        not_null={"username", "password_hash", "role"},
        defaults={"active": 1},
        foreign_keys=[("firm", "firms", "credit_code")],
    )
    db["users"].create_index(["username"], unique=True)
    db["api_tokens"].create(
        {
            "id": int,
            "user_id": int,
            "token_hash": str,
            "name": str,
            "created_at": str,
            "last_used_at": str,
        },
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
    )
    db["api_tokens"].create_index(["token_hash"], unique=True)
    db["invitations"].create(
        {
            "id": int,
            "token_hash": str,
            "role": str,
            "firm": str,
            "created_by": int,
            "expires_at": str,
            "used_at": str,
        },
        pk="id",
    )
    db["invitations"].create_index(["token_hash"], unique=True)
    db["login_attempts"].create(
        {"id": int, "username": str, "ip": str, "at": str, "ok": int}, pk="id"
    )
    db["login_attempts"].create_index(["username", "ip", "at"])
    db["settings"].create({"key": str, "value": str}, pk="key")


# --- records ----------------------------------------------------------------------------


def json_text(value) -> str:
    """A value as stored in a JSON column (Chinese kept readable)."""
    return json.dumps(value, ensure_ascii=False)


def json_value(value, default):
    """A JSON column's value, or `default` when it is empty or not JSON."""
    if value in (None, ""):
        return default
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default


def firm_row(record: dict, stamp: str) -> dict:
    row = {k: record.get(k) or "" for k in ("credit_code", "name", "role", "products",
                                            "technologies", "description", "district")}
    for k in FIRM_LIST_FIELDS:
        row[k] = json_text(list(record.get(k) or []))
    row["extra"] = json_text(record.get("extra") or {})
    row["updated_at"] = stamp
    return row


def demand_row(record: dict, stamp: str) -> dict:
    row = {k: record.get(k) or "" for k in ("demand_id", "leader", "kind", "title",
                                            "description", "specs")}
    for k in DEMAND_LIST_FIELDS:
        row[k] = json_text(list(record.get(k) or []))
    row["deadline"] = record.get("deadline") or None
    row["status"] = record.get("status") or "open"
    row["extra"] = json_text(record.get("extra") or {})
    row["updated_at"] = stamp
    return row


def firm_record(row: dict) -> dict:
    rec = {k: row.get(k) or "" for k in ("credit_code", "name", "role", "products",
                                         "technologies", "description", "district")}
    for k in FIRM_LIST_FIELDS:
        rec[k] = json_value(row.get(k), [])
    rec["extra"] = json_value(row.get("extra"), {})
    return rec


def demand_record(row: dict) -> dict:
    rec = {k: row.get(k) or "" for k in ("demand_id", "leader", "kind", "title",
                                         "description", "specs", "status")}
    for k in DEMAND_LIST_FIELDS:
        rec[k] = json_value(row.get(k), [])
    rec["deadline"] = row.get("deadline") or None
    rec["extra"] = json_value(row.get("extra"), {})
    return rec


def _upsert_sql(table: str, columns: list[str], pk: list[str], keep: Iterable[str] = ()) -> str:
    """INSERT … ON CONFLICT DO UPDATE: updates rows in place, so rows that point at them
    (demands at firms, meetings at demands) stay valid, unlike INSERT OR REPLACE."""
    cols = ", ".join(f"[{c}]" for c in columns)
    marks = ", ".join("?" for _ in columns)
    keep = set(keep) | set(pk)
    sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in keep)
    return (f"INSERT INTO [{table}] ({cols}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}")


def upsert_firms(db: Database, records: Iterable[dict], progress=None) -> int:
    stamp = now()
    columns = ["credit_code", "name", "role", "tiers", "chains", "segments", "products",
               "technologies", "description", "district", "extra", "created_at", "updated_at"]
    sql = _upsert_sql("firms", columns, ["credit_code"], keep=["created_at"])
    return _executemany(db, sql, columns, (dict(firm_row(r, stamp), created_at=stamp)
                                           for r in records), progress)


def upsert_demands(db: Database, records: Iterable[dict], progress=None) -> int:
    stamp = now()
    columns = ["demand_id", "leader", "kind", "title", "description", "specs", "chains",
               "cooperation", "deadline", "status", "extra", "created_at", "updated_at"]
    sql = _upsert_sql("demands", columns, ["demand_id"], keep=["created_at"])
    return _executemany(db, sql, columns, (dict(demand_row(r, stamp), created_at=stamp)
                                           for r in records), progress)


def upsert_relations(db: Database, records: Iterable[dict], source: str = "import",
                     progress=None) -> int:
    stamp = now()
    columns = ["firm_a", "firm_b", "relation", "year", "source", "created_at"]
    sql = _upsert_sql("relations", columns, ["firm_a", "firm_b", "relation"],
                      keep=["created_at", "source"])
    rows = ({"firm_a": r["firm_a"], "firm_b": r["firm_b"], "relation": r["relation"],
             "year": r.get("year"), "source": r.get("source") or source, "created_at": stamp}
            for r in records)
    return _executemany(db, sql, columns, rows, progress)


def _executemany(db: Database, sql: str, columns: list[str], rows, progress, batch=5000) -> int:
    count = 0
    chunk: list[tuple] = []
    with db.atomic():
        for row in rows:
            chunk.append(tuple(row[c] for c in columns))
            if len(chunk) >= batch:
                db.conn.executemany(sql, chunk)
                count += len(chunk)
                if progress:
                    progress(len(chunk))
                chunk = []
        if chunk:
            db.conn.executemany(sql, chunk)
            count += len(chunk)
            if progress:
                progress(len(chunk))
    return count


def fetch_firms(db: Database, role: str | None = None) -> list[dict]:
    if role:
        rows = db.execute("SELECT * FROM firms WHERE role = ? ORDER BY rowid", [role])
    else:
        rows = db.execute("SELECT * FROM firms ORDER BY rowid")
    cols = [d[0] for d in rows.description]
    return [firm_record(dict(zip(cols, r))) for r in rows.fetchall()]


def fetch_demands(db: Database, status: str | None = None) -> list[dict]:
    if status:
        rows = db.execute("SELECT * FROM demands WHERE status = ? ORDER BY rowid", [status])
    else:
        rows = db.execute("SELECT * FROM demands ORDER BY rowid")
    cols = [d[0] for d in rows.description]
    return [demand_record(dict(zip(cols, r))) for r in rows.fetchall()]


def fetch_relations(db: Database) -> list[dict]:
    rows = db.execute("SELECT firm_a, firm_b, relation, year, source FROM relations ORDER BY id")
    return [dict(zip(("firm_a", "firm_b", "relation", "year", "source"), r))
            for r in rows.fetchall()]


def get_firm(db: Database, key: str) -> dict | None:
    """A firm by credit code or by name."""
    row = db.execute("SELECT * FROM firms WHERE credit_code = ? OR name = ? LIMIT 1",
                     [key, key])
    cols = [d[0] for d in row.description]
    found = row.fetchone()
    return firm_record(dict(zip(cols, found))) if found else None


def get_demand(db: Database, demand_id: str) -> dict | None:
    row = db.execute("SELECT * FROM demands WHERE demand_id = ?", [demand_id])
    cols = [d[0] for d in row.description]
    found = row.fetchone()
    return demand_record(dict(zip(cols, found))) if found else None


def firm_keys(db: Database) -> dict[str, tuple[str, str]]:
    """name and credit code -> (credit code, role), for resolving references in imports."""
    keys: dict[str, tuple[str, str]] = {}
    for code, name, role in db.execute("SELECT credit_code, name, role FROM firms").fetchall():
        keys[code] = (code, role)
        keys[name] = (code, role)
    return keys


def demand_ids(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT demand_id FROM demands").fetchall()}


def counts(db: Database) -> dict[str, int]:
    return {t: db[t].count for t in ("firms", "demands", "relations", "events", "meetings",
                                      "users")}


def get_setting(db: Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_setting(db: Database, key: str, value: str) -> None:
    with db.atomic():
        db.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])


# --- loading files ----------------------------------------------------------------------


def load_files(db: Database, paths, progress: bool | None = None) -> dict[str, int]:
    """Read the files and write them in one transaction: all of them, or nothing.

    A progress bar goes to a terminal, never into a pipe."""
    import sys

    from tqdm import tqdm

    from .importer import read_files

    loadset = read_files(paths, known=firm_keys(db))
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(total=len(loadset), unit="行", desc="导入", disable=not progress,
               file=sys.stderr, leave=False)
    try:
        with db.atomic():
            upsert_firms(db, loadset.firms, bar.update)
            upsert_demands(db, loadset.demands, bar.update)
            upsert_relations(db, loadset.relations, progress=bar.update)
    finally:
        bar.close()
    return {"firms": len(loadset.firms), "demands": len(loadset.demands),
            "relations": len(loadset.relations)}


def sync_taxonomy(db: Database, taxonomy) -> int:
    """Mirror the taxonomy's chains and segments into their tables, so that SQL (the chain
    map, statistics per chain) can join firms and demands to them."""
    with db.atomic():
        db.execute("DELETE FROM segments")
        db.execute("DELETE FROM chains")
        db.conn.executemany(
            "INSERT INTO chains(name, aliases, description) VALUES (?, ?, ?)",
            [(c.name, json_text(list(c.aliases)), "") for c in taxonomy.chains])
        db.conn.executemany(
            "INSERT INTO segments(id, chain, name, stage, parent, terms) VALUES (?, ?, ?, ?, ?, ?)",
            [(s.id, s.chain, s.name, s.stage, s.parent, json_text(list(s.terms)))
             for s in taxonomy.segments.values()])
    return len(taxonomy.segments)
