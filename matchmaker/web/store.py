"""Database connections for the web app: one per thread, short IMMEDIATE write transactions.

SQLite in WAL lets readers run beside one writer; writers queue on the busy timeout. A
deferred transaction that reads before it writes can fail at once with SQLITE_BUSY when
another connection committed in between (the busy handler is not consulted for that
upgrade), so every write here starts with BEGIN IMMEDIATE: it takes the write lock first
and waits its turn. Functions from db.py/events.py that open `db.atomic()` inside become
savepoints of that transaction.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from matchmaker import db as dbmod


class Store:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def migrate(self) -> Database:
        db = dbmod.open_db(self.path)
        self._local.db = db
        with self._lock:
            self._all.append(db)
        return db

    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = dbmod.connect(self.path)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    @contextmanager
    def write(self):
        """A short write transaction holding the write lock from its first statement."""
        db = self.db()
        if db.conn.in_transaction:
            # Nested use: join the outer transaction as a savepoint.
            with db.atomic():
                yield db
            return
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        else:
            if db.conn.in_transaction:
                db.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.conn.close()
                except Exception:  # closing from another thread is best effort
                    pass
            self._all.clear()
        self._local = threading.local()


def rows(db: Database, sql: str, params=()) -> list[dict]:
    cur = db.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def row(db: Database, sql: str, params=()) -> dict | None:
    found = rows(db, sql, params)
    return found[0] if found else None


def scalar(db: Database, sql: str, params=()):
    r = db.execute(sql, list(params)).fetchone()
    return r[0] if r else None
