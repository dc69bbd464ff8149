"""The dashboard's reads: DataFrames aggregated in SQL, filtered by bound parameters.

Every query takes the chosen source ids, the time axis and a time range. The
axis is ``media`` (seconds into the video, ``timestamp``) for video files and
``wall`` (wall-clock time, ``captured_at``, as seconds since the epoch) for
live streams; a range is ``(start, end)`` in those seconds, either end ``None``
for open. Faces are counted with GROUP BY in the database: a stream can hold
millions of face rows, and no query here loads them one by one. Uncertain faces
(``faces.uncertain``) are left out of the emotions unless ``include_uncertain``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import case, func, inspect, select
from sqlalchemy.engine import Engine

from ferstream.dashboard.sql import epoch_seconds, floor_int
from ferstream.db import queries as db_queries
from ferstream.db.models import Face, Frame, Source
from ferstream.emotion_model import EMOTIONS

MEDIA, WALL = "media", "wall"
#: the time axis of each kind of source
AXIS_OF_KIND = {"file": MEDIA, "live": WALL}
TimeRange = tuple[float | None, float | None]
EVERYTHING: TimeRange = (None, None)

SOURCE_COLUMNS = ["id", "name", "kind", "status", "progress", "frames_analysed", "frames_no_face", "faces",
                  "frames_failed", "pruned_frames", "duration_s", "error", "state", "last_frame_at", "created_at"]
TIMELINE_COLUMNS = ["bucket_start", "bucket_end", "emotion", "faces", "share", "mean_confidence"]
#: ``uncertain``: the uncertain faces of each label in range (counted in ``faces`` only with ``include_uncertain``)
TOTALS_COLUMNS = db_queries.SUMMARY_COLUMNS


def source_table(engine: Engine) -> pd.DataFrame:
    """One row per source, oldest first: status (queued, running, done, failed), progress 0-1, counts, error."""
    if not inspect(engine).has_table(Source.__tablename__):  # a database no one has written to yet
        return pd.DataFrame(columns=SOURCE_COLUMNS)
    df = db_queries.sources(engine)
    if df.empty:
        return pd.DataFrame(columns=SOURCE_COLUMNS)
    df["progress"] = [_progress(r) for r in df.itertuples()]
    return df[SOURCE_COLUMNS].reset_index(drop=True)


def _progress(row) -> float:
    """Share of a file's sampled frames done (``db.queries.source_progress``); NaN for a live stream, which has no
    end, until it is done."""
    if row.kind != "file" and row.status != "done":
        return float("nan")
    return db_queries.source_progress(row)


def time_extent(engine: Engine, source_ids: Sequence[int], axis: str) -> tuple[float, float] | None:
    """First and last analysed frame's time of the sources, or ``None`` while none is analysed.

    Frames are found by their primary key (a source's first and last frame index), not by a scan:
    time grows with the frame index, in a video and in a stream.
    """
    t = _seconds(Frame, axis)
    ends = []
    with engine.connect() as conn:
        for source_id in source_ids:
            where = _where(Frame, [source_id], axis, EVERYTHING)
            for order in (Frame.frame_index.asc(), Frame.frame_index.desc()):
                value = conn.execute(select(t).where(*where).order_by(order).limit(1)).scalar()
                if value is not None:
                    ends.append(float(value))
    return (min(ends), max(ends)) if ends else None


def emotion_timeline(engine: Engine, source_ids: Sequence[int], axis: str, time_range: TimeRange,
                     bucket_s: float, track_id: int | None = None, include_uncertain: bool = False) -> pd.DataFrame:
    """Faces per time bucket and emotion, with their share of the bucket's faces and mean confidence.

    Every bucket that holds a face has a row for each of the seven emotions (0
    faces where none showed it); buckets without faces have no rows. Bucket
    starts are seconds (media) or UTC timestamps (wall), aligned to multiples
    of ``bucket_s``. ``track_id``: only that person's faces (one source). Uncertain faces count only with
    ``include_uncertain``.
    """
    if not source_ids:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    where = _where(Face, source_ids, axis, time_range) + ([Face.track_id == track_id] if track_id is not None else [])
    if not include_uncertain:
        where.append(Face.uncertain.is_(False))
    inner = (select(floor_int(_seconds(Face, axis) / float(bucket_s)).label("bucket"), Face.emotion, Face.confidence)
             .where(*where).subquery())
    q = (select(inner.c.bucket, inner.c.emotion, func.count().label("faces"),
                func.avg(inner.c.confidence).label("mean_confidence"))
         .group_by(inner.c.bucket, inner.c.emotion))
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(q).all(), columns=["bucket", "emotion", "faces", "mean_confidence"])
    if rows.empty:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    grid = pd.MultiIndex.from_product([sorted(rows["bucket"].unique()), EMOTIONS], names=["bucket", "emotion"])
    df = rows.set_index(["bucket", "emotion"]).reindex(grid).reset_index()
    df["faces"] = df["faces"].fillna(0).astype("int64")
    df["mean_confidence"] = df["mean_confidence"].astype("float64")
    df["share"] = df["faces"] / df.groupby("bucket")["faces"].transform("sum")
    start = df["bucket"].astype("float64") * bucket_s
    df["bucket_start"], df["bucket_end"] = _as_time(start, axis), _as_time(start + bucket_s, axis)
    return df[TIMELINE_COLUMNS]


#: seconds of a source's newest results whose people count as in view (the Live page)
IN_VIEW_S = 2.0
IN_VIEW_COLUMNS = ["track_id", "emotion", "confidence", "last_seen"]


def people_in_view(engine: Engine, source_id: int, seconds: float = IN_VIEW_S) -> pd.DataFrame:
    """The people (tracks) seen in a source's newest ``seconds`` of results, each with its current smoothed emotion
    and that emotion's smoothed probability (``db.queries.smooth``: as the export smooths; None when all of its recent
    faces are uncertain), the newest first."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(Face.timestamp)).where(Face.source_id == source_id)).scalar()
        if newest is None:
            return pd.DataFrame(columns=IN_VIEW_COLUMNS)
        q = (select(Face.track_id, Face.timestamp, Face.frame_index, Face.uncertain, *[getattr(Face, e) for e in EMOTIONS])
             .where(Face.source_id == source_id, Face.track_id.is_not(None),
                    Face.timestamp >= newest - seconds - db_queries.SMOOTH_SECONDS))
        df = pd.DataFrame(conn.execute(q).mappings().all())
    if df.empty:
        return pd.DataFrame(columns=IN_VIEW_COLUMNS)
    df = db_queries.smooth(df)
    recent = df[df["timestamp"] >= newest - seconds].sort_values("timestamp").groupby("track_id").tail(1)
    return pd.DataFrame({
        "track_id": recent["track_id"].astype("int64"), "emotion": recent["smoothed_emotion"],
        "confidence": [r[f"smooth_{r['smoothed_emotion']}"] if isinstance(r["smoothed_emotion"], str) else None
                       for r in recent.to_dict("records")],
        "last_seen": newest - recent["timestamp"]}).sort_values("last_seen").reset_index(drop=True)


def people(engine: Engine, source_id: int, include_uncertain: bool = False) -> pd.DataFrame:
    """The people (face tracks) of a source, aggregated in SQL: when first and last seen, faces, dominant emotion
    (of their certain faces unless ``include_uncertain``)."""
    if not inspect(engine).has_table(Face.__tablename__):
        return pd.DataFrame(columns=db_queries.TRACK_COLUMNS)
    return db_queries.tracks_table(engine, source_id, include_uncertain=include_uncertain)


def emotion_totals(engine: Engine, source_ids: Sequence[int], axis: str, time_range: TimeRange,
                   include_uncertain: bool = False) -> pd.DataFrame:
    """The seven emotions, in label order: faces, share of all faces, mean confidence (NaN where no face), and the
    uncertain faces of each label (left out of the others unless ``include_uncertain``)."""
    groups = pd.DataFrame(columns=["emotion", "uncertain", "faces", "confidence_sum"])
    if source_ids:
        q = (select(Face.emotion, Face.uncertain, func.count().label("faces"),
                    func.sum(Face.confidence).label("confidence_sum"))
             .where(*_where(Face, source_ids, axis, time_range)).group_by(Face.emotion, Face.uncertain))
        with engine.connect() as conn:
            groups = pd.DataFrame(conn.execute(q).all(), columns=["emotion", "uncertain", "faces", "confidence_sum"])
    return db_queries.summarize_groups(groups, include_uncertain)[TOTALS_COLUMNS]


def frame_totals(engine: Engine, source_ids: Sequence[int], axis: str, time_range: TimeRange) -> pd.DataFrame:
    """One row: frames analysed, frames with no face, faces found (from the frames' face counts)."""
    frames = frames_no_face = faces = 0
    if source_ids:
        q = (select(func.count(), func.sum(case((Frame.face_count == 0, 1), else_=0)), func.sum(Frame.face_count))
             .where(*_where(Frame, source_ids, axis, time_range)))
        with engine.connect() as conn:
            frames, frames_no_face, faces = conn.execute(q).one()
    return pd.DataFrame([{"frames": int(frames or 0), "frames_no_face": int(frames_no_face or 0),
                          "faces": int(faces or 0)}])


def _seconds(table, axis: str):
    """The time of a row in seconds on ``axis``, as a SQL expression."""
    return table.timestamp if axis == MEDIA else epoch_seconds(table.captured_at)


def _where(table, source_ids: Sequence[int], axis: str, time_range: TimeRange) -> list:
    """The filters, each a bound parameter; the range bounds are inclusive."""
    conds = [table.source_id.in_([int(i) for i in source_ids])]
    column = table.timestamp if axis == MEDIA else table.captured_at
    if axis == WALL:
        conds.append(column.is_not(None))
    start, end = time_range
    if start is not None:
        conds.append(column >= _bound(start, axis))
    if end is not None:
        conds.append(column <= _bound(end, axis))
    return conds


def _bound(seconds: float, axis: str):
    return float(seconds) if axis == MEDIA else datetime.fromtimestamp(seconds, timezone.utc)


def _as_time(seconds: pd.Series, axis: str) -> pd.Series:
    if axis == MEDIA:
        return seconds
    return pd.to_datetime(np.round(seconds * 1000).astype("int64"), unit="ms", utc=True)
