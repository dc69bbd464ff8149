"""Load: the ceiling of one Redis and one PostgreSQL on the workers' real write path.

Cameras are made up; everything after the detector and the classifier is real. For each
number of workers (--workers), N real `ferstream worker` processes start (N separate
processes, as N machines or containers run them, each with the repository root on its
PYTHONPATH) on a fresh PostgreSQL database (--postgres; or --database, used as is). For each
number of faces per frame (--faces) the script then plays ingest: it records --sources live
sources and their chunks (db.writes.create_source, record_chunk), and queues every chunk at
once onto the database's real queue (queue_name(settings.queue, database id)), each as the
job bench.load_jobs.write_synthetic_chunk beside its frames in Redis (a real chunk: --frames
grey frames of the real footage, JPEG q90, by ferstream.codec), as ingest's RQ sink does.
The workers fetch the frames, make up --faces moving faces per frame with random emotions,
follow them into tracks (worker.tracker.track_chunk) and write frames, faces and tracks in one
transaction (db.writes.write_results, tracks linked across chunks), then drop the frames.

Measured per point, end to end (the first chunk queued -> the last chunk's commit): chunks/s,
face rows/s, the cores used by the workers, PostgreSQL, Redis and everything else on the
machine, the median time of write_results per chunk, and Redis memory: the peak over the
round, and what a queued and a finished chunk (RQ keeps results for an hour) hold. Cameras:
a camera sampled at --fps sends one chunk per --frames/--fps seconds (5 frames at 5 fps: one
chunk a second), so cameras = chunks/s x frames / fps. Throughput bends at the fewest workers
that no larger number measured beats by 15%. Each point's rows are counted in the database afterwards.

--faces-insert compares ways of sending the faces to PostgreSQL (bench/load_jobs.py): the
shipped insert (SQLAlchemy's insertmanyvalues), psycopg2's execute_values, COPY.

The default run (12 points of 240 chunks) takes about 3.5 minutes on 2 cores; --quick, about 10 s.
The jobs run without RQ retries (a failure stops the run). --redis names a Redis to use
instead of a throwaway redis-server; its memory figures then include whatever else it holds.

    python bench/load.py [--workers 1 2 4 8] [--faces 1 4 16] [--chunks 240] [--sources 20]
                         [--postgres ADMIN_URL | --database URL] [--redis URL]
                         [--faces-insert sqlalchemy execute_values copy] [--repeat R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):  # run as a file: python bench/load.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cpu_usage import cores_used, cpu_snapshot, postgres_pids
from bench.data import DEFAULT_MEDIA
from bench.load_jobs import FACES_INSERTS
from bench.load_queue import MemoryPeak, enqueue, payload, queued_chunk_bytes, used_memory
from bench.processes import Workers
from bench.script import run_main
from bench.services import RedisServer, postgres_database
from bench.tables import Report, Row, fmt, markdown_table

#: the PostgreSQL server's admin database, where a fresh database per worker count is made
DEFAULT_POSTGRES = os.environ.get("FERSTREAM_LOAD_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
#: throughput has bent at the fewest workers that no larger number measured beats by this factor
BEND = 1.15
#: chunks queued per Redis pipeline
BATCH = 50
#: the default run: about 3.5 minutes on 2 cores
FULL = dict(workers=[1, 2, 4, 8], faces=[1, 4, 16], chunks=240, sources=20)
#: the smoke run: two points of a few chunks
QUICK = dict(workers=[2], faces=[1, 16], chunks=12, sources=3)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--workers", type=int, nargs="+", metavar="N",
                        help="worker processes per run (default: 1 2 4 8; 2 with --quick)")
    parser.add_argument("--faces", type=int, nargs="+", metavar="F",
                        help="faces per frame (default: 1 4 16; 1 16 with --quick)")
    parser.add_argument("--chunks", type=int, metavar="C",
                        help="chunks queued per point, rounded up to whole rounds of the sources (default: 240; 12 with --quick)")
    parser.add_argument("--sources", type=int, metavar="S", help="cameras per point, their chunks interleaved (default: 20; 3 with --quick)")
    parser.add_argument("--frames", type=int, default=5, metavar="K", help="frames per chunk (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=5.0, help="frames per second sampled from each camera (default: %(default)s)")
    parser.add_argument("--faces-insert", nargs="+", default=["sqlalchemy"], choices=FACES_INSERTS, metavar="HOW",
                        help=f"how the faces reach the database, each measured in turn: {', '.join(FACES_INSERTS)} "
                             "(default: sqlalchemy, the shipped insert; the others need PostgreSQL)")
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="measure every point R times, interleaved, and report the median (default: %(default)s)")
    parser.add_argument("--payload-kib", type=float, metavar="KIB",
                        help="bytes of frames queued with each chunk (default: a real chunk of the footage; 0: none)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="ADMIN_URL",
                        help="PostgreSQL server: a fresh database per worker count is created there and dropped "
                             "afterwards (default: $FERSTREAM_LOAD_POSTGRES or %(default)s)")
    parser.add_argument("--database", metavar="URL",
                        help="use this database as is instead (SQLite or PostgreSQL; its rows stay)")
    parser.add_argument("--redis", metavar="URL", help="Redis to use (default: a throwaway redis-server)")
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA,
                        help="folder with the real footage, for the queued frames (default: $FERSTREAM_MEDIA or ../shared/media)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the made-up faces (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds one point may take (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run, a few seconds: 2 workers, 1 and 16 faces, 12 chunks on 3 cameras")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="folder for the workers' logs and the throwaway Redis (default: a temporary folder)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every point's figures to FILE")
    return parser


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """The defaults, the smoke run's where --quick."""
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.workers) < 1 or min(args.faces) < 1 or args.chunks < 1 or args.sources < 1 or args.frames < 1:
        raise SystemExit("bench: --workers, --faces, --chunks, --sources and --frames must be at least 1")
    if args.database and not args.database.startswith("postgresql") and set(args.faces_insert) != {"sqlalchemy"}:
        raise SystemExit("bench: --faces-insert execute_values and copy need PostgreSQL")
    return args


# --- databases -----------------------------------------------------------------------------------

@contextmanager
def fresh_database(args: argparse.Namespace) -> Iterator[str]:
    """--database as is, or a new database on the --postgres server, dropped afterwards."""
    if args.database:
        yield args.database
        return
    with postgres_database(args.postgres, "load") as url:
        yield url


# --- one point -----------------------------------------------------------------------------------

@dataclass
class Point:
    workers: int
    faces: int
    insert: str
    chunks: int
    frames: int
    face_rows: int
    seconds: float
    chunks_per_s: float
    face_rows_per_s: float
    cameras: float
    write_ms: float
    cores: dict
    redis_peak_bytes: int
    finished_bytes: float
    tracks_per_source: float
    sources: list


def run_point(redis, engine, settings, database_id: str, workers: Workers, faces: int, mode: str, args,
              blob: bytes, redis_pid: int | None) -> Point:
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry
    from sqlalchemy import func, select

    from ferstream.db import writes
    from ferstream.db.models import Chunk, Face, Frame
    from ferstream.ingest.queue import job_id, queue_name

    per_source = math.ceil(args.chunks / args.sources)
    sources = [writes.create_source(engine, name=f"load camera {i}", kind="live", uri=f"synthetic://camera/{i}",
                                    fps=args.fps, width=1920, height=1080, sample_fps=args.fps)
               for i in range(args.sources)]
    order = [(s, c) for c in range(per_source) for s in sources]  # cameras side by side, as live sources send
    for s, c in order:
        writes.record_chunk(engine, s, c, c * args.frames, (c + 1) * args.frames - 1, args.frames, (c + 1) * args.frames)
    queue = Queue(queue_name(settings.queue, database_id), connection=redis)
    failed = FailedJobRegistry(queue=queue)
    n = len(order)
    done_query = select(func.count(), func.max(Chunk.done_at)).where(Chunk.source_id.in_(sources), Chunk.status == "done")

    base = used_memory(redis)
    before = cpu_snapshot(redis)
    start, clock = datetime.now(timezone.utc), time.monotonic()
    with MemoryPeak(redis) as peak:
        for i in range(0, n, BATCH):
            with redis.pipeline() as pipe:
                for s, c in order[i:i + BATCH]:
                    enqueue(queue, pipe, database_id, s, c, args, faces, mode, blob, settings)
                pipe.execute()
        while True:
            with engine.connect() as conn:
                done, last = conn.execute(done_query).one()
            if done == n:
                break
            if failed.count:
                job = Job.fetch(failed.get_job_ids()[0], connection=redis)
                raise RuntimeError(f"a load job failed:\n{job.latest_result().exc_string if job.latest_result() else job.id}")
            workers.check()
            if time.monotonic() - clock > args.timeout:
                raise RuntimeError(f"{done} of {n} chunks done after {args.timeout:.0f}s:\n{workers.logs()}")
            time.sleep(0.05)
    after = cpu_snapshot(redis)
    if last.tzinfo is None:  # SQLite hands back naive UTC
        last = last.replace(tzinfo=timezone.utc)
    seconds = (last - start).total_seconds()

    with engine.connect() as conn:
        frames = conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id.in_(sources))).scalar_one()
        face_rows = conn.execute(select(func.count()).select_from(Face).where(Face.source_id.in_(sources))).scalar_one()
        tracks = conn.execute(select(func.count()).select_from(select(Face.source_id, Face.track_id).distinct()
                                                               .where(Face.source_id.in_(sources)).subquery())).scalar_one()
    if frames != n * args.frames or face_rows != n * args.frames * faces:
        raise RuntimeError(f"{n} chunks of {args.frames} frames x {faces} faces: the database holds {frames} frames "
                           f"and {face_rows} faces, not {n * args.frames} and {n * args.frames * faces}")
    ids = [job_id(database_id, s, c) for s, c in order]
    results = [j.return_value() for j in Job.fetch_many(ids, connection=redis) if j]
    sample = ids[:: max(1, n // 20)]
    finished = statistics.mean((redis.memory_usage(f"rq:job:{i}") or 0) + (redis.memory_usage(f"rq:results:{i}") or 0)
                               for i in sample)
    write_ms = statistics.median(r["write_ms"] for r in results if r and "write_ms" in r) if results else float("nan")
    return Point(workers.n, faces, mode, n, frames, face_rows, seconds, n / seconds, face_rows / seconds,
                 n / seconds * args.frames / args.fps, write_ms,
                 cores_used(before, after, workers.pids, redis_pid, postgres_pids(engine)),
                 peak.peak - base, finished, tracks / len(sources), sources)


def median_point(points: list[Point]) -> Point:
    """The repeat with the median chunks/s."""
    return sorted(points, key=lambda p: p.chunks_per_s)[len(points) // 2]


# --- the run -------------------------------------------------------------------------------------

def measure(args: argparse.Namespace, folder: Path) -> Report:
    from ferstream import db
    from ferstream.db.identity import database_id as identity
    from ferstream.ingest.queue import connect_redis, queue_name
    from ferstream.settings import Settings

    args = resolve(args)
    blob, origin = payload(args)
    points: dict[tuple[int, int, str], list[Point]] = {}
    probe = None
    with (nullcontext() if args.redis else RedisServer(folder / "redis")) as server:
        redis_url = args.redis or server.url
        redis = connect_redis(redis_url)
        redis_pid = server.proc.pid if server else None
        for n in args.workers:
            with fresh_database(args) as url:
                settings = Settings.from_env(database_url=url, redis_url=redis_url)
                engine = db.connect(url)
                dbid = identity(engine)
                if probe is None:
                    probe = queued_chunk_bytes(redis, settings, dbid, args, blob)
                with Workers(n, redis_url, url, queue_name(settings.queue, dbid), folder / f"workers-{n}") as workers:
                    for _ in range(args.repeat):
                        for faces in args.faces:
                            for mode in args.faces_insert:
                                p = run_point(redis, engine, settings, dbid, workers, faces, mode, args, blob, redis_pid)
                                points.setdefault((n, faces, mode), []).append(p)
                                print(f"load: {n} worker(s), {faces} face(s), {mode}: {p.chunks} chunks in "
                                      f"{p.seconds:.1f}s, {p.chunks_per_s:.1f} chunks/s", file=sys.stderr, flush=True)
    chosen = {k: median_point(v) for k, v in points.items()}
    if args.json:
        args.json.write_text(json.dumps({"payload": origin, "payload_bytes": len(blob), "probe": probe,
                                         "points": [asdict(p) for v in points.values() for p in v]}, indent=1))
    return report(args, chosen, probe, blob, origin)


def report(args, chosen: dict[tuple[int, int, str], Point], probe: dict, blob: bytes, origin: str) -> Report:
    per_camera = args.frames / args.fps
    headers = ["workers", "faces/frame", "faces insert", "chunks", "face rows", "seconds", "chunks/s", "face rows/s",
               f"cameras ({args.fps:g} fps, {per_camera:g}-s chunks)", "vs half the workers", "write_results ms (median)",
               "cores: workers / PostgreSQL / Redis / generator / other", "Redis peak MiB", "tracks per camera"]
    rows, bends = [], []
    for (n, faces, mode), p in sorted(chosen.items(), key=lambda kv: (kv[0][1], args.faces_insert.index(kv[0][2]), kv[0][0])):
        half = chosen.get((n // 2, faces, mode))
        gain = p.chunks_per_s / half.chunks_per_s if half and n > 1 else None
        c = p.cores
        rows.append([n, faces, mode, p.chunks, p.face_rows, fmt(p.seconds), fmt(p.chunks_per_s), fmt(p.face_rows_per_s, 0),
                     fmt(p.cameras, 0), fmt(gain, 2, "x"), fmt(p.write_ms), " / ".join(
                         fmt(c[k], 2) for k in ("workers", "postgres", "redis", "generator", "other")),
                     fmt(p.redis_peak_bytes / 2**20, 1), fmt(p.tracks_per_source, 1)])
    summary = []
    for faces in args.faces:
        for mode in args.faces_insert:
            series = sorted((n, p) for (n, f, m), p in chosen.items() if f == faces and m == mode)
            best_n, best = max(series, key=lambda np_: np_[1].chunks_per_s)
            bend = next((n for i, (n, p) in enumerate(series[:-1])
                         if max(q.chunks_per_s for _, q in series[i + 1:]) < BEND * p.chunks_per_s), None)
            where = (f"bends at {bend} worker(s): no more workers measured add {BEND - 1:.0%}" if bend is not None
                     else "no bend within the worker counts measured")
            bends.append(f"- {faces} face(s) per frame, {mode}: ceiling {best.chunks_per_s:.1f} chunks/s = "
                         f"{best.face_rows_per_s:,.0f} face rows/s = {best.cameras:.0f} cameras at {best_n} worker(s); {where}.")
            summary.append(Row("load", f"chunks/s ceiling, {faces} face(s) per frame ({mode}, {best_n} workers)",
                               fmt(best.chunks_per_s), "", "", None))
    niced = sorted({name for p in chosen.values() for name in p.cores["niced_names"]})
    background = ("'other': every other process on the machine" +
                  (f", among them {', '.join(niced)} in the background, which used up to "
                   f"{fmt(max(p.cores['niced'] for p in chosen.values()), 2)} cores during a point" if niced else ""))
    memory = markdown_table(
        ["Redis, per chunk", "bytes", "note"],
        [["queued: job + frames", f"{probe['queued_bytes']:,.0f}", f"used_memory over {40} queued chunks; frames: {origin}"],
         ["  of which the frames (MEMORY USAGE)", f"{probe['frames_bytes']:,}", f"{len(blob):,} bytes encoded"],
         ["  of which the RQ job hash (MEMORY USAGE)", f"{probe['job_bytes']:,}", ""],
         ["finished (result kept 1 h)", f"{statistics.median(p.finished_bytes for p in chosen.values()):,.0f}",
          "MEMORY USAGE of a finished job's hash and its result stream, kept result_ttl = 1 h; the frames are gone"]])
    notes = (f"Each point: {args.sources} cameras, chunks of {args.frames} frames at {args.fps:g} fps queued all at once "
             f"(end to end: the first chunk queued -> the last chunk committed), {args.repeat} run(s), the median shown; "
             f"workers are separate `ferstream worker` processes. "
             f"Cameras = chunks/s x {per_camera:g} s of video per chunk (with F faces: face rows/s / {args.fps:g} / F). "
             f"'tracks per camera': distinct track ids per camera after linking (F when every person stays one track). "
             f"{background}; load average {os.getloadavg()[0]:.2f} at the end.")
    return Report("Load: one Redis and one database", [markdown_table(headers, rows), "\n".join(bends), memory, notes],
                  summary)


def main(argv: list[str] | None = None) -> int:
    return run_main(build_parser, measure, argv, needs_media=False, summary=False)


if __name__ == "__main__":
    sys.exit(main())
