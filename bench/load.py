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
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):  # run as a file: python bench/load.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (CLI, CLIP, DEFAULT_MEDIA, REPO, Report, RedisServer, Row, environment, fmt, markdown_table,
                          postgres_database, setup_process, workdir)
from bench.load_jobs import FACES_INSERTS

#: the job the workers run in place of ferstream.worker.jobs.analyze_chunk
JOB = "bench.load_jobs.write_synthetic_chunk"
#: the PostgreSQL server's admin database, where a fresh database per worker count is made
DEFAULT_POSTGRES = os.environ.get("FERSTREAM_LOAD_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
#: throughput has bent at the fewest workers that no larger number measured beats by this factor
BEND = 1.15
#: chunks queued per Redis pipeline
BATCH = 50
#: seconds a worker process has to start and register
START_TIMEOUT = 180
#: the default run: about 3.5 minutes on 2 cores
FULL = dict(workers=[1, 2, 4, 8], faces=[1, 4, 16], chunks=240, sources=20)
#: the smoke run: two points of a few chunks
QUICK = dict(workers=[2], faces=[1, 16], chunks=12, sources=3)
_TICK = os.sysconf("SC_CLK_TCK")


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


# --- what is queued ------------------------------------------------------------------------------

def real_chunk(media: Path, frames: int, fps: float) -> tuple[bytes, str]:
    """A chunk as ingest queues it (``frames`` grey analysis frames, JPEG q90) and where its frames came from."""
    import itertools

    import cv2

    from ferstream.codec import encode_chunk
    from ferstream.ingest.chunks import chunk_frames
    from ferstream.ingest.video import VideoReader
    from ferstream.results import Chunk, Frame
    from ferstream.settings import DEFAULT_ANALYSIS_WIDTH, DEFAULT_JPEG_QUALITY, DEFAULT_MIN_FACE

    clip = media / CLIP
    if clip.exists():
        reader = VideoReader(clip, fps, DEFAULT_ANALYSIS_WIDTH, DEFAULT_MIN_FACE)
        chunk = next(itertools.islice(chunk_frames(reader, 1, frames), 2, None))  # the third chunk: people in view
        origin = f"{CLIP} sampled at {fps:g} fps"
    else:
        from ferstream.demo import astronaut_frames

        chunk = Chunk(1, 0, [Frame(i, i / fps, cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))
                             for i, f in enumerate(astronaut_frames(frames))])
        origin = f"the astronaut demo ({CLIP} not found in {media})"
    h, w = chunk.frames[0].image.shape
    blob = encode_chunk(chunk, DEFAULT_JPEG_QUALITY)
    return blob, f"{len(chunk.frames)} grey {w}x{h} frames of {origin}, JPEG q{DEFAULT_JPEG_QUALITY}"


def payload(args: argparse.Namespace) -> tuple[bytes, str]:
    if args.payload_kib is None:
        return real_chunk(args.media, args.frames, args.fps)
    size = int(args.payload_kib * 1024)
    return os.urandom(size), f"{size} random bytes (--payload-kib)" if size else "none (--payload-kib 0)"


# --- databases -----------------------------------------------------------------------------------

@contextmanager
def fresh_database(args: argparse.Namespace) -> Iterator[str]:
    """--database as is, or a new database on the --postgres server, dropped afterwards."""
    if args.database:
        yield args.database
        return
    with postgres_database(args.postgres, "load") as url:
        yield url


# --- CPU accounting from /proc -------------------------------------------------------------------

def _proc_stats() -> dict[int, tuple[str, int, int, float]]:
    """pid -> (command name, parent pid, nice, CPU seconds) of every process this user may read."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        found[int(entry.name)] = (name, int(fields[1]), int(fields[16]), (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def _command(pid: int) -> str:
    """A process's program and first argument (``ferstream train``)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    if len(words) > 1 and Path(words[0]).name.startswith("python"):  # a script: name it, not the interpreter
        words = words[1:]
    return " ".join([Path(words[0]).name, *words[1:2]]) if words else str(pid)


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(parts[:8]) - parts[3] - parts[4]) / _TICK  # everything but idle and iowait, steal included


@dataclass
class CpuSnapshot:
    at: float
    machine: float
    procs: dict[int, tuple[str, int, int, float]]
    redis: float


def cpu_snapshot(redis) -> CpuSnapshot:
    info = redis.info("cpu")
    return CpuSnapshot(time.perf_counter(), _machine_busy(), _proc_stats(),
                       float(info["used_cpu_sys"]) + float(info["used_cpu_user"]))


def descendants(procs: dict, roots: set[int]) -> set[int]:
    found, grew = set(roots), True
    while grew:
        more = {pid for pid, (_, ppid, _, _) in procs.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return found


def postgres_pids(engine) -> set[int]:
    """The PostgreSQL server processes serving ``engine``'s database, and the server's own (WAL writer,
    checkpointer ...); none for another database, or when the server is on another machine (not in /proc)."""
    if engine.dialect.name != "postgresql":
        return set()
    from sqlalchemy import text

    with engine.connect() as conn:
        return set(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                     "OR backend_type <> 'client backend'")).scalars())


def cores_used(before: CpuSnapshot, after: CpuSnapshot, workers: set[int], redis_pid: int | None,
               postgres: set[int]) -> dict[str, float]:
    """Cores used between two snapshots by the workers, PostgreSQL, Redis, this script and the rest."""
    seconds = after.at - before.at

    def delta(pids) -> float:
        return sum(after.procs[p][3] - (before.procs[p][3] if p in before.procs else 0.0) for p in pids if p in after.procs)

    ours = descendants(after.procs, workers)
    postgres = {p for p in postgres if p in after.procs}
    here = {os.getpid()}
    known = ours | postgres | here | ({redis_pid} if redis_pid else set())
    machine = (after.machine - before.machine) / seconds
    used = {"workers": delta(ours) / seconds, "postgres": delta(postgres) / seconds if postgres else float("nan"),
            "redis": (after.redis - before.redis) / seconds, "generator": delta(here) / seconds}
    used["other"] = max(0.0, machine - sum(v for v in used.values() if math.isfinite(v)))
    used["machine"] = machine
    niced = [(p, v[2], after.procs[p][3] - before.procs[p][3]) for p, v in after.procs.items()
             if p in before.procs and p not in known and v[2] > 0]
    used["niced"] = sum(c for _, _, c in niced) / seconds
    used["niced_names"] = sorted({f"`{_command(p)}` (nice {nice})" for p, nice, c in niced if c / seconds > 0.05})
    return used


# --- Redis memory --------------------------------------------------------------------------------

def used_memory(redis) -> int:
    return int(redis.info("memory")["used_memory"])


class MemoryPeak:
    """Redis's used_memory, sampled every 20 ms in a thread until stopped; the peak."""

    def __init__(self, redis):
        self.redis, self.peak, self._stop = redis, used_memory(redis), threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-memory", daemon=True)

    def __enter__(self) -> "MemoryPeak":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, used_memory(self.redis))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def enqueue(queue, pipe, database_id: str, source_id: int, index: int, args, faces: int, mode: str, blob: bytes,
            settings) -> None:
    """One chunk onto ``queue`` through ``pipe``, its frames beside it, as ingest's RQSink._send does."""
    from ferstream.ingest.queue import chunk_key, job_id

    key = chunk_key(database_id, source_id, index) if blob else None
    queue.enqueue(JOB, database_id, source_id, index, args.frames, faces, key, args.fps, args.seed, mode,
                  job_id=job_id(database_id, source_id, index),
                  description=f"load: chunk {index} of source {source_id}, {faces} face(s) per frame",
                  job_timeout=settings.job_timeout, result_ttl=3600, failure_ttl=settings.failure_ttl, pipeline=pipe)
    if blob:
        pipe.set(key, blob, ex=settings.chunk_ttl)


def queued_chunk_bytes(redis, settings, database_id: str, args, blob: bytes, n: int = 40) -> dict[str, float]:
    """Redis bytes of a queued chunk (its job and its frames), on a queue no worker listens to; then removed."""
    from rq import Queue

    queue = Queue(f"{settings.queue}.load-probe-{uuid.uuid4().hex[:8]}", connection=redis)
    source = 10**9  # not a source of the database: nothing runs it
    before = used_memory(redis)
    with redis.pipeline() as pipe:
        for i in range(n):
            enqueue(queue, pipe, database_id, source, i, args, 16, "sqlalchemy", blob, settings)
        pipe.execute()
    total = (used_memory(redis) - before) / n
    job_ids = queue.get_job_ids()
    job = redis.memory_usage(f"rq:job:{job_ids[0]}") or 0
    from ferstream.ingest.queue import chunk_key

    keys = [chunk_key(database_id, source, i) for i in range(n)] if blob else []
    frames = (redis.memory_usage(keys[0]) or 0) if keys else 0
    redis.delete(*keys, *[f"rq:job:{j}" for j in job_ids], queue.key)
    redis.srem("rq:queues", queue.key)
    return {"queued_bytes": total, "job_bytes": job, "frames_bytes": frames}


# --- workers -------------------------------------------------------------------------------------

class Workers:
    """N ``ferstream worker`` processes on one queue; started, awaited until registered, stopped with SIGTERM."""

    def __init__(self, n: int, redis_url: str, database_url: str, queue: str, folder: Path):
        self.n, self.redis_url, self.database_url, self.queue, self.folder = n, redis_url, database_url, queue, folder
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Workers":
        from redis import Redis
        from rq import Queue, Worker

        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
        for k in ("REDIS_URL", "DATABASE_URL"):
            env.pop(k, None)
        for i in range(self.n):
            with open(self.folder / f"worker-{i}.log", "w") as log:
                self.procs.append(subprocess.Popen(
                    [*CLI, "worker", "--redis", self.redis_url, "--database", self.database_url],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        redis, queue = Redis.from_url(self.redis_url), Queue(self.queue, connection=Redis.from_url(self.redis_url))
        deadline = time.monotonic() + START_TIMEOUT
        while Worker.count(connection=redis, queue=queue) < self.n:
            self.check()
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"{self.n} workers did not register within {START_TIMEOUT}s:\n{self.logs()}")
            time.sleep(0.2)
        return self

    @property
    def pids(self) -> set[int]:
        return {p.pid for p in self.procs}

    def check(self) -> None:
        dead = [p for p in self.procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a worker exited ({dead[0].returncode}):\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- worker-{i}.log\n{(self.folder / f'worker-{i}.log').read_text(errors='replace')[-tail:]}"
                         for i in range(len(self.procs)))

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


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
    args = build_parser().parse_args(argv)
    setup_process()
    with workdir(args) as folder:
        result = measure(args, folder)
    print(environment(), flush=True)
    print()
    print(result.markdown(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
