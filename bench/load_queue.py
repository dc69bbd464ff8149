"""What bench/load.py queues: a real chunk of frames, each chunk as the job bench.load_jobs.write_synthetic_chunk
beside its frames (as ingest's RQ sink queues it), and what that holds in Redis."""

from __future__ import annotations

import argparse
import os
import threading
import uuid
from pathlib import Path

from bench.data import CLIP

#: the job the workers run in place of ferstream.worker.jobs.analyze_chunk
JOB = "bench.load_jobs.write_synthetic_chunk"


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
