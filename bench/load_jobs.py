"""The load generator's job: a chunk's results made up, written on the workers' real path.

``bench/load.py`` queues ``write_synthetic_chunk`` in place of ``ferstream.worker.jobs.analyze_chunk``
onto the database's real queue, and real ``ferstream worker`` processes run it (the repository root on
their PYTHONPATH). It does what ``analyze_chunk`` does, minus the analysis: refuse another database's
chunk, skip a chunk already done, take the chunk's frames from Redis, follow the faces into tracks
(``worker.tracker.track_chunk``), write frames, faces and tracks in one transaction
(``db.writes.write_results``), drop the frames from Redis. The frames are fetched and dropped, not
decoded: the faces are made up in place of the detector and the classifier.

The faces are people moving across a 1920x1080 view: each of a source's ``faces_per_frame`` people
keeps a size and walks at a steady speed (bouncing off the edges), with a pixel of jitter, so the
tracker follows them and the tracks of neighbouring chunks link as real ones do. The probabilities
are random (Dirichlet), the same for any run with the same seed.

``faces_insert`` picks how the faces reach PostgreSQL, to measure alternatives to the shipped
insert: "sqlalchemy" (the shipped ``insert(Face)`` with a list of rows, SQLAlchemy 2's
insertmanyvalues), "execute_values" (psycopg2.extras.execute_values) or "copy" (COPY ... FROM
STDIN, CSV). The last two replace only the faces' INSERT inside ``write_results``, in the same
transaction, through a ``before_execute`` hook of this process's engine; everything else is the
shipped code.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone

import numpy as np
from rq import get_current_job
from sqlalchemy import event, text
from sqlalchemy.sql.dml import Insert

from ferstream.db import writes
from ferstream.db.models import Face
from ferstream.emotion_model import EMOTIONS
from ferstream.errors import FerstreamError
from ferstream.results import Frame, FrameFaces
from ferstream.worker.runtime import get_runtime
from ferstream.worker.tracker import track_chunk

#: the synthetic cameras' view (boxes are in source pixels)
VIEW = (1920, 1080)
#: wall-clock time of every synthetic source's frame 0
EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)
#: model_version of the synthetic rows
MODEL_VERSION = "synthetic-load"
#: how the faces may be inserted (see the module's docstring)
FACES_INSERTS = ("sqlalchemy", "execute_values", "copy")
#: a 1-pixel image: the frames' pixels are never looked at
_PIXEL = np.zeros((1, 1), dtype=np.uint8)


class ChunkMissing(FerstreamError):
    """A queued chunk's frames are not in Redis, or the job was queued for another database."""


def write_synthetic_chunk(database_id: str, source_id: int, chunk_index: int, frames: int, faces_per_frame: int,
                          key: str | None = None, fps: float = 5.0, seed: int = 0,
                          faces_insert: str = "sqlalchemy") -> dict:
    """RQ job: made-up results for ``frames`` frames of a chunk, with ``faces_per_frame`` faces each, written
    like ``analyze_chunk`` writes (the chunk's frames, at ``key`` in Redis, are fetched and dropped)."""
    rt = get_runtime()
    if database_id != rt.database_id:
        raise ChunkMissing(f"chunk {chunk_index} of source {source_id} belongs to database {database_id}, "
                           f"not to this worker's {rt.database_id}")
    _use_faces_insert(rt.engine, faces_insert)
    job = get_current_job()
    redis = job.connection if job is not None else None
    if writes.chunk_done(rt.engine, source_id, chunk_index):
        if key and redis is not None:
            redis.delete(key)
        return {"source_id": source_id, "chunk": chunk_index, "skipped": True}
    try:
        if key and redis is not None and redis.get(key) is None:
            raise ChunkMissing(f"chunk {chunk_index} of source {source_id}: its frames are gone from Redis ({key})")
        results = synthetic_results(source_id, chunk_index, frames, faces_per_frame, fps, seed)
        tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                             [r.frame.timestamp for r in results])
        start = time.perf_counter()
        faces = writes.write_results(rt.engine, source_id, chunk_index, results, tuple(EMOTIONS), MODEL_VERSION, tracks)
        write_ms = (time.perf_counter() - start) * 1000
    except Exception as exc:
        writes.record_failure(rt.engine, source_id, chunk_index, exc, final=job is None or not job.retries_left)
        raise
    if key and redis is not None:
        redis.delete(key)
    return {"source_id": source_id, "chunk": chunk_index, "frames": len(results), "faces": faces, "write_ms": write_ms}


def synthetic_results(source_id: int, chunk_index: int, frames: int, faces_per_frame: int, fps: float = 5.0,
                      seed: int = 0) -> list[FrameFaces]:
    """The faces of one chunk's frames: ``faces_per_frame`` people of the source, moving, with random emotions."""
    people = np.random.default_rng([seed, source_id])  # the same people in every chunk of the source
    size = people.uniform(60, 220, faces_per_frame)
    start = people.uniform(0, 1, (faces_per_frame, 2)) * (np.array(VIEW) - size[:, None])
    speed = people.uniform(-120, 120, (faces_per_frame, 2))  # pixels per second
    noise = np.random.default_rng([seed, source_id, chunk_index])
    results = []
    for k in range(frames):
        index = chunk_index * frames + k
        t = index / fps
        room = np.array(VIEW) - size[:, None]
        xy = np.abs((start + speed * t + room) % (2 * room) - room)  # bounce between 0 and the far edge
        xy += noise.normal(0, 1, xy.shape)
        boxes = np.column_stack([np.clip(xy, 0, room), size, size]).round().astype(np.int32)
        probs = noise.dirichlet(np.full(len(EMOTIONS), 0.5), faces_per_frame).astype(np.float32)
        frame = Frame(index, t, _PIXEL, EPOCH + timedelta(seconds=t))
        results.append(FrameFaces(frame, boxes.reshape(-1, 4), probs.reshape(-1, len(EMOTIONS))))
    return results


# --- alternatives to the faces' INSERT (measured by bench/load.py --faces-insert) ---------------------------

_mode = "sqlalchemy"
_hooked: set[int] = set()


def _use_faces_insert(engine, mode: str) -> None:
    """Send this process's faces INSERTs on ``engine`` by ``mode`` from now on (hooked once per engine)."""
    global _mode
    if mode not in FACES_INSERTS:
        raise ValueError(f"faces_insert must be one of {', '.join(FACES_INSERTS)}, got {mode!r}")
    if mode != "sqlalchemy" and engine.dialect.name != "postgresql":
        raise ValueError(f"faces_insert={mode} needs PostgreSQL, not {engine.dialect.name}")
    _mode = mode
    if id(engine) not in _hooked:
        event.listen(engine, "before_execute", _faces_insert_hook, retval=True)
        _hooked.add(id(engine))


def _faces_insert_hook(conn, element, multiparams, params, execution_options):
    if _mode == "sqlalchemy" or not isinstance(element, Insert) or element.table.name != Face.__tablename__:
        return element, multiparams, params
    rows = list(multiparams) or [params]
    columns = list(rows[0])
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        names = ", ".join(columns)
        if _mode == "copy":
            buf = io.StringIO()
            out = csv.writer(buf)
            for row in rows:
                out.writerow([_csv_value(row[c]) for c in columns])
            buf.seek(0)
            cursor.copy_expert(f"COPY faces ({names}) FROM STDIN WITH (FORMAT csv)", buf)
        else:
            from psycopg2.extras import execute_values

            execute_values(cursor, f"INSERT INTO faces ({names}) VALUES %s", [[row[c] for c in columns] for row in rows],
                           page_size=1000)
    finally:
        cursor.close()
    return text("SELECT 1"), [], {}  # the rows are in: the statement SQLAlchemy runs instead does nothing


def _csv_value(value):
    if value is None:
        return None  # an unquoted empty field: NULL
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return "\\x" + bytes(value).hex()
    return value
