"""Read-only queries that return pandas DataFrames (status, summaries, export).

Aggregations run in SQL: a live source can hold millions of face rows.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import case, func, select, true
from sqlalchemy.engine import Engine

from ferstream.db.models import Chunk, Face, Frame, Source
from ferstream.emotion_model import EMOTIONS
from ferstream.errors import FerstreamError


class SourceNotFound(FerstreamError):
    """No source has the id or name asked for."""


def find_source(engine: Engine, ref: str | int) -> int:
    """The id of the source with this id or name; an error when several sources share the name."""
    ref = str(ref)
    with engine.connect() as conn:
        by_name = conn.execute(select(Source.id).where(Source.name == ref).order_by(Source.id)).scalars().all()
        if len(by_name) > 1:
            raise SourceNotFound(f"{len(by_name)} sources are named {ref!r} (ids {', '.join(map(str, by_name))}): "
                                 "pass the id (see `ferstream status`)")
        if by_name:
            return by_name[0]
        if ref.isdigit() and conn.execute(select(Source.id).where(Source.id == int(ref))).scalar() is not None:
            return int(ref)
    raise SourceNotFound(f"no source with id or name {ref!r} (see `ferstream status`)")


def source_name(engine: Engine, source_id: int) -> str:
    """The name of a source (its id as text if it has gone)."""
    with engine.connect() as conn:
        name = conn.execute(select(Source.name).where(Source.id == source_id)).scalar()
    return name if name is not None else str(source_id)


def sources(engine: Engine, ids: list[int] | None = None) -> pd.DataFrame:
    """One row per source (or per source in ``ids``) with its progress and a status: queued, running, done or failed.

    Progress counts everything analysed, also what retention has pruned since (``pruned_frames`` of it)."""
    frames = (select(Frame.source_id, func.count().label("frames_analysed"),
                     func.sum(case((Frame.face_count == 0, 1), else_=0)).label("frames_no_face"),
                     func.sum(Frame.face_count).label("faces"))
              .where(Frame.source_id.in_(ids) if ids is not None else true())
              .group_by(Frame.source_id).subquery())
    chunks = (select(Chunk.source_id,
                     func.sum(case((Chunk.status == "done", 1), else_=0)).label("chunks_done"),
                     func.sum(case((Chunk.status == "failed", 1), else_=0)).label("chunks_failed"),
                     func.sum(case((Chunk.status == "failed", Chunk.n_frames), else_=0)).label("frames_failed"))
              .where(Chunk.source_id.in_(ids) if ids is not None else true())
              .group_by(Chunk.source_id).subquery())
    q = (select(Source.id, Source.name, Source.kind, Source.uri, Source.state, Source.error, Source.last_frame_at,
                Source.duration_s, Source.fps, Source.width, Source.height, Source.sample_fps,
                Source.frames_read, Source.frames_queued, Source.frames_dropped, Source.chunks_queued, Source.reconnects,
                # the rows left, plus what retention pruned of them (counted on the source as it deleted them)
                (func.coalesce(frames.c.frames_analysed, 0) + Source.pruned_frames).label("frames_analysed"),
                (func.coalesce(frames.c.frames_no_face, 0) + Source.pruned_frames_no_face).label("frames_no_face"),
                (func.coalesce(frames.c.faces, 0) + Source.pruned_faces).label("faces"),
                (func.coalesce(chunks.c.chunks_done, 0) + Source.pruned_chunks_done).label("chunks_done"),
                (func.coalesce(chunks.c.chunks_failed, 0) + Source.pruned_chunks_failed).label("chunks_failed"),
                (func.coalesce(chunks.c.frames_failed, 0) + Source.pruned_frames_failed).label("frames_failed"),
                Source.pruned_frames,
                Source.created_at, Source.updated_at)
         .outerjoin(frames, frames.c.source_id == Source.id)
         .outerjoin(chunks, chunks.c.source_id == Source.id)
         .order_by(Source.id))
    if ids is not None:
        q = q.where(Source.id.in_(ids))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).mappings().all())
    if df.empty:
        return pd.DataFrame(columns=[c.name for c in q.selected_columns] + ["status"])
    df["status"] = [source_status(r) for r in df.itertuples()]
    return df


#: ingest states of a source still producing chunks (a file being read; a live source in any state but the last)
INGESTING = ("reading", "starting", "running", "reconnecting", "stalled")


def source_status(row) -> str:
    pending = row.chunks_queued - row.chunks_done - row.chunks_failed
    if row.state == "failed" or row.chunks_failed:
        return "failed" if pending <= 0 and row.state not in INGESTING else "running"
    if row.state in ("finished", "stopped") and pending <= 0:
        return "done"
    if row.state == "queued":
        return "queued"
    return "running"


def last_frame_age(at) -> str:
    """How long ago a live source's newest frame was read ("" for files and sources never opened)."""
    if at is None or pd.isna(at):
        return ""
    at = pd.Timestamp(at)
    at = at.tz_localize("UTC") if at.tzinfo is None else at  # SQLite hands back naive UTC times
    seconds = max(0.0, (pd.Timestamp.now(tz="UTC") - at).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    return f"{seconds / 60:.0f}min ago" if seconds < 7200 else f"{seconds / 3600:.1f}h ago"


def progress(engine: Engine, source_id: int) -> dict:
    """Counters of one source, as in ``sources()``."""
    row = sources(engine, [source_id])
    if row.empty:
        raise SourceNotFound(f"no source with id {source_id}")
    return row.iloc[0].to_dict()


def emotion_summary(engine: Engine, source_id: int) -> pd.DataFrame:
    """Faces per emotion label, their share and mean confidence, for one source."""
    q = (select(Face.emotion, func.count().label("faces"), func.avg(Face.confidence).label("mean_confidence"))
         .where(Face.source_id == source_id).group_by(Face.emotion))
    with engine.connect() as conn:
        rows = {r.emotion: r for r in conn.execute(q)}
    total = sum(r.faces for r in rows.values())
    return pd.DataFrame(
        [{"emotion": e, "faces": rows[e].faces if e in rows else 0,
          "share": (rows[e].faces / total) if e in rows and total else 0.0,
          "mean_confidence": float(rows[e].mean_confidence) if e in rows else float("nan")} for e in EMOTIONS]
    )


#: seconds of a track's recent faces averaged into each face's smoothed probabilities (time-based: the same at any
#: sampling rate). A change of expression shows in the smoothed label once it holds for about half of this
SMOOTH_SECONDS = 1.0
SMOOTHED = [f"smooth_{e}" for e in EMOTIONS]
EXPORT_COLUMNS = ["source", "frame_index", "timestamp", "captured_at", "face_index", "track_id", "x", "y", "w", "h",
                  "emotion", "confidence", *EMOTIONS, "smoothed_emotion", *SMOOTHED, "model_version"]
TRACK_COLUMNS = ["source", "track_id", "first_timestamp", "last_timestamp", "seen_s", "faces", "dominant_emotion",
                 *[f"share_{e}" for e in EMOTIONS], *[f"mean_{e}" for e in EMOTIONS]]


def faces_table(engine: Engine, source_id: int) -> pd.DataFrame:
    """Every face of a source, one row per face, in frame order, with its track and smoothed emotion."""
    q = (select(Source.name.label("source"), Face.frame_index, Face.timestamp, Face.captured_at, Face.face_index,
                Face.track_id, Face.x, Face.y, Face.w, Face.h, Face.emotion, Face.confidence,
                *[getattr(Face, e) for e in EMOTIONS], Face.model_version)
         .join(Source, Source.id == Face.source_id)
         .where(Face.source_id == source_id).order_by(Face.frame_index, Face.face_index))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).mappings().all())
    if df.empty:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    df["track_id"] = df["track_id"].astype("Int64")
    return smooth(df)[EXPORT_COLUMNS]


def smooth(df: pd.DataFrame, seconds: float = SMOOTH_SECONDS) -> pd.DataFrame:
    """``df`` (face rows) with each face's probabilities averaged over its track's faces of the last ``seconds``
    (``smooth_<emotion>``) and their label (``smoothed_emotion``). A face without a track keeps its own."""
    df = df.copy()
    df[SMOOTHED] = df[list(EMOTIONS)].to_numpy()
    tracked = df[df["track_id"].notna()].sort_values(["track_id", "timestamp", "frame_index"])
    if len(tracked):
        timed = tracked.set_index(pd.to_timedelta(tracked["timestamp"], unit="s"))
        means = (timed.groupby("track_id", sort=False)[list(EMOTIONS)]
                 .rolling(pd.Timedelta(seconds=seconds), min_periods=1).mean())
        df.loc[tracked.index, SMOOTHED] = means.to_numpy()
    df["smoothed_emotion"] = df[SMOOTHED].to_numpy().argmax(axis=1)
    df["smoothed_emotion"] = [EMOTIONS[i] for i in df["smoothed_emotion"]]
    return df


def tracks_table(engine: Engine, source_id: int) -> pd.DataFrame:
    """One row per person (track) of a source: when seen, how many faces, the dominant emotion, each emotion's
    share and the mean probabilities; aggregated in SQL."""
    per_track = (select(Face.track_id, func.min(Face.timestamp).label("first_timestamp"),
                        func.max(Face.timestamp).label("last_timestamp"), func.count().label("faces"),
                        *[func.avg(getattr(Face, e)).label(f"mean_{e}") for e in EMOTIONS])
                 .where(Face.source_id == source_id, Face.track_id.is_not(None)).group_by(Face.track_id))
    per_label = (select(Face.track_id, Face.emotion, func.count().label("n"))
                 .where(Face.source_id == source_id, Face.track_id.is_not(None)).group_by(Face.track_id, Face.emotion))
    with engine.connect() as conn:
        name = conn.execute(select(Source.name).where(Source.id == source_id)).scalar()
        tracks = pd.DataFrame(conn.execute(per_track).mappings().all())
        labels = pd.DataFrame(conn.execute(per_label).mappings().all())
    if tracks.empty:
        return pd.DataFrame(columns=TRACK_COLUMNS)
    counts = labels.pivot_table(index="track_id", columns="emotion", values="n", fill_value=0).reindex(
        columns=list(EMOTIONS), fill_value=0)
    tracks = tracks.set_index("track_id")
    for e in EMOTIONS:
        tracks[f"share_{e}"] = counts[e] / tracks["faces"]
    tracks["dominant_emotion"] = counts.idxmax(axis=1)
    tracks["seen_s"] = tracks["last_timestamp"] - tracks["first_timestamp"]
    tracks["source"] = name
    return tracks.reset_index().sort_values("first_timestamp")[TRACK_COLUMNS].reset_index(drop=True)


__all__ = ["find_source", "sources", "progress", "emotion_summary", "faces_table", "tracks_table", "smooth",
           "SourceNotFound"]
