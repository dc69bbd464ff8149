"""Read-only queries that return pandas DataFrames (status, summaries, export).

Aggregations run in SQL: a live source can hold millions of face rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select, true
from sqlalchemy.engine import Engine

from ferstream.db.models import Chunk, ChunkTrack, Face, Frame, Source
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


def newest_source(engine: Engine, name: str, kind: str = "live") -> int | None:
    """The id of the newest source of this name and kind (a camera's current run); None if it never ran."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(Source.id)).where(Source.name == name, Source.kind == kind)).scalar()


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


def source_progress(row) -> float | None:
    """Share of a source's frames done, 0..1, for a row of ``sources()``: a file's sampled frames (of its whole
    length while it is read) analysed or failed; a live source's frames sent. A failed source shows how far it got:
    its frames analysed, of the whole file for a file (its failed chunks are not progress). None while nothing can
    be said (a live source before its first chunk)."""
    if row.status == "done":
        return 1.0
    failed = row.status == "failed"
    expected = int(row.frames_queued)
    length = (row.duration_s or 0) * (row.sample_fps or 0)
    if row.kind == "file" and (failed or row.state in ("queued", "reading")) and length == length and length > 0:
        expected = max(expected, round(length))  # NaN (a length unknown) is not equal to itself
    done = int(row.frames_analysed) + (0 if failed else int(row.frames_failed))
    if not expected:
        return 0.0 if failed or row.kind == "file" else None
    return min(1.0, done / expected)


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


SUMMARY_COLUMNS = ["emotion", "faces", "share", "mean_confidence", "uncertain"]


def emotion_summary(engine: Engine, source_id: int, include_uncertain: bool = False) -> pd.DataFrame:
    """Faces per emotion label, their share and mean confidence, for one source; ``uncertain``: how many of the
    label's faces are uncertain. Uncertain faces are left out of ``faces``, ``share`` and ``mean_confidence`` unless
    ``include_uncertain``."""
    q = (select(Face.emotion, Face.uncertain, func.count().label("faces"),
                func.sum(Face.confidence).label("confidence_sum"))
         .where(Face.source_id == source_id).group_by(Face.emotion, Face.uncertain))
    with engine.connect() as conn:
        groups = pd.DataFrame(conn.execute(q).all(), columns=["emotion", "uncertain", "faces", "confidence_sum"])
    return summarize_groups(groups, include_uncertain)


def summarize_groups(groups: pd.DataFrame, include_uncertain: bool = False) -> pd.DataFrame:
    """The summary (``SUMMARY_COLUMNS``, one row per emotion in label order) of face counts grouped by emotion and
    uncertain flag (columns emotion, uncertain, faces, confidence_sum); shared by the CLI's summary (counted in SQL)
    and the Python API's (counted from a DataFrame of faces)."""
    groups = groups.astype({"uncertain": bool, "faces": "int64", "confidence_sum": "float64"})
    counted = groups if include_uncertain else groups[~groups["uncertain"]]
    by_label = counted.groupby("emotion")[["faces", "confidence_sum"]].sum().reindex(list(EMOTIONS))
    flagged = groups[groups["uncertain"]].groupby("emotion")["faces"].sum().reindex(list(EMOTIONS))
    faces = by_label["faces"].fillna(0).astype("int64")
    total = int(faces.sum())
    return pd.DataFrame({
        "emotion": list(EMOTIONS), "faces": faces.to_numpy(),
        "share": (faces / total).to_numpy() if total else 0.0,
        "mean_confidence": (by_label["confidence_sum"] / faces.where(faces > 0)).to_numpy(dtype="float64"),
        "uncertain": flagged.fillna(0).astype("int64").to_numpy()})


#: seconds of a track's recent faces averaged into each face's smoothed probabilities (time-based: the same at any
#: sampling rate). A change of expression shows in the smoothed label once it holds for about half of this
SMOOTH_SECONDS = 1.0
SMOOTHED = [f"smooth_{e}" for e in EMOTIONS]
EXPORT_COLUMNS = ["source", "frame_index", "timestamp", "captured_at", "face_index", "track_id", "x", "y", "w", "h",
                  "emotion", "confidence", "quality", "uncertain", *EMOTIONS, "smoothed_emotion", *SMOOTHED,
                  "model_version"]
TRACK_COLUMNS = ["source", "track_id", "first_timestamp", "last_timestamp", "seen_s", "faces", "uncertain_faces",
                 "mean_quality", "dominant_emotion", *[f"share_{e}" for e in EMOTIONS], *[f"mean_{e}" for e in EMOTIONS]]


def faces_table(engine: Engine, source_id: int, include_uncertain: bool = False) -> pd.DataFrame:
    """Every face of a source, one row per face, in frame order, with its quality, whether it is uncertain, its track
    and smoothed emotion (smoothed over the track's certain faces unless ``include_uncertain``: see ``smooth``)."""
    q = (select(Source.name.label("source"), Face.frame_index, Face.timestamp, Face.captured_at, Face.face_index,
                Face.track_id, Face.x, Face.y, Face.w, Face.h, Face.emotion, Face.confidence, Face.quality,
                Face.uncertain, *[getattr(Face, e) for e in EMOTIONS], Face.model_version)
         .join(Source, Source.id == Face.source_id)
         .where(Face.source_id == source_id).order_by(Face.frame_index, Face.face_index))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).mappings().all())
    if df.empty:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    df["track_id"] = df["track_id"].astype("Int64")
    df["quality"] = df["quality"].astype("float64")  # NULL (not measured): NaN
    df["uncertain"] = df["uncertain"].astype(bool)
    return smooth(df, include_uncertain=include_uncertain)[EXPORT_COLUMNS]


def smooth(df: pd.DataFrame, seconds: float = SMOOTH_SECONDS, include_uncertain: bool = False) -> pd.DataFrame:
    """``df`` (face rows) with each face's probabilities averaged over its track's faces of the last ``seconds``
    (``smooth_<emotion>``) and their label (``smoothed_emotion``). A face without a track keeps its own.

    Uncertain faces (an ``uncertain`` column) count for nothing unless ``include_uncertain``: a face's smoothed
    emotion is that of its track's certain faces of the last ``seconds``; where there is none (an uncertain face
    alone, or a track all uncertain so far), the face has no smoothed emotion (None, and NaN probabilities)."""
    df = df.copy()
    probs = df[list(EMOTIONS)].to_numpy(dtype="float64")
    counted = (np.ones(len(df), bool) if include_uncertain or "uncertain" not in df
               else ~df["uncertain"].astype(bool).to_numpy())
    weighted = pd.DataFrame(probs * counted[:, None], index=df.index, columns=SMOOTHED).assign(_n=counted.astype(float))
    sums = weighted.copy()
    tracked = df["track_id"].notna().to_numpy()
    if tracked.any():
        order = df[tracked].sort_values(["track_id", "timestamp", "frame_index"])
        timed = weighted.loc[order.index].assign(track_id=order["track_id"].to_numpy())
        timed.index = pd.to_timedelta(order["timestamp"].to_numpy(), unit="s")
        rolled = (timed.groupby("track_id", sort=False)[[*SMOOTHED, "_n"]]
                  .rolling(pd.Timedelta(seconds=seconds), min_periods=1).sum())
        sums.loc[order.index, [*SMOOTHED, "_n"]] = rolled.to_numpy()
    n = sums["_n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        df[SMOOTHED] = np.where(n[:, None] > 0, sums[SMOOTHED].to_numpy() / np.maximum(n, 1)[:, None], np.nan)
    best = np.nan_to_num(df[SMOOTHED].to_numpy(), nan=-1.0).argmax(axis=1)
    df["smoothed_emotion"] = [EMOTIONS[i] if k > 0 else None for i, k in zip(best, n)]
    return df


def chunk_track_ids(engine: Engine, source_id: int, chunk_index: int) -> dict[int, int]:
    """A landed chunk's local track ids and the source-level track id of each (what ``db.writes`` linked them to)."""
    with engine.connect() as conn:
        return dict(conn.execute(select(ChunkTrack.local_id, ChunkTrack.track_id).where(
            ChunkTrack.source_id == source_id, ChunkTrack.chunk_index == chunk_index)).all())


def tracks_table(engine: Engine, source_id: int, include_uncertain: bool = False) -> pd.DataFrame:
    """One row per person (track) of a source: when seen, how many faces (and how many of them uncertain, their mean
    quality), the dominant emotion, each emotion's share and the mean probabilities; aggregated in SQL.

    The emotions (dominant, shares, means) count the track's certain faces only unless ``include_uncertain``: a
    track whose faces are all uncertain has no dominant emotion (None) and NaN shares and means."""
    counted = true() if include_uncertain else Face.uncertain.is_(False)
    per_track = (select(Face.track_id, func.min(Face.timestamp).label("first_timestamp"),
                        func.max(Face.timestamp).label("last_timestamp"), func.count().label("faces"),
                        func.sum(case((Face.uncertain, 1), else_=0)).label("uncertain_faces"),
                        func.avg(Face.quality).label("mean_quality"),
                        *[func.avg(case((counted, getattr(Face, e)))).label(f"mean_{e}") for e in EMOTIONS])
                 .where(Face.source_id == source_id, Face.track_id.is_not(None)).group_by(Face.track_id))
    per_label = (select(Face.track_id, Face.emotion, func.count().label("n"))
                 .where(Face.source_id == source_id, Face.track_id.is_not(None), counted)
                 .group_by(Face.track_id, Face.emotion))
    with engine.connect() as conn:
        name = conn.execute(select(Source.name).where(Source.id == source_id)).scalar()
        tracks = pd.DataFrame(conn.execute(per_track).mappings().all())
        labels = pd.DataFrame(conn.execute(per_label).mappings().all(), columns=["track_id", "emotion", "n"])
    if tracks.empty:
        return pd.DataFrame(columns=TRACK_COLUMNS)
    tracks = tracks.set_index("track_id")
    counts = (labels.pivot_table(index="track_id", columns="emotion", values="n", fill_value=0)
              .reindex(index=tracks.index, columns=list(EMOTIONS), fill_value=0).fillna(0))
    n = counts.sum(axis=1)
    for e in EMOTIONS:
        tracks[f"share_{e}"] = counts[e] / n.where(n > 0)
    tracks["dominant_emotion"] = [e if k > 0 else None for e, k in zip(counts.idxmax(axis=1), n)]
    tracks["uncertain_faces"] = tracks["uncertain_faces"].fillna(0).astype("int64")
    tracks["mean_quality"] = tracks["mean_quality"].astype("float64")
    for e in EMOTIONS:
        tracks[f"mean_{e}"] = tracks[f"mean_{e}"].astype("float64")
    tracks["seen_s"] = tracks["last_timestamp"] - tracks["first_timestamp"]
    tracks["source"] = name
    return tracks.reset_index().sort_values(["first_timestamp", "track_id"])[TRACK_COLUMNS].reset_index(drop=True)


__all__ = ["chunk_track_ids", "find_source", "newest_source", "sources", "source_progress", "progress", "emotion_summary", "summarize_groups", "faces_table", "tracks_table",
           "smooth", "SourceNotFound"]
