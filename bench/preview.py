"""What live pictures cost the workers: analysis throughput with viewers attached, beside the same run without.

    python bench/preview.py [VIDEO] [--frames 120] [--cameras 4] [--repeats 3]

The worker's own job code (``worker.jobs.process_chunk``: detect, classify, track, write to SQLite, then the live
pictures) runs in this process over the clip's frames as ``--cameras`` live cameras at 5 frames a second in 0.4 s
chunks, as fast as it can. "no viewers": nobody watches (each chunk costs one Redis GET); "viewers": every camera is
watched at the default 5 pictures a second by a reader that polls Redis as ``serve``'s live.mjpeg does. The two
alternate ``--repeats`` times (the CPU is shared: the median of each is reported, with the load before and after).
VIDEO defaults to WolfgangLanger_Pexels.mp4 in --media (or the astronaut clip when the media is absent).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import CLIP
from bench.ferstream_side import ferstream_settings, sqlite_url
from bench.script import base_parser, setup_process, workdir
from bench.services import RedisServer
from bench.tables import markdown_table
from bench.timing import environment

CHUNK_FRAMES = 2  # 0.4 s at 5 frames a second: a live camera's chunk
SAMPLE_FPS = 5.0


def clip(args) -> Path:
    if args.video:
        return Path(args.video)
    real = Path(args.media) / CLIP
    if real.exists():
        return real
    from ferstream.demo import make_astronaut_video

    return make_astronaut_video(Path(args.workdir) / "astronaut.mp4", seconds=6, fps=15)


class Viewers:
    """A reader per camera, polling its pictures as the server's live.mjpeg does; counts the pictures seen."""

    def __init__(self, redis, keys: list, fps: float):
        self.redis, self.keys, self.fps = redis, keys, fps
        self.stop = threading.Event()
        self.seen = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Viewers":
        from ferstream import previews

        for k in self.keys:
            previews.watch(self.redis, k, self.fps)
        self.thread.start()
        return self

    def _run(self) -> None:
        from ferstream import previews

        versions: dict[str, bytes | None] = {}
        while not self.stop.wait(0.1):
            for k in self.keys:
                previews.watch(self.redis, k, self.fps)
                v = previews.version(self.redis, k)
                if v is not None and v != versions.get(k.pictures):
                    versions[k.pictures] = v
                    self.seen += len(previews.latest(self.redis, k).frames)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.redis.delete(*[k.watched for k in self.keys])


def run_once(frames, cameras: int, redis, folder: Path, watched: bool, run: int) -> tuple[float, int, float]:
    """Frames per second through the job code, the pictures the viewers saw, and the share of the time the job code
    spent on live pictures (its ``preview`` stage: the check for viewers, drawing, JPEG, Redis)."""
    from ferstream.metrics import STAGE_SECONDS

    from ferstream import previews
    from ferstream.db import writes
    from ferstream.db.identity import database_id
    from ferstream.results import Chunk
    from ferstream.worker.jobs import process_chunk
    from ferstream.worker.preview import LivePictures
    from ferstream.worker.runtime import Runtime

    rt = Runtime(ferstream_settings(sqlite_url(folder, f"preview-{run}-{watched}")))
    analyzer, engine = rt.analyzer, rt.engine
    sources = [writes.create_source(engine, name=f"camera {i}", kind="live", uri=f"rtsp://bench/{i}", state="running")
               for i in range(cameras)]
    keys = [previews.preview_keys(database_id(engine), s) for s in sources]
    redis.delete(*[getattr(k, f) for k in keys for f in ("pictures", "version", "watched", "gate")])
    pictures = LivePictures(redis, "on", SAMPLE_FPS)
    chunks = [frames[i:i + CHUNK_FRAMES] for i in range(0, len(frames) - CHUNK_FRAMES + 1, CHUNK_FRAMES)]
    viewers = Viewers(redis, keys, SAMPLE_FPS) if watched else None
    if viewers:
        viewers.__enter__()
    try:
        process_chunk(rt, Chunk(sources[0], 10_000, chunks[0]), analyzer)  # warm up (not timed)
        spent = STAGE_SECONDS.labels("preview")._sum.get()
        start = time.perf_counter()
        for n, batch in enumerate(chunks):
            sid = sources[n % cameras]
            index = n // cameras
            writes.record_chunk(engine, sid, index, batch[0].index, batch[-1].index, len(batch), 0)
            process_chunk(rt, Chunk(sid, index, batch), analyzer, pictures)
        elapsed = time.perf_counter() - start
        spent = STAGE_SECONDS.labels("preview")._sum.get() - spent
    finally:
        if viewers:
            viewers.__exit__()
    return sum(len(c) for c in chunks) / elapsed, viewers.seen if viewers else 0, spent / elapsed


def main() -> None:
    parser = base_parser(__doc__, "frames of the clip, sampled at 5 a second (default: 120)")
    parser.add_argument("video", nargs="?", help="video file (default: WolfgangLanger_Pexels.mp4, or the astronaut clip)")
    parser.add_argument("--cameras", type=int, default=4, help="cameras the frames are shared among (default: 4)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating (default: 3)")
    args = parser.parse_args()
    setup_process()
    from redis import Redis

    from ferstream.ingest.video import VideoReader

    with workdir(args) as folder:
        args.workdir = folder
        path = clip(args)
        reader = VideoReader(path, SAMPLE_FPS, 640)
        frames = []
        for f in reader:
            frames.append(f)
            if len(frames) >= (args.frames or 120):
                break
        load_before = os.getloadavg()
        with RedisServer(folder / "redis") as server:
            redis = Redis.from_url(server.url)
            results, shares = {False: [], True: []}, {False: [], True: []}
            seen = []
            for run in range(args.repeats):
                for watched in (False, True):
                    fps, n, share = run_once(frames, args.cameras, redis, folder, watched, run)
                    results[watched].append(fps)
                    shares[watched].append(share)
                    if watched:
                        seen.append(n)
                    print(f"run {run + 1} {'viewers' if watched else 'no viewers'}: {fps:.1f} frames/s, "
                          f"{100 * share:.2f}% of the time on live pictures", flush=True)
        load_after = os.getloadavg()
    off, on = statistics.median(results[False]), statistics.median(results[True])
    print()
    print(f"clip: {path.name}, {len(frames)} frames at 5/s as {args.cameras} cameras, 0.4 s chunks; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(environment())
    print(markdown_table(["run", "frames/s (median)", "each run", "time on live pictures (median)", "pictures seen"], [
        ["no viewers", f"{off:.1f}", ", ".join(f"{x:.1f}" for x in results[False]),
         f"{100 * statistics.median(shares[False]):.2f}%", "0"],
        [f"viewers on every camera ({SAMPLE_FPS:g} pictures/s)", f"{on:.1f}",
         ", ".join(f"{x:.1f}" for x in results[True]), f"{100 * statistics.median(shares[True]):.2f}%",
         ", ".join(map(str, seen))],
    ]))
    print(f"\n| live pictures | throughput cost with viewers attached | {100 * (off - on) / off:.1f}% (time on "
          f"pictures: {100 * statistics.median(shares[True]):.2f}%) |")


if __name__ == "__main__":
    main()
