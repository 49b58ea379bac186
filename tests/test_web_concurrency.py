"""Twenty users writing at once through a real uvicorn server: no "database is locked",
no lost write. Writes are short BEGIN IMMEDIATE transactions on per-thread connections
with a busy timeout (store.py)."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from matchmaker import db as dbmod
from matchmaker.web.app import create_app
from matchmaker.web.sample import build_sample


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sample = build_sample(tmp_path_factory.mktemp("conc") / "web.db")
    port = free_port()
    config = uvicorn.Config(create_app(sample.path, secret="conc-secret"), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield sample, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_twenty_concurrent_writers(server):
    sample, base = server
    writers = ["leader_a", "leader_a2", "leader_b"] * 5 + ["sme_a", "sme_b", "sme_c", "outsider", "sme_a"]
    assert len(writers) == 20
    per_user = 5
    barrier = threading.Barrier(len(writers))

    def work(i: int, who: str) -> list[int]:
        user = sample.users[who]
        headers = {"Authorization": f"Bearer {user['token']}"}
        codes = []
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            barrier.wait()
            for k in range(per_user):
                if user["role"] == "leader":
                    r = c.post("/demands/new", data={
                        "title": f"并发写入测试需求 {i}-{k}", "kind": "技术需求",
                        "description": "用于验证多用户同时提交时数据库不会锁死，每条需求都应写入。",
                        "specs": "并发 20 用户", "chains": "智能家电", "cooperation": "联合研发",
                        "deadline": "2027-12-31", "action": "publish"})
                else:
                    r = c.post("/profile", data={"products": f"反渗透膜元件 第{i}-{k}版", "technologies": "卷式膜",
                                                 "district": "城阳区", "chains": "智能家电"})
                codes.append(r.status_code)
                c.get("/api/demands")  # readers in between
        return codes

    started = time.time()
    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        results = list(pool.map(lambda a: work(*a), enumerate(writers)))
    elapsed = time.time() - started
    codes = [c for r in results for c in r]
    assert all(c == 303 for c in codes), codes
    db = dbmod.connect(sample.path)
    n = db.execute("SELECT COUNT(*) FROM demands WHERE title LIKE '并发写入测试需求%'").fetchone()[0]
    assert n == 15 * per_user  # every leader write landed, none lost, ids unique
    assert elapsed < 120


def test_store_write_transactions_queue_across_threads(tmp_path):
    """The app's write path on 20 threads with their own connections, each transaction
    reading before it writes (the pattern that fails at once in a deferred transaction)."""
    from matchmaker.web.store import Store

    sample = build_sample(tmp_path / "store.db")
    store = Store(sample.path)
    errors = []
    barrier = threading.Barrier(20)

    def work(i: int):
        barrier.wait()
        for k in range(10):
            try:
                with store.write() as db:
                    n = db.execute("SELECT COUNT(*) FROM login_attempts").fetchone()[0]
                    db.execute("INSERT INTO login_attempts(username, ip, at, ok) VALUES (?, ?, ?, 0)",
                               [f"u{i}", f"n{n}", dbmod.now()])
            except Exception as exc:  # collected: the assertion below names it
                errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert errors == []
    db = dbmod.connect(sample.path)
    assert db.execute("SELECT COUNT(*) FROM login_attempts").fetchone()[0] == 200
    # each transaction saw all earlier ones: the counts read are 0..199, each once
    assert sorted(int(r[0][1:]) for r in db.execute("SELECT ip FROM login_attempts")) == list(range(200))
