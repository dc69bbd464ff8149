"""Every write to the database: ingest records sources and chunks, workers record results.

Each function is one short transaction. Results of a chunk replace whatever an
earlier attempt of the same chunk wrote, so a retried job never duplicates rows.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from ferstream.db.models import Chunk, ChunkTrack, Event, Face, Frame, Source, utcnow
from ferstream.results import FrameFaces
from ferstream.tracks import ChunkTracks, Track, link_tracks

log = logging.getLogger(__name__)


def create_source(engine: Engine, *, name: str, kind: str, uri: str, **info) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(Source).values(name=name, kind=kind, uri=uri, **{"state": "queued", **info})
                            .returning(Source.id)).scalar_one()


def update_source(engine: Engine, source_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(Source).where(Source.id == source_id).values(updated_at=utcnow(), **values))


def record_chunk(engine: Engine, source_id: int, chunk_index: int, first: int, last: int, n_frames: int,
                 frames_read: int, frames_dropped: int = 0, state: str = "reading", **source_values) -> None:
    """A chunk sent to the workers, and the source's counters (and ``source_values``) with it."""
    with engine.begin() as conn:
        conn.execute(delete(Chunk).where(Chunk.source_id == source_id, Chunk.chunk_index == chunk_index))
        conn.execute(insert(Chunk).values(source_id=source_id, chunk_index=chunk_index, first_frame=first,
                                          last_frame=last, n_frames=n_frames, status="queued"))
        conn.execute(update(Source).where(Source.id == source_id).values(
            frames_queued=Source.frames_queued + n_frames, chunks_queued=Source.chunks_queued + 1,
            frames_read=frames_read, frames_dropped=frames_dropped, state=state, updated_at=utcnow(), **source_values))


def chunk_done(engine: Engine, source_id: int, chunk_index: int) -> bool:
    with engine.connect() as conn:
        status = conn.execute(select(Chunk.status).where(Chunk.source_id == source_id, Chunk.chunk_index == chunk_index)).scalar()
    return status == "done"


def write_results(engine: Engine, source_id: int, chunk_index: int, results: list[FrameFaces],
                  labels: tuple[str, ...], model_version: str, tracks: ChunkTracks | None = None,
                  then: Callable | None = None) -> int:
    """All frames and faces of one chunk in one transaction; returns the number of faces written.

    With ``tracks`` (the chunk's local face tracks), each face gets its source-level ``track_id``: the
    chunk's tracks get new ids, and each is linked to the track of a neighbouring chunk that it continues,
    if that chunk has landed (whichever of two neighbours lands second links them). Linked tracks keep the
    smaller id. The source's row is locked for the transaction, so two neighbours landing at once link too.
    ``then(conn, source_id)`` runs last in the same transaction (the event rules' evaluation, ``ferstream.events``).
    """
    if not results:
        return 0
    first, last = results[0].frame.index, results[-1].frame.index
    frame_rows, face_rows = [], []
    for k, r in enumerate(results):
        f = r.frame
        frame_rows.append(dict(source_id=source_id, frame_index=f.index, chunk_index=chunk_index,
                               timestamp=f.timestamp, captured_at=f.captured_at, face_count=len(r)))
        if not len(r):
            continue
        best = r.probabilities.argmax(axis=1)
        quality = [None if np.isnan(q) else q for q in np.asarray(r.quality, np.float64).tolist()]  # NaN: not measured
        uncertain = np.asarray(r.uncertain, bool).tolist()
        for i, (box, probs) in enumerate(zip(r.boxes.tolist(), r.probabilities.tolist())):
            row = dict(source_id=source_id, frame_index=f.index, face_index=i, timestamp=f.timestamp,
                       captured_at=f.captured_at, x=box[0], y=box[1], w=box[2], h=box[3],
                       emotion=labels[best[i]], confidence=probs[best[i]], model_version=model_version,
                       quality=quality[i], uncertain=uncertain[i],
                       face_jpeg=_jpeg(r.crops[i]) if r.crops is not None else None,
                       track_id=int(tracks.local_ids[k][i]) if tracks is not None else None)
            row.update(zip(labels, probs))
            face_rows.append(row)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # the source's row first, before the inserts take their foreign-key share locks on it: two chunks landing
            # at once, or a chunk and a prune batch (``db.retention``), then wait for each other here instead of
            # deadlocking on the faces' rows or the upgrade (SQLite: the deletes below take the database's write lock)
            conn.execute(select(Source.id).where(Source.id == source_id).with_for_update())
        conn.execute(delete(Face).where(Face.source_id == source_id, Face.frame_index.between(first, last)))
        conn.execute(delete(Frame).where(Frame.source_id == source_id, Frame.frame_index.between(first, last)))
        if tracks is not None:
            ids = _stitch(conn, source_id, chunk_index, tracks)
            for row in face_rows:
                row["track_id"] = ids[row["track_id"]]
        conn.execute(insert(Frame), frame_rows)
        if face_rows:
            conn.execute(insert(Face), face_rows)
        conn.execute(update(Chunk).where(Chunk.source_id == source_id, Chunk.chunk_index == chunk_index)
                     .values(status="done", error=None, done_at=_done_now(conn), attempts=Chunk.attempts + 1))
        if then is not None:
            then(conn, source_id)
    return len(face_rows)


#: PostgreSQL advisory lock taken by every transaction that marks a chunk done, until it commits (an arbitrary
#: 63-bit number of ferstream's own)
DONE_ORDER_LOCK = 0x0FE5_7EA3_D04E


def _done_now(conn):
    """The done time of a chunk landing in ``conn``'s transaction, such that chunks commit in the order of their done
    times: a follower of the live feed (``db.live_feed``) that has seen one chunk has seen every chunk done before
    it, and one that resumes after its last chunk misses none. SQLite has one writer at a time (this transaction
    holds the database's write lock by now). On PostgreSQL, transactions of different sources land at once: each
    takes one advisory lock before its done time and holds it to its commit (the chunk's update and the event rules'
    evaluation: the only part of landing done one at a time), and the time is the database's own clock (workers on
    several machines disagree on theirs)."""
    if conn.dialect.name != "postgresql":
        return utcnow()
    conn.execute(select(func.pg_advisory_xact_lock(DONE_ORDER_LOCK)))
    return func.clock_timestamp()


def _stitch(conn, source_id: int, chunk_index: int, tracks: ChunkTracks) -> dict[int, int]:
    """Source-level ids for the chunk's local tracks (local id -> track id), linked to its landed neighbours."""
    conn.execute(delete(ChunkTrack).where(ChunkTrack.source_id == source_id, ChunkTrack.chunk_index == chunk_index))
    base = conn.execute(select(Source.next_track_id).where(Source.id == source_id)).scalar_one()
    conn.execute(update(Source).where(Source.id == source_id).values(next_track_id=base + len(tracks.tracks)))
    ids = {t.local_id: base + t.local_id for t in tracks.tracks}

    def neighbour(index: int) -> tuple[list[Track], dict[int, int]]:
        """A landed neighbour's local tracks, and its local id -> track id."""
        rows = conn.execute(select(ChunkTrack).where(ChunkTrack.source_id == source_id,
                                                     ChunkTrack.chunk_index == index)).all()
        found = [Track(r.local_id, r.first_frame, r.first_time, np.array([r.first_x, r.first_y, r.first_w, r.first_h]),
                       r.last_frame, r.last_time, np.array([r.last_x, r.last_y, r.last_w, r.last_h])) for r in rows]
        return found, {r.local_id: r.track_id for r in rows}

    def unify(mine: int, theirs: int) -> None:
        keep, drop = min(ids[mine], theirs), max(ids[mine], theirs)
        if keep == drop:
            return
        for local, track_id in ids.items():
            if track_id == drop:
                ids[local] = keep
        conn.execute(update(Face).where(Face.source_id == source_id, Face.track_id == drop).values(track_id=keep))
        conn.execute(update(ChunkTrack).where(ChunkTrack.source_id == source_id, ChunkTrack.track_id == drop)
                     .values(track_id=keep))
        conn.execute(update(Event).where(Event.source_id == source_id, Event.track_id == drop).values(track_id=keep))

    before, before_ids = neighbour(chunk_index - 1)
    for theirs, mine in link_tracks(before, tracks.tracks):
        unify(mine, before_ids[theirs])
    after, after_ids = neighbour(chunk_index + 1)
    for mine, theirs in link_tracks(tracks.tracks, after):
        unify(mine, after_ids[theirs])
    if tracks.tracks:
        conn.execute(insert(ChunkTrack), [dict(
            source_id=source_id, chunk_index=chunk_index, local_id=t.local_id, track_id=ids[t.local_id],
            first_frame=t.first_frame, first_time=t.first_time, first_x=float(t.first_box[0]), first_y=float(t.first_box[1]),
            first_w=float(t.first_box[2]), first_h=float(t.first_box[3]), last_frame=t.last_frame, last_time=t.last_time,
            last_x=float(t.last_box[0]), last_y=float(t.last_box[1]), last_w=float(t.last_box[2]),
            last_h=float(t.last_box[3])) for t in tracks.tracks])
    return ids


def chunk_failed(engine: Engine, source_id: int, chunk_index: int, error: str, final: bool = True) -> None:
    """A failed attempt: ``failed`` when no retry is left, else ``retrying``; the reason is kept."""
    with engine.begin() as conn:
        conn.execute(update(Chunk).where(Chunk.source_id == source_id, Chunk.chunk_index == chunk_index,
                                         Chunk.status != "done")
                     .values(status="failed" if final else "retrying", error=error[:2000], attempts=Chunk.attempts + 1))


def record_failure(engine: Engine, source_id: int, chunk_index: int, exc: BaseException, final: bool = True) -> None:
    """``chunk_failed`` with the exception as the reason; a database that is down too is logged, not raised."""
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__  # KeyboardInterrupt has no message
    try:
        chunk_failed(engine, source_id, chunk_index, reason, final=final)
    except Exception as db_exc:  # noqa: BLE001 - the database may be the thing that is down
        log.warning("could not record the failure of chunk %d of source %d: %s", chunk_index, source_id, db_exc)


def _jpeg(crop: np.ndarray) -> bytes:
    from ferstream.codec import encode_image

    return encode_image(crop, 95)
