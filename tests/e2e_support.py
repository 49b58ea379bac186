"""A live matchmaker server on the demo dataset, Debian's Chromium through Playwright, and
helpers the browser tests, the concurrency test and bench/web_load.py share.

The server is the real thing: `matchmaker demo --db TMP` then `matchmaker serve --db TMP
--port P` in a subprocess on 127.0.0.1. Building the demo database and fitting the ranker
take ~20 s, so one server is started per test process and shared by every e2e module
(a session fixture defined outside conftest.py would be rebuilt per importing module).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG_DIR = ROOT / "docs" / "img"
CHROMIUM = Path(os.environ.get("MATCHMAKER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEMO_PASSWORD = "demo-2026"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCREENSHOTS = os.environ.get("MATCHMAKER_SCREENSHOTS", "") not in ("", "0")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def as_user(client, sample, who) -> str:
    """Log in through the form with an in-process client (a starlette TestClient over
    matchmaker.web.sample's accounts); returns the session's CSRF token."""
    client.cookies.clear()
    token = CSRF.search(client.get("/login").text).group(1)
    user = sample.users[who]
    resp = client.post("/login", data={"username": user["username"], "password": user["password"],
                                       "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    return CSRF.search(client.get("/account").text).group(1)


def matchmaker_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "matchmaker"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("matchmaker")
    return [found] if found else [sys.executable, "-m", "matchmaker.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """`matchmaker serve` on a database file, in its own process group."""

    db_path: Path
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> "LiveServer":
        import httpx

        self.log_path = self.log_path or self.db_path.with_suffix(".serve.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            matchmaker_cmd() + ["serve", "--db", str(self.db_path), "--host", "127.0.0.1",
                                "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"matchmaker serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/login", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"matchmaker serve did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except (OSError, AttributeError):
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def build_demo_db(path: Path) -> Path:
    """The demo dataset and accounts, loaded by the command a user runs."""
    subprocess.run(matchmaker_cmd() + ["demo", "--db", str(path)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    return path


_shared: dict[str, LiveServer] = {}
_shared_lock = threading.Lock()
_tmp: list[Path] = []


def _tmpdir() -> Path:
    if not _tmp:
        _tmp.append(Path(tempfile.mkdtemp(prefix="matchmaker-e2e-")))
        atexit.register(shutil.rmtree, _tmp[0], True)
    return _tmp[0]


def demo_server(name: str = "demo") -> LiveServer:
    """A live server on its own copy of a fresh demo database, one per `name` per process
    (so tests that write a lot do not disturb what another module asserts), stopped at exit."""
    with _shared_lock:
        if name not in _shared:
            template = _tmpdir() / "template.db"
            if not template.exists():
                build_demo_db(template)
            path = _tmpdir() / f"{name}.db"
            # the backup API copies a WAL database consistently
            with closing(sqlite3.connect(template)) as src, closing(sqlite3.connect(path)) as dst:
                src.backup(dst)
            server = LiveServer(path).start()
            _shared[name] = server
            atexit.register(server.stop)
        return _shared[name]


def stop_demo_server(name: str = "demo") -> None:
    """Free the server's memory once the module that used it is done."""
    with _shared_lock:
        server = _shared.pop(name, None)
    if server is not None:
        server.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(str(server.db_path) + suffix).unlink(missing_ok=True)


def add_accounts(db_path, n_sme: int, n_leader: int, n_org: int) -> dict[str, list[str]]:
    """Accounts for many simultaneous people: the demo's sme1-3 / leader1-3 / admin and more
    of the same pattern (password DEMO_PASSWORD) bound to the next SMEs and the next leaders
    with open demands, in load order as demo.py picks them."""
    from matchmaker import db as dbmod
    from matchmaker.users import create_user, get_user

    db = dbmod.connect(db_path)
    try:
        smes = [r[0] for r in db.execute("SELECT credit_code FROM firms WHERE role = 'sme' "
                                         "ORDER BY rowid LIMIT ?", [n_sme]).fetchall()]
        leaders = [r[0] for r in db.execute(
            "SELECT credit_code FROM firms WHERE role = 'leader' AND credit_code IN "
            "(SELECT leader FROM demands WHERE status = 'open') ORDER BY rowid LIMIT ?",
            [n_leader]).fetchall()]
        wanted = [(f"sme{i}", "sme", c) for i, c in enumerate(smes, 1)]
        wanted += [(f"leader{i}", "leader", c) for i, c in enumerate(leaders, 1)]
        wanted += [("admin" if i == 1 else f"org{i}", "organizer", None) for i in range(1, n_org + 1)]
        for username, role, firm in wanted:
            if get_user(db, username) is None:
                create_user(db, username, DEMO_PASSWORD, role, firm=firm)
        out: dict[str, list[str]] = {"sme": [], "leader": [], "organizer": []}
        for username, role, _ in wanted:
            out[role].append(username)
        return out
    finally:
        db.conn.close()


# --- browser ------------------------------------------------------------------------------


def chromium_missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return (f"{CHROMIUM} is absent: the browser tests drive Debian's Chromium and never "
                "download one (`make test` installs it: apt-get install chromium fonts-noto-cjk)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def shot(page, name: str, full_page: bool = False) -> Path | None:
    """docs/img/<name>.png when MATCHMAKER_SCREENSHOTS is set (CI leaves committed files alone)."""
    if not SCREENSHOTS:
        return None
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    out = IMG_DIR / f"{name}.png"
    page.screenshot(path=str(out), full_page=full_page, animations="disabled")
    return out


def browser_login(page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


# --- plain HTTP clients (concurrency test, load benchmark) ---------------------------------


def http_login(client, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log an httpx.Client in through the form; returns the session's CSRF token."""
    token = CSRF.search(client.get("/login").text).group(1)
    resp = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}, follow_redirects=False)
    if resp.status_code != 303 or "/login" in resp.headers.get("location", ""):
        raise RuntimeError(f"login of {username} failed: HTTP {resp.status_code}")
    # /account is the cheapest page that carries the session's token (an SME's home ranks)
    return CSRF.search(client.get("/account").text).group(1)
