"""The RQ job: analyse one queued chunk and write its results.

The job only orchestrates: fetch the chunk's frames from Redis, analyse them (faces and
emotions), follow the faces into tracks, write the results in one transaction (the tracks
linked to the neighbouring chunks' there), then drop the frames from Redis.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from rq import get_current_job

from ferstream.db import writes
from ferstream.codec import decode_chunk
from ferstream.errors import FerstreamError
from ferstream.events.evaluator import Evaluation, settle
from ferstream.metrics import CAPTURE_TO_ROW, CHUNKS, EVENTS, FACES, FRAMES, STAGE_SECONDS
from ferstream.results import Chunk
from ferstream.urls import mask_url
from ferstream.worker.analysis import Analyzer
from ferstream.worker.preview import LivePictures, stricter
from ferstream.worker.runtime import Runtime, get_runtime
from ferstream.worker.tracker import track_chunk

log = logging.getLogger(__name__)


class ChunkExpired(FerstreamError):
    """A queued chunk's frames are no longer in Redis (expired or deleted)."""


class ForeignJob(FerstreamError):
    """A job queued from another database than the one this worker writes to."""


def analyze_chunk(database_id: str, source_id: int, chunk_index: int, key: str, detector: str | None = None,
                  min_face: float | None = None, preview: str | None = None, preview_fps: float | None = None) -> dict:
    """RQ job: analyse the chunk whose frames are stored at ``key`` in Redis, for the database ``database_id``,
    with the face detector and smallest face the video was queued with (the worker's own where the job names none);
    its live pictures (``worker.preview``) as the more private of the job's ``preview`` and the worker's, at most
    ``preview_fps`` (and the worker's) a second."""
    rt = get_runtime()
    if database_id != rt.database_id:  # never write into, nor record a failure in, another database
        raise ForeignJob(f"chunk {chunk_index} of source {source_id} belongs to database {database_id}; this worker "
                         f"writes to database {rt.database_id} ({mask_url(rt.settings.database_url)})")
    job = get_current_job()
    redis = job.connection
    if writes.chunk_done(rt.engine, source_id, chunk_index):  # a retry after the results landed
        redis.delete(key)
        return {"source_id": source_id, "chunk": chunk_index, "skipped": True}
    try:
        blob = redis.get(key)
        if blob is None:
            raise ChunkExpired(f"chunk {chunk_index} of source {source_id}: its frames are gone from Redis ({key})")
        with STAGE_SECONDS.labels("decode").time():
            chunk = decode_chunk(blob)
        s = rt.settings
        pictures = LivePictures(redis, stricter(preview, s.preview), min(preview_fps or s.preview_fps, s.preview_fps))
        result = process_chunk(rt, chunk, rt.analyzer_for(detector, min_face), pictures)
    except Exception as exc:
        final = not job.retries_left
        CHUNKS.labels("failed" if final else "retried").inc()
        writes.record_failure(rt.engine, source_id, chunk_index, exc, final)
        if final:  # the source's events go on past a chunk that will never land
            _settle_events(rt, source_id)
        raise
    redis.delete(key)
    return result


def _settle_events(rt: Runtime, source_id: int) -> None:
    try:
        for rule, kind in settle(rt.engine, source_id):
            EVENTS.labels(rule, kind).inc()
    except Exception as exc:  # noqa: BLE001 - the database may be what failed; the next chunk settles them
        log.warning("source %d: events not evaluated past a failed chunk: %s", source_id, exc)


def process_chunk(rt: Runtime, chunk: Chunk, analyzer: Analyzer | None = None,
                  pictures: LivePictures | None = None) -> dict:
    """Analyse a decoded chunk and store its results (also the in-process path, without Redis); then draw its live
    pictures where ``pictures`` says how (only while the source is watched)."""
    analyzer = analyzer or rt.analyzer
    results = analyzer.analyze(chunk.frames, source=chunk.source_id)
    tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                         [r.frame.timestamp for r in results])
    evaluation = Evaluation()  # the source's event rules, evaluated in the same transaction
    with STAGE_SECONDS.labels("write").time():
        faces = writes.write_results(rt.engine, chunk.source_id, chunk.index, results, analyzer.labels,
                                     analyzer.model_version, tracks, then=evaluation)
    _count(rt, chunk, len(results), faces)
    for rule, kind in evaluation.changes:
        EVENTS.labels(rule, kind).inc()
    if pictures is not None:
        with STAGE_SECONDS.labels("preview").time():
            pictures.draw(rt.engine, rt.database_id, chunk, results, analyzer.labels, tracks)
    return {"source_id": chunk.source_id, "chunk": chunk.index, "frames": len(results), "faces": faces}


def _count(rt: Runtime, chunk: Chunk, frames: int, faces: int) -> None:
    """The metrics of a chunk whose rows are committed: counts, and each live frame's capture-to-row latency
    (labelled with the source's name, as the watch labels its own figures)."""
    CHUNKS.labels("done").inc()
    FRAMES.inc(frames)
    FACES.inc(faces)
    captured = [f.captured_at for f in chunk.frames if f.captured_at is not None]
    if not captured:
        return
    now = datetime.now(timezone.utc)
    latency = CAPTURE_TO_ROW.labels(_source_name(rt, chunk.source_id))
    for at in captured:
        latency.observe(max(0.0, (now - at).total_seconds()))


_names: dict[tuple[str, int], str] = {}


def _source_name(rt: Runtime, source_id: int) -> str:
    key = (rt.database_id, source_id)
    if key not in _names:
        from ferstream.db.queries import source_name

        _names[key] = source_name(rt.engine, source_id)
    return _names[key]
