"""The app factory: ``create_app(config)`` builds one FastAPI app with its own state (no module-level app), so a
test or a process can build as many as it needs."""

from __future__ import annotations

import contextlib
import logging

from fastapi import Depends, FastAPI

from ferstream import __version__
from ferstream.api_server import metrics, problems
from ferstream.api_server.analysis import PhotoAnalyzer
from ferstream.api_server.auth import caller
from ferstream.api_server.config import ServerConfig
from ferstream.api_server.guards import HostAndOrigin, JsonDepthLimit
from ferstream.api_server.routes import analyze, cameras, live, ops, previews, sources, videos
from ferstream.api_server.state import ApiState
from ferstream.api_server.upload_folder import UploadFolder
from ferstream.api_server.videos import VideoSubmitter

log = logging.getLogger(__name__)

DESCRIPTION = """Emotion analytics over HTTP: analyse photos now, submit videos, read every face and track, follow
results live (Server-Sent Events), watch a running camera with its faces drawn (MJPEG) and manage the cameras of a
running `ferstream watch --config`.

Every route but `/healthz` and these docs (`/docs`, `/redoc`, `/openapi.json`: no key unless the server runs with
`--private-docs`) needs `Authorization: Bearer KEY` (`ferstream apikey create --name NAME`); errors are
`application/problem+json`."""


def create_app(config: ServerConfig) -> FastAPI:
    from ferstream import db

    folder = UploadFolder.open(config.upload_dir, config.host, config.port)  # refused: a ConfigError, said plainly
    engine = db.connect(config.settings.database_url)
    photos = PhotoAnalyzer(config.settings, config.photo_min_face)
    photos.load()  # a bad --model or detector fails here, before the server listens
    submitter = VideoSubmitter(config.settings, engine, folder)
    removed = submitter.clean_leftovers()
    if removed:
        log.info("removed %d file(s) an earlier server left in its upload folder", removed)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        submitter.stop()  # ingest still running ends after its chunk in hand; its source says the server stopped
        folder.close()  # the folder goes only when empty: an ingest still running keeps its file

    app = FastAPI(title="ferstream", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.api = ApiState(config, engine, photos, submitter)
    problems.install(app)
    app.add_middleware(JsonDepthLimit)  # inside metrics' middleware, which would wrap its refusal in a task group's
    metrics.install(app)
    for router in (ops.open_router, ops.router, analyze.router, videos.router, sources.router, live.router,
                   cameras.router, previews.router):
        app.include_router(router)
    app.include_router(ops.docs_router, dependencies=[Depends(caller)] if config.private_docs else [])
    app.mount(ops.DOCS_ASSETS, ops.docs_assets(), name="docs-assets")
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"])
    app.add_middleware(HostAndOrigin, config=config)  # the last added runs first: a foreign Host gets nothing else
    return app
