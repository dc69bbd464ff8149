"""Ingesting a video file: record the source, then send its chunks to a sink.

A sink (``Sink``) takes chunks: the RQ queue, or the worker's in-process
analyzer when no Redis is configured.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit
from typing import Callable, Protocol

from sqlalchemy.engine import Engine

from ferstream.db import writes
from ferstream.results import Chunk
from ferstream.settings import Settings
from ferstream.urls import mask_url
from ferstream.ingest.chunks import chunk_frames
from ferstream.ingest.read_ahead import read_ahead
from ferstream.ingest.photos import decode_photo, photo_chunk
from ferstream.ingest.video import VideoReader, is_photo, is_remote

log = logging.getLogger(__name__)


class Sink(Protocol):
    def put(self, chunk: Chunk) -> None: ...

    def has_room(self) -> bool:
        """Whether another chunk may be sent now (a live source drops frames when not)."""

    def wait_for_room(self) -> None:
        """Block until another chunk may be sent (a file source waits)."""


def send(engine: Engine, sink: Sink, chunk: Chunk, frames_read: int, frames_dropped: int = 0, **source_values) -> None:
    """Record ``chunk`` as queued (with ``source_values``: a live source's state) and hand it to ``sink``.

    A chunk the sink did not take (Redis gone for good, an in-process analysis that failed or was
    interrupted by Ctrl-C) is recorded as failed, with why: no worker will take it, so it must not
    look pending.
    """
    first, last = chunk.frame_range
    writes.record_chunk(engine, chunk.source_id, chunk.index, first, last, len(chunk.frames), frames_read,
                        frames_dropped, **source_values)
    try:
        sink.put(chunk)
    except BaseException as exc:
        writes.record_failure(engine, chunk.source_id, chunk.index, exc)
        raise


def ingest_file(engine: Engine, path: str | os.PathLike, sink: Sink, settings: Settings, *,
                name: str | None = None, sample_fps: float | None = None,
                on_chunk: Callable[[Chunk, VideoReader], None] | None = None,
                on_source: Callable[[int], None] | None = None) -> int:
    """Analyse or queue every sampled frame of a video file; returns the source id.

    A missing or non-video file raises ``VideoError`` before anything is recorded. ``on_source(source_id)`` runs
    once, as soon as the source is recorded, before any frame is read: the run's event rules are bound to it there,
    and a caller that answers at once (the HTTP API) learns its id.
    A file that is corrupt part-way keeps the frames decoded before the damage,
    and the source records the error. A photo (by its suffix, and decoded as one) goes the way every photo goes
    (``ingest_image``, ``ingest.photos``), not through FFmpeg.
    """
    if is_photo(path) and Path(path).is_file():
        image = decode_photo(Path(path).read_bytes())
        if image is not None:  # else FFmpeg tries it by its content, and says why not
            return ingest_image(engine, image, sink, settings, name=name or Path(path).name,
                                uri=str(Path(path).resolve()), on_source=on_source,
                                size_bytes=Path(path).stat().st_size)
    reader = VideoReader(path, sample_fps, settings.analysis_width, settings.min_face)
    per_chunk = max(1, round(settings.chunk_seconds * reader.effective_fps))
    if settings.sends_detail:  # a higher-resolution copy of each chunk's first frame, for the discovery scans
        reader.add_detail(per_chunk, settings.discover_seconds)
    info = reader.info
    uri = mask_url(str(path)) if is_remote(path) else str(Path(path).resolve())
    source_id = writes.create_source(
        engine, name=name or Path(urlsplit(str(path)).path if is_remote(path) else path).name, kind="file", uri=uri,
        size_bytes=info.size_bytes, duration_s=info.duration_s, fps=info.fps, width=info.width,
        height=info.height, sample_fps=reader.effective_fps,
    )
    if on_source:
        on_source(source_id)
    try:
        with contextlib.closing(read_ahead(chunk_frames(reader, source_id, per_chunk))) as chunks:  # its thread ends here
            for chunk in chunks:
                sink.wait_for_room()
                send(engine, sink, chunk, reader.frames_read)
                if on_chunk:
                    on_chunk(chunk, reader)
    except BaseException as exc:
        state = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
        writes.update_source(engine, source_id, state=state, error=f"{type(exc).__name__}: {exc}", frames_read=reader.frames_read)
        raise
    writes.update_source(engine, source_id, state="finished", error=reader.error, frames_read=reader.frames_read)
    return source_id


def ingest_image(engine: Engine, image, sink: Sink, settings: Settings, *, name: str = "image",
                 uri: str = "(an image array)", on_source: Callable[[int], None] | None = None,
                 size_bytes: int | None = None) -> int:
    """Analyse or queue one decoded image (a BGR or grey uint8 array) as a source of one frame; returns its id.

    Every photo's way in (``ingest.photos``): the same chunk, codec, analysis and rows as ``POST /v1/analyze``.
    ``on_source(source_id)``: as for ``ingest_file``."""
    height, width = image.shape[:2]
    source_id = writes.create_source(engine, name=name, kind="file", uri=uri, width=width, height=height,
                                     size_bytes=size_bytes)
    if on_source:
        on_source(source_id)
    try:
        send(engine, sink, photo_chunk(image, settings, source_id), 1)
    except BaseException as exc:
        writes.update_source(engine, source_id, state="failed", error=f"{type(exc).__name__}: {exc}", frames_read=1)
        raise
    writes.update_source(engine, source_id, state="finished", frames_read=1)
    return source_id


def safe_name(filename: str) -> str:
    """An uploaded file's name reduced to letters, digits, ``.``, ``_`` and ``-`` (no folders, Windows' included), at
    most 80 characters: how the dashboard and the HTTP API store an upload."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename.replace("\\", "/")).name).strip("._") or "video"
    return name[-80:]
