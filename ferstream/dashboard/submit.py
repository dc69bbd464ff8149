"""Submitting a stored video for analysis, as ``ferstream analyze`` does, without blocking the page.

With Redis configured the video's chunks are queued for ``ferstream worker``;
without, the same analysis code runs in this process. Either way ingest runs
in a background thread: the page stays responsive and follows the progress
from the database.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import select

from ferstream import db
from ferstream.db.models import Source
from ferstream.errors import FerstreamError
from ferstream.settings import Settings
from ferstream.sinks import make_sink
from ferstream.ingest.files import ingest_file

log = logging.getLogger(__name__)


def submit_video(settings: Settings, path: Path, *, name: str | None = None, sample_fps: float | None = None,
                 wait_s: float = 30.0, remove: bool = False) -> int:
    """Start analysing (or queueing) the video at ``path``; returns its source id once ingest has recorded it.

    An unreachable Redis or database raises ``ServiceError`` here, before anything starts. ``remove``: delete
    the file once ingest is done with it (every frame analysed, or queued in Redis as its own JPEG chunks),
    or has failed, or the submission is refused.
    """
    try:
        engine = db.connect(settings.database_url)  # the upload path writes: a migrated, writable engine
        sink = make_sink(settings, engine)
    except BaseException:
        if remove:
            Path(path).unlink(missing_ok=True)
        raise
    uri = str(Path(path).resolve())
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ingest_file(engine, uri, sink, settings, name=name, sample_fps=sample_fps)
        except BaseException as exc:  # noqa: BLE001 - a thread's errors go to the log (and the source's error)
            errors.append(exc)
            log.exception("analysis of %s failed", uri)
        finally:
            if remove:  # the frames live in the database or in Redis now: no copy of the faces stays behind
                Path(uri).unlink(missing_ok=True)
                log.info("removed the upload %s", uri)

    thread = threading.Thread(target=run, name=f"ferstream-submit-{Path(uri).name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as conn:
            source_id = conn.execute(select(Source.id).where(Source.uri == uri).order_by(Source.id.desc())).scalar()
        if source_id is not None:
            log.info("source %d: %s, %s", source_id, uri, "queued" if settings.redis_url else "analysing in this process")
            return source_id
        if not thread.is_alive():  # it ended before recording the source: ingest refused the file
            exc = errors[0] if errors else None
            if isinstance(exc, FerstreamError):
                raise exc
            raise FerstreamError(f"{Path(uri).name} could not be submitted: {exc or 'ingest ended early'}")
        if time.monotonic() > deadline:
            raise FerstreamError(f"{Path(uri).name}: ingest has not started after {wait_s:.0f}s")
        time.sleep(0.05)
