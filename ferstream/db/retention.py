"""Retention: delete frames and faces older than a cutoff, in small batches, while live sources keep writing.

A frame's age is its ``captured_at`` (the wall clock of a live source) when set, else its ``analysed_at``;
its faces go with it (keyed by source and frame index). A chunk goes when none of its frames is left, it
is ``done`` or ``failed``, and it was queued (and done, if it was) before the cutoff; its ``chunk_tracks``
rows go with it. Queued and retrying chunks and the ``sources`` rows always stay, and each source counts what
was pruned of it (``sources.pruned_*``), so its progress and status stay what they were. Ended events
(``ferstream.events``) go with the results: those that ended (wall clock, else when last written) before the
cutoff, with their change feed and its deliveries; active events stay.

Each batch is one short transaction that locks rows in the order ``db.writes.write_results`` does (the
source's row first, then faces, then frames; chunk tracks, then chunks), so a worker writing at the same time
waits at most one batch. On PostgreSQL a batch waits at most ``LOCK_TIMEOUT_MS`` for a lock a writer holds,
then gives way and is tried again, as after a deadlock or SQLite's busy timeout.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from ferstream.db.models import Chunk, ChunkTrack, Event, EventChange, EventDelivery, Face, Frame, Source, utcnow
from ferstream.errors import ConfigError

log = logging.getLogger(__name__)

#: frames (with their faces) or chunks deleted per transaction
DEFAULT_BATCH = 5000
#: PostgreSQL: the longest a batch waits for a row lock held by a writer before it gives way and tries again
LOCK_TIMEOUT_MS = 2000
#: tries of a batch that gave way to a writer (a lock timeout, a deadlock, SQLite's busy database)
TRIES = 5
#: the units of ``parse_duration``, in seconds
UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}

_T = TypeVar("_T")
#: SQLSTATEs of a batch that gave way: deadlock detected, lock not available (lock_timeout), serialization failure
_GAVE_WAY = ("40P01", "55P03", "40001")
_DURATION_HELP = "a whole number and a unit, such as 30d, 12h, 90m, 45s, 2w or 1d12h (w, d, h, m, s)"


@dataclass
class PruneCounts:
    """Rows deleted by ``prune``, per table."""

    frames: int = 0
    faces: int = 0
    chunks: int = 0
    chunk_tracks: int = 0
    events: int = 0

    def add(self, other: "PruneCounts") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def __str__(self) -> str:
        return (f"{self.frames} frames, {self.faces} faces, {self.chunks} chunks and {self.chunk_tracks} "
                "chunk tracks" + (f", {self.events} events" if self.events else ""))


def prune(engine: Engine, older_than: timedelta, *, source_id: int | None = None, batch: int = DEFAULT_BATCH,
          now: datetime | None = None) -> PruneCounts:
    """Delete the frames, faces, chunks and chunk tracks older than ``older_than`` (of one source, or of all).

    ``batch`` frames (or chunks) go per transaction; ``now`` (default: the current time; naive means UTC) sets
    the cutoff. ``source_id`` of no source deletes nothing.
    """
    if older_than <= timedelta(0):
        raise ConfigError(f"retention must be a positive duration, got {older_than}")
    if batch < 1:
        raise ConfigError(f"prune batch must be 1 or more, got {batch}")
    now = now or utcnow()
    cutoff = (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(timezone.utc) - older_than
    ids = [source_id] if source_id is not None else _keys(engine, select(Source.id).order_by(Source.id))
    counts = PruneCounts()
    for sid in ids:
        _prune_frames(engine, sid, cutoff, batch, counts)
        _prune_chunks(engine, sid, cutoff, batch, counts)
        _prune_events(engine, sid, cutoff, batch, counts)
    log.debug("pruned data older than %s (%s): %d frames, %d faces, %d chunks, %d chunk tracks",
             cutoff.isoformat(timespec="seconds"), f"source {source_id}" if source_id is not None else "all sources",
             counts.frames, counts.faces, counts.chunks, counts.chunk_tracks)
    return counts


def _prune_frames(engine: Engine, sid: int, cutoff: datetime, batch: int, counts: PruneCounts) -> None:
    old = or_(Frame.captured_at < cutoff, and_(Frame.captured_at.is_(None), Frame.analysed_at < cutoff))
    while True:
        keys = _keys(engine, select(Frame.frame_index).where(Frame.source_id == sid, old).limit(batch))
        if not keys:
            return

        def delete_batch(conn: Connection) -> tuple[int, int]:
            _lock_source(conn, sid)
            faces = conn.execute(delete(Face).where(Face.source_id == sid, Face.frame_index.in_(keys))).rowcount
            # a frame rewritten by a retried chunk since ``keys`` were read keeps its new faces, and so stays
            no_faces = ~exists().where(Face.source_id == Frame.source_id, Face.frame_index == Frame.frame_index)
            face_counts = conn.execute(delete(Frame).where(Frame.source_id == sid, Frame.frame_index.in_(keys), no_faces)
                                       .returning(Frame.face_count)).scalars().all()
            _count_pruned(conn, sid, pruned_frames=len(face_counts), pruned_faces=faces,
                          pruned_frames_no_face=sum(1 for n in face_counts if n == 0))
            return faces, len(face_counts)

        faces, frames = _in_transaction(engine, delete_batch)
        counts.faces += faces
        counts.frames += frames
        log.debug("source %d: deleted %d frames and %d faces", sid, frames, faces)
        if len(keys) < batch or not frames:
            return


def _prune_chunks(engine: Engine, sid: int, cutoff: datetime, batch: int, counts: PruneCounts) -> None:
    """Chunks with no frame left, also those whose frames went in an earlier prune."""
    gone = and_(Chunk.status.in_(("done", "failed")), Chunk.queued_at < cutoff,
                or_(Chunk.done_at.is_(None), Chunk.done_at < cutoff),
                ~exists().where(Frame.source_id == Chunk.source_id,
                                Frame.frame_index.between(Chunk.first_frame, Chunk.last_frame)))
    while True:
        keys = _keys(engine, select(Chunk.chunk_index).where(Chunk.source_id == sid, gone).limit(batch))
        if not keys:
            return

        def delete_batch(conn: Connection) -> tuple[int, int]:
            _lock_source(conn, sid)
            still_gone = exists().where(Chunk.source_id == ChunkTrack.source_id,
                                        Chunk.chunk_index == ChunkTrack.chunk_index, gone)
            tracks = conn.execute(delete(ChunkTrack).where(
                ChunkTrack.source_id == sid, ChunkTrack.chunk_index.in_(keys), still_gone)).rowcount
            chunks = conn.execute(delete(Chunk).where(Chunk.source_id == sid, Chunk.chunk_index.in_(keys), gone)
                                  .returning(Chunk.status, Chunk.n_frames)).all()
            _count_pruned(conn, sid, pruned_chunks_done=sum(1 for status, _ in chunks if status == "done"),
                          pruned_chunks_failed=sum(1 for status, _ in chunks if status == "failed"),
                          pruned_frames_failed=sum(n for status, n in chunks if status == "failed"))
            return len(chunks), tracks

        chunks, tracks = _in_transaction(engine, delete_batch)
        counts.chunks += chunks
        counts.chunk_tracks += tracks
        log.debug("source %d: deleted %d chunks and %d chunk tracks", sid, chunks, tracks)
        if len(keys) < batch or not chunks:
            return


def _prune_events(engine: Engine, sid: int, cutoff: datetime, batch: int, counts: PruneCounts) -> None:
    """Ended events older than the cutoff, with their changes and the changes' deliveries."""
    old = and_(Event.source_id == sid, Event.state == "ended",
               or_(Event.end_at < cutoff, and_(Event.end_at.is_(None), Event.updated_at < cutoff)))
    while True:
        keys = _keys(engine, select(Event.id).where(old).limit(batch))
        if not keys:
            return

        def delete_batch(conn: Connection) -> int:
            _lock_source(conn, sid)
            changes = select(EventChange.id).where(EventChange.event_id.in_(keys))
            conn.execute(delete(EventDelivery).where(EventDelivery.change_id.in_(changes)))
            conn.execute(delete(EventChange).where(EventChange.event_id.in_(keys)))
            return conn.execute(delete(Event).where(Event.id.in_(keys), old)).rowcount

        counts.events += _in_transaction(engine, delete_batch)
        if len(keys) < batch:
            return


def _lock_source(conn: Connection, sid: int) -> None:
    """PostgreSQL: the source's row first, as a worker's ``write_results`` takes it before the faces' rows, so a
    batch and a chunk landing at once wait for each other instead of deadlocking (SQLite: one writer at a time)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(Source.id).where(Source.id == sid).with_for_update())


def _count_pruned(conn: Connection, sid: int, **deleted: int) -> None:
    """Add what a batch deleted to the source's ``pruned_*`` counters, in the batch's transaction: the source's
    progress (``db.queries.sources``) counts the rows left plus these, so a prune never changes it."""
    if any(deleted.values()):
        conn.execute(update(Source).where(Source.id == sid).values(
            **{name: getattr(Source, name) + n for name, n in deleted.items()}))


def _keys(engine: Engine, query) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _in_transaction(engine: Engine, work: Callable[[Connection], _T]) -> _T:
    """``work`` in one transaction; tried again when it gave way to a writer (see ``LOCK_TIMEOUT_MS``)."""
    attempt = 1
    while True:
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}")
                return work(conn)
        except OperationalError as exc:
            if attempt == TRIES or not _gave_way(exc):
                raise
            log.info("prune gave way to a writer (%s); trying the batch again", str(exc.orig).strip().splitlines()[0])
            time.sleep(0.1 * attempt)
            attempt += 1


def _gave_way(exc: OperationalError) -> bool:
    orig = exc.orig
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    return code in _GAVE_WAY or "database is locked" in str(orig)


def parse_duration(text: str) -> timedelta:
    """A retention period such as ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` or ``1d12h``; a ConfigError if not one."""
    s = (text or "").strip()
    if not s:
        raise ConfigError(f"empty duration: give {_DURATION_HELP}")
    if s.startswith("-"):
        raise ConfigError(f"duration {text!r} is negative: give {_DURATION_HELP}")
    if not re.fullmatch(r"(\d+\s*[A-Za-z]+\s*)+", s):
        raise ConfigError(f"{text!r} is not a duration: give {_DURATION_HELP}")
    parts = re.findall(r"(\d+)\s*([A-Za-z]+)", s)
    unknown = [u for _, u in parts if u not in UNITS]
    if unknown:
        raise ConfigError(f"unknown unit {unknown[0]!r} in duration {text!r}: give {_DURATION_HELP}")
    seconds = sum(int(n) * UNITS[u] for n, u in parts)
    if not seconds:
        raise ConfigError(f"duration {text!r} is zero: give {_DURATION_HELP}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ConfigError(f"duration {text!r} is too long") from None
