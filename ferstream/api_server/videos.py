"""Videos submitted over HTTP: stored (uploads), checked, then ingested in a thread of the server exactly as
``ferstream analyze`` ingests (``ingest.files.ingest_file`` into ``sinks.make_sink``): queued to RQ with Redis, else
analysed in this process by the worker's code. Uploads are deleted once ingest is done with them.

An upload is written as ``<id>.part`` and becomes a source only once it is whole and decodes as a video: a server
killed mid-upload leaves no source, and the next start removes what it left (``clean_leftovers``), and marks failed
the sources whose ingest it cut short.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

from sqlalchemy import select, update

from ferstream.api_server.problems import ApiProblem
from ferstream.db.models import Chunk, Source, utcnow
from ferstream.errors import FerstreamError, VideoError
from ferstream.settings import Settings
from ferstream.urls import REMOTE_FILE_SCHEMES, is_network, mask_url, scheme

log = logging.getLogger(__name__)


class ServerStopping(FerstreamError):
    """The server stopped before ingest had read the whole video."""


class VideoSubmitter:
    """Starts the ingest of submitted videos, each in a thread; in-process analysis shares one runtime. ``stop``
    ends them between two chunks: their sources are marked failed, saying the server stopped."""

    def __init__(self, settings: Settings, engine, uploads: Path):
        self.settings, self.engine, self.uploads = settings, engine, uploads
        self._runtime = None
        self._lock = threading.Lock()  # the in-process runtime's models, one chunk at a time
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()

    def stop(self, timeout: float = 10.0) -> None:
        """End every ingest still running (each after its chunk in hand) and wait for them, ``timeout`` at most."""
        import time

        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # uploads -------------------------------------------------------------------------------------------------------

    def new_upload(self) -> Path:
        self.uploads.mkdir(parents=True, exist_ok=True)
        return self.uploads / f"{uuid.uuid4().hex}.part"

    def clean_leftovers(self) -> int:
        """Remove what a server killed mid-upload or mid-ingest left in the upload folder; mark failed the sources
        whose ingest it cut short. The number of files removed."""
        removed = 0
        if self.uploads.is_dir():
            for path in self.uploads.iterdir():
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed += 1
        folder = str(self.uploads.resolve())
        with self.engine.begin() as conn:
            cut = conn.execute(select(Source.id).where(Source.kind == "file", Source.state.in_(("queued", "reading")),
                                                       Source.uri.startswith(folder + os.sep))).scalars().all()
            if cut:
                conn.execute(update(Source).where(Source.id.in_(cut)).values(
                    state="failed", error="the server stopped while it was reading this upload", updated_at=utcnow()))
            if cut and not self.settings.redis_url:  # analysed in the server that stopped: nothing else will
                conn.execute(update(Chunk).where(Chunk.source_id.in_(cut), Chunk.status == "queued").values(
                    status="failed", error="the server stopped before it analysed this chunk"))
        return removed

    # submission ----------------------------------------------------------------------------------------------------

    def check_url(self, url: str, allow_local_files: bool) -> str:
        """A video URL as ingest opens it; 422 for an empty one, a live stream, a local file (unless allowed) or
        anything else."""
        url = url.strip()
        if not url:
            raise ApiProblem(422, "Unprocessable content", "url is empty: give the http:// or https:// URL of a video "
                             "file (or upload the file)")
        kind = scheme(url)
        if kind in REMOTE_FILE_SCHEMES:
            return url
        if kind == "file" or not kind:
            if not allow_local_files:
                raise ApiProblem(422, "Unprocessable content", "local files (file:// URLs and paths) are refused: the "
                                 "server was not started with --allow-local-files")
            path = Path(url[len("file://"):] if kind == "file" else url)
            if not path.is_absolute() or not path.is_file():
                raise ApiProblem(422, "Unprocessable content", "a local file must be given by an absolute path to "
                                 "an existing file")
            return str(path)
        if is_network(url):
            raise ApiProblem(422, "Unprocessable content", f"{mask_url(url)}: a {kind}:// URL is a live stream, not a "
                             "video file: add it as a camera (POST /v1/cameras)")
        raise ApiProblem(422, "Unprocessable content", f"{mask_url(url)}: {kind}:// URLs are not read: a video URL is "
                         "http:// or https://")

    def submit(self, video: str, *, name: str | None, sample_fps: float | None, remove: bool, wait_s: float) -> int:
        """Start ingesting ``video`` (a stored upload, a URL or an allowed local file); its source id, once recorded.
        ``remove``: delete the file when ingest is done with it (or fails)."""
        if self.stopping.is_set():
            raise ApiProblem(503, "Service unavailable", "the server is stopping: submit the video again later")
        recorded = threading.Event()
        outcome: dict = {}

        def on_source(source_id: int) -> None:
            outcome["id"] = source_id
            recorded.set()

        def on_chunk(_chunk, _reader) -> None:
            if self.stopping.is_set():
                raise ServerStopping("the server stopped before it had read the whole video: submit it again")

        def run() -> None:
            try:
                from ferstream.ingest.files import ingest_file

                ingest_file(self.engine, video, self._sink(), self.settings, name=name, sample_fps=sample_fps,
                            on_source=on_source, on_chunk=on_chunk)
            except BaseException as exc:  # noqa: BLE001 - a thread's errors go to the source (and the log)
                outcome["error"] = exc
                if "id" in outcome:
                    log.warning("source %s: ingest failed: %s", outcome["id"], exc)
            finally:
                if remove:
                    Path(video).unlink(missing_ok=True)
                recorded.set()

        thread = threading.Thread(target=run, name="ferstream-api-ingest", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        if not recorded.wait(wait_s):
            raise ApiProblem(503, "Service unavailable", f"ingest has not started after {wait_s:.0f}s")
        if "id" in outcome:
            return outcome["id"]
        exc = outcome.get("error")
        if isinstance(exc, VideoError):
            raise ApiProblem(422, "Unprocessable content", _without_path(str(exc), video))
        if isinstance(exc, FerstreamError):
            raise exc
        log.error("ingest of a submitted video failed before it started: %r", exc)
        raise ApiProblem(500, "Internal server error", "ingest failed before it started; the server's log says why")

    def _sink(self):
        if self.settings.redis_url:
            from ferstream.sinks import make_sink

            return make_sink(self.settings, self.engine)
        from ferstream.worker.inline import InlineSink
        from ferstream.worker.runtime import Runtime

        with self._lock:
            if self._runtime is None:
                self._runtime = Runtime(self.settings)
        return InlineSink(self._runtime, lock=self._lock)


def _without_path(message: str, video: str) -> str:
    """An ingest error for a caller: a path on the server replaced by 'the video' (a URL is the caller's own)."""
    if scheme(video):
        return message
    return message.replace(str(Path(video).resolve()), "the video").replace(video, "the video")
