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
import subprocess
import sys
import tempfile
import threading
import time
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


def demo_server() -> LiveServer:
    """One live server on a fresh demo database per process, stopped at exit."""
    with _shared_lock:
        if "demo" not in _shared:
            tmp = Path(tempfile.mkdtemp(prefix="matchmaker-e2e-"))
            server = LiveServer(build_demo_db(tmp / "demo.db"))
            server.start()
            _shared["demo"] = server

            def cleanup(server=server, tmp=tmp):
                server.stop()
                shutil.rmtree(tmp, ignore_errors=True)

            atexit.register(cleanup)
        return _shared["demo"]


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
    home = client.get(resp.headers["location"])
    return CSRF.search(home.text).group(1)
