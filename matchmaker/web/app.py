"""The Starlette application: `create_app(db_path)` builds it, the lifespan opens the
database and fits the one Matcher the pages and the API share.

    uvicorn --factory 'matchmaker.web.app:app_from_env'     # MATCHMAKER_DB=path
    matchmaker serve --db matchmaker.db                     # cli.py calls create_app(db_path)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates

from matchmaker.web import auth
from matchmaker.web.errors import EXCEPTION_HANDLERS
from matchmaker.web.matching import Matching
from matchmaker.web.store import Store

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

SESSION_MAX_AGE = 8 * 3600  # one working day


class _LazySecretSessions:
    """SessionMiddleware whose key comes from the database, which is opened only after the
    middleware stack is built; the key is read once, at the first request."""

    def __init__(self, app, store: Store, **kwargs):
        self._store = store
        self._kwargs = kwargs
        self._inner: SessionMiddleware | None = None
        self._app = app

    async def __call__(self, scope, receive, send):
        if self._inner is None:
            secret = auth.session_secret(self._store.db())
            self._inner = SessionMiddleware(self._app, secret_key=secret, **self._kwargs)
        await self._inner(scope, receive, send)


CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'")


class SecurityHeaders:
    """Headers every answer carries: no framing, no MIME sniffing, no referrer leaks, and a
    Content-Security-Policy without inline script (templates use /static/app.js). Exported
    sheets keep their own markup and get no CSP."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sheet = "/sheets/" in scope.get("path", "")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"same-origin")]
                if not sheet:
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from matchmaker.web import views

    env.filters.update(views.FILTERS)
    env.globals.update(views.GLOBALS)
    return Jinja2Templates(env=env, context_processors=[views.context])


def create_app(db_path: str | os.PathLike, *, secret: str | None = None,
               fit_matcher: bool = True, https_only: bool = False,
               debug: bool = False) -> Starlette:
    """The matchmaker web app over one SQLite file.

    `secret` overrides MATCHMAKER_SECRET / the key kept in the database (tests use it);
    `fit_matcher=False` skips the fit (pages then show no ranked results), for tools that
    only need the account pages.
    """
    from matchmaker.web.routes import build_routes

    store = Store(db_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        store.migrate()
        matching = Matching(store)
        if fit_matcher:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(matching.load)
        app.state.matching = matching
        try:
            yield
        finally:
            store.close()

    session_kwargs = dict(session_cookie="matchmaker_session", max_age=SESSION_MAX_AGE,
                          same_site="lax", https_only=https_only)
    if secret:
        middleware = [Middleware(SessionMiddleware, secret_key=secret, **session_kwargs)]
    else:
        middleware = [Middleware(_LazySecretSessions, store=store, **session_kwargs)]

    middleware = [Middleware(SecurityHeaders)] + middleware
    app = Starlette(debug=debug, routes=build_routes(STATIC_DIR), middleware=middleware,
                    exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.store = store
    app.state.templates = _templates()
    app.state.db_path = str(db_path)
    app.state.page_cache = {}  # views.cached_by_data
    return app


def app_from_env() -> Starlette:
    return create_app(os.environ.get("MATCHMAKER_DB", "matchmaker.db"))
