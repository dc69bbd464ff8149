"""ferstream's side of the comparison: its settings on a fresh database, a frame as ingest hands it to the worker,
a clip through `ferstream analyze`'s in-process path, a clip queued for the workers, and what they recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def ferstream_settings(database_url: str, redis_url: str | None = None, **changes):
    """ferstream's settings from the environment, on ``database_url``, in-process unless ``redis_url``."""
    from dataclasses import replace

    from ferstream.settings import Settings

    return replace(Settings.from_env(database_url=database_url), redis_url=redis_url, **changes)


def sqlite_url(folder: Path, name: str) -> str:
    """The URL of a fresh SQLite file ``folder/name.db`` (any earlier one, with its -wal and -shm, removed)."""
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def analysis_frame(bgr: np.ndarray, min_face: float | None = None, width: int | None = None) -> tuple[np.ndarray, float]:
    """A BGR frame as ingest hands it to the worker (grey, scaled down to the analysis width unless that would make
    a face of ``min_face`` smaller than the model's input), and the scale back to source pixels."""
    from ferstream.ingest.video import analysis_scale, to_analysis_frame
    from ferstream.settings import DEFAULT_ANALYSIS_WIDTH

    h, w = bgr.shape[:2]
    scale = analysis_scale(w, width or DEFAULT_ANALYSIS_WIDTH, h, min_face)
    return to_analysis_frame(bgr, scale), scale


@dataclass
class InProcessRun:
    """A clip analysed by `ferstream analyze`'s in-process path: its database, its sink, its source, its seconds."""

    engine: object
    sink: object
    source_id: int
    seconds: float

    def boxes_per_frame(self) -> list[np.ndarray]:
        """Each analysed frame's boxes (x, y, w, h, source pixels), in frame order."""
        from sqlalchemy import select

        from ferstream.db.models import Face, Frame

        with self.engine.connect() as conn:
            per_frame: dict[int, list] = {i: [] for i in conn.execute(
                select(Frame.frame_index).where(Frame.source_id == self.source_id)).scalars()}
            for index, *box in conn.execute(select(Face.frame_index, Face.x, Face.y, Face.w, Face.h)
                                            .where(Face.source_id == self.source_id)):
                per_frame.setdefault(index, []).append(box)
        return [np.asarray(per_frame[i], float).reshape(-1, 4) for i in sorted(per_frame)]


def analyze_in_process(clip: Path, folder: Path, name: str) -> InProcessRun:
    """`ferstream analyze`'s code path without Redis (ingest.files.ingest_file into the in-process sink) on a fresh
    SQLite file: decoding, grey and scale, detection, classification and the database write on the clock; the
    migrations and the models' loading off it."""
    from ferstream import db
    from ferstream.ingest.files import ingest_file
    from ferstream.sinks import make_sink

    settings = ferstream_settings(sqlite_url(folder, name))
    engine = db.connect(settings.database_url)  # migrations run here, off the clock
    sink = make_sink(settings, engine)
    sink.runtime.analyzer  # noqa: B018 - the model loads once per process, before the first chunk
    start = time.perf_counter()
    source_id = ingest_file(engine, clip, sink, settings)
    return InProcessRun(engine, sink, source_id, time.perf_counter() - start)


def queue_clip(clip: Path, settings) -> tuple[int, int]:
    """Send every frame of ``clip`` to the RQ queue with ingest's real code path; (source id, frames sent)."""
    from ferstream import db
    from ferstream.ingest.files import ingest_file
    from ferstream.sinks import make_sink

    engine = db.connect(settings.database_url)
    sink = make_sink(settings, engine)
    source_id = ingest_file(engine, clip, sink, settings)
    return source_id, frames_recorded(settings.database_url, source_id, "frames_queued")


def frames_recorded(database_url: str, source_id: int, column: str = "frames_analysed") -> int:
    """A source's counter as ``db.queries.progress`` reports it (frames_analysed, frames_queued, faces ...)."""
    from ferstream import db
    from ferstream.db.queries import progress

    return int(progress(db.connect(database_url), source_id)[column])
