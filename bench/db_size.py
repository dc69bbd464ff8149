"""Database size: MiB per camera-hour of results on SQLite and PostgreSQL, with 1, 4 and 16 faces per frame.

One simulated live camera, sampled at --fps (default: ferstream's live sampling rate) and sent in
chunks of --chunk-seconds (default: ferstream's live chunk length), writes --minutes of results
through the real write path: ``db.writes.record_chunk`` as ingest records each chunk, then
``db.writes.write_results`` with the chunk's face tracks (``worker.tracker.track_chunk``), as a
worker stores them. The faces drift slowly, so their tracks link from chunk to chunk. Each case
writes into a fresh database: a temporary SQLite file (measured after a WAL checkpoint: the file
and its -wal), and with --postgres a database this script creates on that server and drops after
(measured after a VACUUM, as autovacuum keeps it, with pg_database_size, and pg_table_size and
pg_indexes_size per table). The size is measured halfway and at the end, and the growth over the
second half scaled to one camera-hour: the empty schema and each table's first pages (PostgreSQL's
free-space and visibility maps) are fixed costs, not per hour. Then ``db.retention.prune`` deletes
the older half, timed and given per camera-hour of data.

    python bench/db_size.py [--minutes 5] [--faces 1 4 16] [--postgres postgresql+psycopg2://postgres@HOST/DB]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/db_size.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.script import run_main
from bench.services import postgres_database, sqlite_database
from bench.tables import Report, Row, fmt, markdown_table

MIB = 1024 * 1024
#: the tables of results, in the order the detail table lists them
TABLES = ("faces", "frames", "chunks", "chunk_tracks")
#: a 720p camera: the faces sit on a grid across it
WIDTH, HEIGHT = 1280, 720


def build_parser() -> argparse.ArgumentParser:
    from ferstream.settings import DEFAULT_LIVE_CHUNK_SECONDS, DEFAULT_LIVE_SAMPLE_FPS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--minutes", type=float,
                        help="simulated minutes of video per case (default: 5; 1 with --quick)")
    parser.add_argument("--fps", type=float, default=DEFAULT_LIVE_SAMPLE_FPS,
                        help=f"frames analysed per second (default: {DEFAULT_LIVE_SAMPLE_FPS:g}, live sampling)")
    parser.add_argument("--chunk-seconds", type=float, default=DEFAULT_LIVE_CHUNK_SECONDS,
                        help=f"seconds per chunk (default: {DEFAULT_LIVE_CHUNK_SECONDS:g}, live chunks)")
    parser.add_argument("--faces", type=int, nargs="+", metavar="N",
                        help="faces per frame, one case each (default: 1 4 16; 1 4 with --quick)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure PostgreSQL: an admin URL of a server where the script may create a database")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 simulated minute, 1 and 4 faces")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="folder for the SQLite files (default: a temporary one)")
    return parser


# --- the databases -----------------------------------------------------------------------------

def sizes(engine) -> dict[str, tuple[int, int]]:
    """Bytes per table, (table, its indexes), and ``"total"``: the whole database (SQLite: file and -wal)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql(
                "SELECT coalesce(m.tbl_name, s.name), coalesce(m.type, 'table'), sum(s.pgsize) FROM dbstat s "
                "LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY s.name").all()
        out: dict[str, tuple[int, int]] = {}
        for table, kind, size in pages:
            heap, index = out.get(table, (0, 0))
            out[table] = (heap + size, index) if kind == "table" else (heap, index + size)
        path = Path(engine.url.database)
        wal = Path(str(path) + "-wal")
        out["total"] = (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0), 0)
        return out
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")
        out = {t: tuple(conn.exec_driver_sql(f"SELECT pg_table_size('{t}'), pg_indexes_size('{t}')").one())
               for t in TABLES + ("sources",)}
        out["total"] = (conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one(), 0)
    return out


# --- the camera --------------------------------------------------------------------------------

@dataclass
class Case:
    database: str
    faces: int
    frames: int = 0
    face_rows: int = 0
    write_s: float = 0.0
    prune_s: float = 0.0
    pruned_frames: int = 0
    written: int = 0  # bytes the whole run added to the empty schema
    grown: dict[str, tuple[int, int]] | None = None  # bytes the second half added per table (table, indexes), "total"
    grown_frames: int = 0  # frames the second half added
    grown_faces: int = 0  # face rows the second half added


class Camera:
    """One live camera with ``faces`` people in view, written chunk by chunk as ingest and a worker write it."""

    def __init__(self, engine, faces: int, args: argparse.Namespace):
        from ferstream.db import writes
        from ferstream.db.models import utcnow
        from ferstream.emotion_model import DEFAULT_MODEL, ModelMetadata, model_paths

        self.engine, self.faces, self.fps = engine, faces, args.fps
        self.version = ModelMetadata.read(model_paths(DEFAULT_MODEL)["json"]).version
        self.rng = np.random.default_rng(0)
        self.per_chunk = max(1, round(args.chunk_seconds * args.fps))
        self.start = utcnow() - timedelta(minutes=args.minutes)
        cols = int(np.ceil(np.sqrt(faces * WIDTH / HEIGHT)))
        cell = WIDTH // cols
        self.grid = np.array([[(k % cols) * cell + cell // 4, (k // cols) * cell + cell // 4] for k in range(faces)],
                             dtype=float)
        self.side = cell // 2
        self.image = np.zeros((8, 8), np.uint8)  # never stored: the frames' pixels do not reach the database
        self.source_id = writes.create_source(engine, name="camera-1", kind="live", uri="rtsp://camera-1/stream",
                                              width=WIDTH, height=HEIGHT, fps=25.0, sample_fps=args.fps)

    def write(self, first_frame: int, end_frame: int) -> tuple[int, int]:
        """Frames ``first_frame`` to ``end_frame`` (exclusive, whole chunks): frames and face rows written."""
        from ferstream.db import writes
        from ferstream.emotion_model import EMOTIONS
        from ferstream.results import Frame, FrameFaces
        from ferstream.worker.tracker import track_chunk

        frames = faces = 0
        for first in range(first_frame, end_frame, self.per_chunk):
            results = []
            for n in range(first, min(first + self.per_chunk, end_frame)):
                t = n / self.fps
                phase = np.arange(self.faces)
                drift = np.stack([8 * np.sin(t / 3 + phase), 4 * np.cos(t / 5 + phase)], axis=1)
                boxes = np.concatenate([np.rint(self.grid + drift).astype(np.int32),
                                        np.full((self.faces, 2), self.side, np.int32)], axis=1)
                probs = self.rng.dirichlet(np.full(len(EMOTIONS), 0.5), size=self.faces).astype(np.float32)
                results.append(FrameFaces(Frame(n, t, self.image, captured_at=self.start + timedelta(seconds=t)),
                                          boxes, probs))
            tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                                 [r.frame.timestamp for r in results])
            last, chunk_index = results[-1].frame.index, first // self.per_chunk
            writes.record_chunk(self.engine, self.source_id, chunk_index, first, last, len(results), last + 1)
            faces += writes.write_results(self.engine, self.source_id, chunk_index, results, EMOTIONS, self.version,
                                          tracks)
            frames += len(results)
        return frames, faces


def measure_case(url: str, case: Case, args: argparse.Namespace) -> Case:
    """Write the camera's two halves, measuring the size before, between and after; then prune the older half."""
    from ferstream import db
    from ferstream.db.retention import prune

    engine = db.connect(url)
    empty = sizes(engine)
    camera = Camera(engine, case.faces, args)
    n_frames = int(args.minutes * 60 * args.fps)
    half = n_frames // 2 // camera.per_chunk * camera.per_chunk
    began = time.perf_counter()
    frames, faces = camera.write(0, half)
    case.write_s = time.perf_counter() - began
    middle = sizes(engine)
    began = time.perf_counter()
    case.grown_frames, case.grown_faces = camera.write(half, n_frames)
    case.write_s += time.perf_counter() - began
    end = sizes(engine)
    case.frames = frames + case.grown_frames
    case.face_rows = faces + case.grown_faces
    case.written = end["total"][0] - empty["total"][0]
    case.grown = {t: (end[t][0] - middle.get(t, (0, 0))[0], end[t][1] - middle.get(t, (0, 0))[1]) for t in end}
    case.grown["other"] = (case.grown["total"][0] - sum(sum(case.grown.get(t, (0, 0))) for t in TABLES), 0)
    began = time.perf_counter()
    simulated_end = camera.start + timedelta(seconds=n_frames / args.fps)  # the cutoff: the first half's end
    case.pruned_frames = prune(engine, timedelta(seconds=(n_frames - half) / args.fps), now=simulated_end).frames
    case.prune_s = time.perf_counter() - began
    return case


def measure(args: argparse.Namespace, folder: Path) -> Report:
    args.minutes = args.minutes or (1.0 if args.quick else 5.0)
    faces = args.faces or ([1, 4] if args.quick else [1, 4, 16])
    cases: list[Case] = []
    for n in faces:
        with sqlite_database(folder, f"size-{n}") as url:
            cases.append(measure_case(url, Case("SQLite", n), args))
        if args.postgres:
            with postgres_database(args.postgres, f"size{n}") as url:
                cases.append(measure_case(url, Case("PostgreSQL", n), args))
    frames_per_hour = 3600 * args.fps
    rows, tables, summary = [], [], []
    for c in cases:
        per_hour = frames_per_hour / c.grown_frames  # the second half, scaled to an hour
        mib_hour = c.grown["total"][0] * per_hour / MIB
        heap, index = c.grown.get("faces", (0, 0))
        rows.append([c.database, c.faces, c.frames, c.face_rows, fmt(c.written / MIB, 2), fmt(mib_hour, 1),
                     fmt((heap + index) / max(c.grown_faces, 1), 0), fmt(heap / max(c.grown_faces, 1), 0),
                     fmt(c.write_s * frames_per_hour / c.frames, 0),
                     fmt(c.prune_s * frames_per_hour / c.pruned_frames if c.pruned_frames else None, 1)])
        mib = [(fmt(c.grown.get(t, (0, 0))[0] * per_hour / MIB, 1), fmt(c.grown.get(t, (0, 0))[1] * per_hour / MIB, 1))
               for t in TABLES]
        tables.append([c.database, c.faces, *(f"{table} + {indexes}" for table, indexes in mib),
                       fmt(c.grown["other"][0] * per_hour / MIB, 1)])
        summary.append(Row("db size", f"MiB per camera-hour, {c.faces} face(s) per frame at {args.fps:g} fps, "
                                      f"{c.database}", fmt(mib_hour, 1)))
    per_chunk = max(1, round(args.chunk_seconds * args.fps))
    report = Report("Database size per camera-hour")
    report.details.append(
        f"One live camera at {args.fps:g} fps in {args.chunk_seconds:g} s chunks ({per_chunk} frames each), "
        f"{args.minutes:g} simulated minutes per case; per camera-hour: the growth over the second half, scaled. "
        "B per face row: the faces table's growth, with its indexes, over the face rows added (heap: rows alone). "
        "Write and prune seconds: this machine's, per camera-hour of data, one writer.")
    report.details.append(markdown_table(
        ["database", "faces/frame", "frames", "face rows", "MiB written", "MiB per camera-hour", "B per face row",
         "of which heap", "write s per camera-hour", "prune s per camera-hour"], rows))
    report.details.append("MiB per camera-hour by table, rows + indexes (other: sources, catalog, file):\n\n"
                          + markdown_table(["database", "faces/frame", *TABLES, "other"], tables))
    report.rows += summary
    return report


def main(argv: list[str] | None = None) -> int:
    return run_main(build_parser, measure, argv, needs_media=False)


if __name__ == "__main__":
    sys.exit(main())
