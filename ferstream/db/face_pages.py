"""A source's face rows a page at a time, in frame order, filtered (time range, track, emotion, quality): for
readers that must not hold a million rows at once (the HTTP API streams them). A page ends with the key of its last
row (frame, face); the next page starts after it (keyset paging: each page is one short, indexed query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone
from typing import Iterator

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine

from ferstream.db.models import Face
from ferstream.emotion_model import EMOTIONS

#: the columns of a face row, in order (``quality`` and ``uncertain`` where the schema has them)
COLUMNS = ["frame_index", "face_index", "timestamp", "captured_at", "track_id", "x", "y", "w", "h", "emotion",
           "confidence", *EMOTIONS, *[c for c in ("quality", "uncertain") if hasattr(Face, c)], "model_version"]


@dataclass(frozen=True)
class FaceFilter:
    start: float | None = None  # media time, seconds
    end: float | None = None
    track: int | None = None
    emotion: str | None = None
    min_quality: float | None = None


def has_quality() -> bool:
    return hasattr(Face, "quality")


def face_pages(engine: Engine, source_id: int, where: FaceFilter, after: tuple[int, int] | None = None,
               page: int = 1000, limit: int | None = None) -> Iterator[list[dict]]:
    """Pages of at most ``page`` rows (dicts of ``COLUMNS``) after the key ``after``; ``limit`` rows in all."""
    sent = 0
    while limit is None or sent < limit:
        size = page if limit is None else min(page, limit - sent)
        rows = face_page(engine, source_id, where, after, size)
        if not rows:
            return
        yield rows
        sent += len(rows)
        if len(rows) < size:
            return
        after = (rows[-1]["frame_index"], rows[-1]["face_index"])


def face_page(engine: Engine, source_id: int, where: FaceFilter, after: tuple[int, int] | None, size: int) -> list[dict]:
    q = select(*[getattr(Face, c) for c in COLUMNS]).where(Face.source_id == source_id)
    if where.start is not None:
        q = q.where(Face.timestamp >= where.start)
    if where.end is not None:
        q = q.where(Face.timestamp <= where.end)
    if where.track is not None:
        q = q.where(Face.track_id == where.track)
    if where.emotion is not None:
        q = q.where(Face.emotion == where.emotion)
    if where.min_quality is not None and has_quality():
        q = q.where(Face.quality >= where.min_quality)
    if after is not None:
        q = q.where(or_(Face.frame_index > after[0], and_(Face.frame_index == after[0], Face.face_index > after[1])))
    q = q.order_by(Face.frame_index, Face.face_index).limit(size)
    with engine.connect() as conn:
        return [utc_row(r) for r in conn.execute(q).mappings()]


def utc_row(row) -> dict:
    """A row as a dict, its capture time in UTC (SQLite hands back naive UTC times)."""
    out = dict(row)
    at = out.get("captured_at")
    if at is not None and at.tzinfo is None:
        out["captured_at"] = at.replace(tzinfo=timezone.utc)
    return out
