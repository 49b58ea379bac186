"""One error type for the web app, mapped to a response by one handler (as Datasette does).

Views raise `WebError` (or the project-wide `matchmaker.errors.UserError`, which it extends)
with a Chinese message and a status; `handle_error` renders it as an HTML page for browsers,
a small fragment for htmx, or JSON under /api. Anything else that escapes a view is a bug:
it is logged and answered with a plain Chinese 500 page that shows no internals.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from matchmaker.errors import UserError

log = logging.getLogger("matchmaker.web")

STATUS_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持的操作",
    409: "操作冲突",
    413: "文件过大",
    422: "内容有误",
    429: "操作过于频繁",
    500: "系统错误",
    503: "服务暂不可用",
}


class WebError(UserError):
    """A refusal shown to the user as is. `status_code` decides the HTTP status."""

    def __init__(self, message: str, status_code: int = 400, *, headers: dict | None = None,
                 errors: dict[str, str] | None = None):
        super().__init__(message, status_code)
        self.headers = headers or {}
        # field -> what is wrong with it, for API callers (the JSON answer names the fields)
        self.errors = dict(errors or {})


def invalid(errors: dict[str, str], status_code: int = 422) -> WebError:
    """A refusal naming each faulty field: '标题：请填写需求名称。' in the message, and the
    fields themselves under `errors` (and the first under `field`) in a JSON answer."""
    message = "；".join(f"{field}：{text}" for field, text in errors.items())
    return WebError(message, status_code, errors=errors)


def not_found(what: str = "页面") -> WebError:
    return WebError(f"{what}不存在或已被删除。", 404)


def forbidden(message: str = "您的账号无权访问此页面。") -> WebError:
    return WebError(message, 403)


def unauthorized() -> WebError:
    return WebError("请先登录。", 401)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def _render(request: Request, status: int, message: str, headers: dict | None = None,
            errors: dict[str, str] | None = None) -> Response:
    title = STATUS_TITLES.get(status, "出错了")
    if wants_json(request):
        body = {"error": title, "message": message, "status": status}
        if errors:
            body.update(field=next(iter(errors)), errors=errors)
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        # Browsers are sent to the login page and brought back afterwards.
        from urllib.parse import quote

        target = request.url.path + (("?" + request.url.query) if request.url.query else "")
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login?next=" + quote(target)})
        return RedirectResponse("/login?next=" + quote(target), status_code=303)
    templates = getattr(request.app.state, "templates", None)
    if request.headers.get("HX-Request"):
        # htmx swaps only 2xx by default; the error fragment goes to the flash area.
        body = f'<div class="alert alert-error" role="alert">{_escape(message)}</div>'
        return HTMLResponse(body, status_code=status,
                            headers={**(headers or {}), "HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    if templates is None:
        return HTMLResponse(f"<h1>{title}</h1><p>{_escape(message)}</p>", status_code=status, headers=headers)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "title": title, "message": message},
        status_code=status, headers=headers,
    )


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


async def handle_user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UserError)
    return _render(request, exc.status_code, exc.message, getattr(exc, "headers", None),
                   getattr(exc, "errors", None))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "您访问的页面不存在。", 405: "不支持此操作。"}
    message = messages.get(exc.status_code) or STATUS_TITLES.get(exc.status_code, "请求有误") + "。"
    return _render(request, exc.status_code, message, exc.headers)


async def handle_server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _render(request, 500, "系统出现异常，请稍后重试；如仍有问题请联系管理员。")


EXCEPTION_HANDLERS = {
    UserError: handle_user_error,
    HTTPException: handle_http_exception,
    Exception: handle_server_error,
}
