"""Operations: ``/healthz`` (the process is up; no key), ``/readyz`` (database and Redis reachable, migrations
current), ``/metrics`` (the Prometheus registry the project already has), and the OpenAPI schema and its docs:
``/docs`` (Swagger UI) and ``/redoc``, their scripts and styles served from the installed ``fastapi-offline``
package (no CDN: the docs load on a machine offline). The docs hold no data: they need no key unless ``serve
--private-docs`` (``docs_router``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ferstream.api_server.auth import caller
from ferstream.api_server.problems import problem
from ferstream.api_server.state import ApiState, api_state
from ferstream.urls import mask_secrets

open_router = APIRouter(tags=["operations"])
router = APIRouter(tags=["operations"], dependencies=[Depends(caller)])
#: the schema and its docs: mounted with or without ``caller`` (``serve --private-docs``) by ``app.create_app``
docs_router = APIRouter(tags=["operations"])
#: where the docs' scripts, styles and icon are served from (``docs_assets``)
DOCS_ASSETS = "/docs/assets"


def docs_assets():
    """The Swagger UI and ReDoc files the docs load (``fastapi-offline``'s copies), as a Starlette static app."""
    from importlib.resources import files

    from fastapi.staticfiles import StaticFiles

    return StaticFiles(directory=str(files("fastapi_offline") / "static"))


@open_router.get("/healthz", summary="the process is up (no key needed)")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="ready to serve: database and Redis reachable, migrations current")
async def readyz(state: ApiState = Depends(api_state)):
    checks = await run_in_threadpool(_checks, state)
    failing = {k: v for k, v in checks.items() if v != "ok"}
    if failing:
        return problem(503, "Service unavailable", "; ".join(f"{k}: {v}" for k, v in failing.items()), checks=checks)
    return JSONResponse({"status": "ready", "checks": checks})


def _checks(state: ApiState) -> dict:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.config import Config
    from ferstream.db.engine import MIGRATIONS

    checks = {}
    try:
        with state.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == head else f"at {current}, the code needs {head}"
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the answer
        checks["database"] = mask_secrets(f"unreachable: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}")
    redis_url = state.config.settings.redis_url
    if redis_url:
        try:
            from redis import Redis

            Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = mask_secrets(f"unreachable: {exc}")
    return checks


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@docs_router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@docs_router.get("/docs", include_in_schema=False)
def docs(request: Request):
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} - docs",
                               swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")


@docs_router.get("/redoc", include_in_schema=False)
def redoc(request: Request):
    return get_redoc_html(openapi_url="/openapi.json", title=f"{request.app.title} - docs",
                          redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                          with_google_fonts=False)
