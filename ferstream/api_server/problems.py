"""Every error as ``application/problem+json`` (RFC 9457): a status, a title, a clear detail; never a stack trace,
a path on the server or a password (every text passes through ``urls.mask_secrets``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferstream.errors import ConfigError, FerstreamError, ServiceError, VideoError
from ferstream.urls import mask_secrets

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ApiProblem(Exception):
    """An error the API answers with: raised once, turned into problem+json by one handler."""

    def __init__(self, status: int, title: str, detail: str, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers, self.extra = status, title, detail, headers or {}, extra


def problem(status: int, title: str, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": mask_secrets(detail), **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: the project's errors by the status they answer with (the first match wins; anything else is a 400)
_STATUS = (("SourceNotFound", 404, "Not found"), ("CameraNotFound", 404, "Not found"), ("KeyNotFound", 404, "Not found"),
           ("CameraExists", 409, "Conflict"))


def status_of(exc: FerstreamError) -> tuple[int, str]:
    for name, status, title in _STATUS:
        if type(exc).__name__ == name:
            return status, title
    if isinstance(exc, ServiceError):
        return 503, "Service unavailable"
    if isinstance(exc, (ConfigError, VideoError)):
        return 422, "Unprocessable content"
    return 400, "Bad request"


def install(app: FastAPI) -> None:
    """The handlers: ApiProblem, the project's errors, FastAPI's validation, Starlette's HTTP errors, the rest."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem):
        return problem(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(FerstreamError)
    async def _ferstream_error(_request: Request, exc: FerstreamError):
        status, title = status_of(exc)
        return problem(status, title, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                  for e in exc.errors()]  # the values sent are not echoed back
        detail = "; ".join(f"{e['where']}: {e['problem']}" for e in errors) or "the request is malformed"
        return problem(422, "Unprocessable content", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "the request cannot be served"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path[:200]}: the routes are listed at /docs"
        elif exc.status_code == 405:
            detail = f"{request.method} is not served at {request.url.path[:200]}: the routes are listed at /docs"
        return problem(exc.status_code, _title(exc.status_code), detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "Internal server error", "the server failed to answer this request; its log says why")


def _title(status: int) -> str:
    from http import HTTPStatus

    if status == 422:  # RFC 9110's name, as every other 422 here (Python 3.11 still says "Unprocessable Entity")
        return "Unprocessable content"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
