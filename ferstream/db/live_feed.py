"""Results as they land, for followers (the HTTP API's live feed): chunks done, in the order they were done, each
with its frames and faces. A position in the feed is the last chunk's key (its done time, source, index): a
follower that comes back with it gets every chunk done since that is still in the database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ferstream.db.face_pages import COLUMNS, utc_row
from ferstream.db.models import Chunk, Face, Frame

#: chunks commit in the order of their done times (``db.writes``: one writer at a time on SQLite, an advisory lock
#: on PostgreSQL), so a position is exact; each look still reaches this far back, for a clock that steps back, and
#: chunks already sent are skipped by key
SLACK = timedelta(seconds=5)

Key = tuple[int, int, int]  # done time in microseconds since the epoch, source id, chunk index


def key_text(key: Key) -> str:
    return "-".join(map(str, key))


def parse_key(text: str) -> Key | None:
    parts = text.strip().split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def _micros(at: datetime) -> int:
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC times
    return int(at.timestamp() * 1_000_000)


def now_key() -> Key:
    return (_micros(datetime.now(timezone.utc)), 0, 0)


def done_since(engine: Engine, after: Key, sources: list[int] | None, limit: int = 200) -> list[tuple[Key, int, int]]:
    """Chunks done from ``SLACK`` before ``after`` up to ``after`` (all of them: late commits), then the first
    ``limit`` done after it, as (key, first frame, last frame), in key order."""
    at = datetime.fromtimestamp(after[0] / 1_000_000, timezone.utc)
    base = select(Chunk.source_id, Chunk.chunk_index, Chunk.done_at, Chunk.first_frame, Chunk.last_frame).where(
        Chunk.status == "done")
    if sources:
        base = base.where(Chunk.source_id.in_(sources))
    order = (Chunk.done_at, Chunk.source_id, Chunk.chunk_index)
    with engine.connect() as conn:
        rows = conn.execute(base.where(Chunk.done_at >= at - SLACK, Chunk.done_at <= at).order_by(*order)).all()
        rows += conn.execute(base.where(Chunk.done_at > at).order_by(*order).limit(limit)).all()
    found = {(_micros(r.done_at), r.source_id, r.chunk_index): (r.first_frame, r.last_frame) for r in rows}
    return [(key, *found[key]) for key in sorted(found)]


def chunk_results(engine: Engine, source_id: int, chunk_index: int) -> list[dict]:
    """A chunk's frames, each with its faces (rows of ``face_pages.COLUMNS``)."""
    with engine.connect() as conn:
        frames = conn.execute(select(Frame.frame_index, Frame.timestamp, Frame.captured_at, Frame.face_count)
                              .where(Frame.source_id == source_id, Frame.chunk_index == chunk_index)
                              .order_by(Frame.frame_index)).mappings().all()
        if not frames:
            return []
        faces = conn.execute(select(*[getattr(Face, c) for c in COLUMNS])
                             .where(Face.source_id == source_id,
                                    Face.frame_index.between(frames[0]["frame_index"], frames[-1]["frame_index"]))
                             .order_by(Face.frame_index, Face.face_index)).mappings().all()
    by_frame: dict[int, list[dict]] = {}
    for f in faces:
        by_frame.setdefault(f["frame_index"], []).append(utc_row(f))
    return [{**utc_row(fr), "faces": by_frame.get(fr["frame_index"], [])} for fr in frames]
