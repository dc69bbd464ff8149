"""Memory: peak RSS of `ferstream analyze` and of one worker process, on the 1080p clip and on it looped.

Both are real subprocesses: `ferstream analyze CLIP` in-process on a fresh SQLite file,
and `ferstream worker --burst --processes 1` (one process, which runs the jobs itself)
after the clip was queued whole through ingest's real path. Peak RSS is the child's own
ru_maxrss, read with os.wait4 when it exits. Each runs on WolfgangLanger_Pexels.mp4
scaled to --height and on the same clip played --loops times: memory must not grow with
the length of the video.

    python bench/memory.py [--height 1080] [--loops 5] [--frames N] [--quick]
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/memory.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import CLIP, make_clip, media_file
from bench.ferstream_side import ferstream_settings, queue_clip, sqlite_url
from bench.processes import CLI, run_child
from bench.script import base_parser, frames_limit, run_main
from bench.services import RedisServer
from bench.tables import Report, Row, fmt, markdown_table

#: peak RSS per process, MiB (issue 6: under 1.5 GB)
LIMIT_MB = 1536
#: "flat": the long run's peak at most this much above the short run's (or FLAT_MB, allocator noise)
FLAT = 0.10
FLAT_MB = 32


def build_parser():
    parser = base_parser(__doc__, frames_help="frames of the clip before it is looped (default: all)")
    parser.add_argument("--height", type=int, default=1080, help="frame height of the clip (default: 1080)")
    parser.add_argument("--loops", type=int, metavar="N", help="times the long clip plays the short one (default: 5; 2 with --quick)")
    return parser


def analyze_peak(clip: Path, folder: Path, name: str) -> tuple[float, float]:
    run = run_child([*CLI, "analyze", str(clip), "--database", sqlite_url(folder, name)],
                    env={"REDIS_URL": ""}).check("ferstream analyze")
    return run.peak_rss_mb, run.seconds


def worker_peak(clip: Path, folder: Path, name: str, redis_url: str) -> tuple[float, float]:
    database_url = sqlite_url(folder, name)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    queue_clip(clip, ferstream_settings(database_url, redis_url, queue=queue, max_pending_chunks=10**6))
    run = run_child([*CLI, "worker", "--burst", "--processes", "1", "--redis", redis_url, "--database", database_url],
                    env={"FERSTREAM_QUEUE": queue}).check("ferstream worker")
    return run.peak_rss_mb, run.seconds


def measure(args, folder: Path) -> Report:
    loops = args.loops or (2 if args.quick else 5)
    src = media_file(args, CLIP)
    limit = frames_limit(args)
    short = make_clip(src, folder, args.height, limit, 1)
    long = make_clip(src, folder, args.height, limit, loops)
    rows, summary = [], []
    with RedisServer(folder / "redis-memory") as redis:
        for process, run in (("ferstream analyze", lambda c, n: analyze_peak(c, folder, n)),
                             ("ferstream worker (1 process)", lambda c, n: worker_peak(c, folder, n, redis.url))):
            peaks = []
            for times, clip in ((1, short), (loops, long)):
                peak, seconds = run(clip, f"memory-{process.split()[1]}-{times}")
                peaks.append(peak)
                rows.append([process, f"{clip.name} (x{times})", fmt(seconds), fmt(peak, 0)])
            growth = peaks[1] / peaks[0] - 1
            met = max(peaks) < LIMIT_MB and peaks[1] - peaks[0] <= max(FLAT * peaks[0], FLAT_MB)
            summary.append(Row("memory", f"peak RSS MiB, {process}, {args.height}p x1 / x{loops}",
                               f"{fmt(peaks[0], 0)} / {fmt(peaks[1], 0)} ({growth:+.1%})", "",
                               f"< {LIMIT_MB}, growth <= {FLAT:.0%} (or {FLAT_MB} MiB)", met))
    table = markdown_table(["process", "clip", "seconds", "peak RSS MiB"], rows)
    return Report("Memory", [table, "Peak RSS is the child's ru_maxrss (os.wait4) after it exits."], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
