"""SIGTERM to a worker mid-job: it finishes the chunk, then exits cleanly."""

from __future__ import annotations

import os
import signal

from redis import Redis
from rq import Queue

from ferstream import db
from ferstream.settings import Settings
from ferstream.ingest.files import ingest_file
from ferstream.sinks import make_sink
from tests.helpers import counts, queue_of, start_worker, wait_until


def test_sigterm_finishes_the_running_chunk(tmp_path, redis_url, sqlite_url):
    from ferstream.demo import make_astronaut_video

    video = make_astronaut_video(tmp_path / "long.mp4", seconds=8, fps=15, size=(1280, 720))
    settings = Settings(database_url=sqlite_url, redis_url=redis_url, chunk_seconds=4, analysis_width=0)
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_of(sqlite_url), connection=redis)
    # both chunks queued before the worker starts: on a busy machine a worker already running could finish the first
    # while the second is still being encoded, and be working on the second when the signal comes
    ingest_file(db.connect(sqlite_url), video, make_sink(settings, db.connect(sqlite_url)), settings)
    assert queue.count == 2
    worker = start_worker(redis_url, sqlite_url, "polite", log=tmp_path / "worker.log")
    try:
        wait_until(lambda: queue.started_job_registry.count > 0, 60, poll=0.01)
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert counts(sqlite_url, 1)["frames"] == 60  # the running chunk was finished, not lost
    assert queue.count == 1  # the other chunk waits for the next worker
    assert "warm shut down requested" in (tmp_path / "worker.log").read_text()
