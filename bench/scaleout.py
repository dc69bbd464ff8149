"""Scale-out: total frames/s of 1 and 2 worker processes on one Redis and one database.

A long file (WolfgangLanger_Pexels.mp4 played --loops times, re-encoded at run time) is
queued whole through ingest's real path (ingest_file into the RQ sink: decode, grey, JPEG,
Redis), then `ferstream worker --burst --processes N` runs as a real subprocess until the
queue is empty; its clock runs from launch to exit, start-up included. "steady" leaves
start-up out: frames of the chunks finished after the first one, over the time between
the first and the last chunk's commit. "cores" is the workers' CPU seconds over wall
seconds. Each run has its own queue name and a fresh SQLite file (or --database);
redis-server is a throwaway one on a free port unless --redis is given.

    python bench/scaleout.py [--loops 10] [--processes 1 2] [--threads T] [--database URL] [--redis URL] [--quick]
"""

from __future__ import annotations

import sys
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/scaleout.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import CLIP, make_clip, media_file
from bench.ferstream_side import ferstream_settings, frames_recorded, queue_clip, sqlite_url
from bench.processes import CLI, run_child
from bench.script import base_parser, frames_limit, run_main
from bench.services import RedisServer
from bench.tables import Report, Row, fmt, markdown_table, ratio

#: total frames/s of 2 workers over 1 (issue 6)
TARGET = 1.7


def build_parser():
    parser = base_parser(__doc__, frames_help="frames of the clip before it is looped (default: all)")
    parser.add_argument("--loops", type=int, metavar="N", help="times the clip is played in the long file (default: 10; 2 with --quick)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], metavar="P", help="worker processes per run (default: 1 2)")
    parser.add_argument("--threads", type=int, default=1, metavar="T",
                        help="OpenCV and model threads per worker process (default: %(default)s, one worker process "
                             "per core, the deployment that adding workers scales; 0: the libraries' own)")
    parser.add_argument("--database", metavar="URL", help="database of the runs (default: a fresh SQLite file per run)")
    parser.add_argument("--redis", metavar="URL", help="Redis to use (default: a throwaway redis-server)")
    return parser


def steady_rate(database_url: str, source_id: int) -> float | None:
    """Frames/s between the first and the last chunk's commit, the first chunk left out."""
    from sqlalchemy import select

    from ferstream import db
    from ferstream.db.models import Chunk

    with db.connect(database_url).connect() as conn:
        rows = sorted(conn.execute(select(Chunk.done_at, Chunk.n_frames).where(Chunk.source_id == source_id,
                                                                                Chunk.done_at.is_not(None))).all())
    if len(rows) < 3:
        return None
    span = (rows[-1][0] - rows[0][0]).total_seconds()
    return sum(n for _, n in rows[1:]) / span if span > 0 else None


def run_once(clip: Path, processes: int, redis_url: str, database_url: str, threads: int | None) -> dict:
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    settings = ferstream_settings(database_url, redis_url, queue=queue, max_pending_chunks=10**6)
    start = time.perf_counter()
    source_id, queued = queue_clip(clip, settings)
    queue_seconds = time.perf_counter() - start
    env = {"FERSTREAM_QUEUE": queue}
    if threads:  # 0: the libraries' own thread counts
        env.update(OPENCV_FOR_THREADS_NUM=str(threads), FERSTREAM_MODEL_THREADS=str(threads))
    run = run_child([*CLI, "worker", "--burst", "--processes", str(processes), "--redis", redis_url,
                     "--database", database_url], env=env).check(f"ferstream worker --processes {processes}")
    analysed = frames_recorded(database_url, source_id)
    if analysed != queued:
        raise RuntimeError(f"{processes} worker(s) analysed {analysed} of {queued} frames:\n{run.output[-3000:]}")
    return {"frames": analysed, "seconds": run.seconds, "fps": analysed / run.seconds,
            "steady": steady_rate(database_url, source_id), "cores": run.cpu_seconds / run.seconds,
            "queue_fps": queued / queue_seconds, "rss": run.peak_rss_mb}


def measure(args, folder: Path) -> Report:
    loops = args.loops or (2 if args.quick else 10)
    clip = make_clip(media_file(args, CLIP), folder, None, frames_limit(args), loops)
    results = {}
    with (nullcontext() if args.redis else RedisServer(folder / "redis")) as server:
        redis_url = args.redis or server.url
        for p in args.processes:
            database_url = args.database or sqlite_url(folder, f"scaleout-{p}")
            results[p] = run_once(clip, p, redis_url, database_url, args.threads)
    base = results.get(min(results))
    rows = [[p, r["frames"], fmt(r["seconds"]), fmt(r["fps"]), fmt(r["steady"]), fmt(r["cores"], 2),
             fmt(ratio(r["fps"], base["fps"]), 2, "x"), fmt(r["queue_fps"]), fmt(r["rss"], 0)]
            for p, r in results.items()]
    table = markdown_table(["processes", "frames", "seconds", "frames/s", "steady frames/s", "cores used",
                            "vs fewest", "ingest frames/s (queueing)", "peak RSS MiB (largest process)"], rows)
    note = (f"{clip.name}: {CLIP} x{loops}, queued whole before the workers start; "
            f"threads per worker: {args.threads or 'library defaults'}; "
            f"database: {'given' if args.database else 'SQLite, fresh per run'}.")
    summary = []
    if 1 in results and 2 in results:
        x = ratio(results[2]["fps"], results[1]["fps"])
        summary.append(Row("scale-out", f"2 workers / 1 worker, total frames/s ({fmt(results[1]['fps'])} -> "
                                        f"{fmt(results[2]['fps'])}; {fmt(results[1]['cores'], 2)} cores used by 1)",
                           fmt(x, 2, "x"), "", f">= {TARGET}x", x is not None and x >= TARGET))
    return Report("Scale-out", [table, note], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
