"""A worker SIGKILLed mid-chunk: another worker analyses the chunk again within a bounded time.

Nothing is missing and nothing is duplicated afterwards.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from redis import Redis
from rq import Queue

from ferstream import db
from ferstream.db.queries import sources
from ferstream.settings import Settings
from ferstream.ingest.files import ingest_file
from ferstream.sinks import make_sink
from tests.helpers import counts, queue_of, start_worker, stop_process_group, wait_until

RECOVERY_LIMIT_S = 60
@pytest.mark.long
def test_killed_worker_chunk_is_analysed_again_by_another(tmp_path, redis_url, sqlite_url):
    from ferstream.demo import make_astronaut_video

    video = make_astronaut_video(tmp_path / "long.mp4", seconds=8, fps=15, size=(1280, 720))
    settings = Settings(database_url=sqlite_url, redis_url=redis_url, chunk_seconds=4, analysis_width=0)
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_of(sqlite_url), connection=redis)
    engine = db.connect(sqlite_url)

    first = start_worker(redis_url, sqlite_url, "doomed")
    second = None
    try:
        wait_until(lambda: redis.exists("rq:worker:doomed"), 60)  # registered and waiting for work
        ingest_file(engine, video, make_sink(settings, engine), settings)
        wait_until(lambda: queue.started_job_registry.count > 0, 30, poll=0.01)
        os.killpg(first.pid, signal.SIGKILL)  # mid-chunk, no chance to clean up
        first.wait(10)
        killed_at = time.monotonic()
        assert counts(sqlite_url, 1)["frames"] < 120  # the killed chunk had not landed

        second = start_worker(redis_url, sqlite_url, "rescuer")
        wait_until(lambda: sources(engine).iloc[0]["status"] == "done", RECOVERY_LIMIT_S + 30, poll=0.5)
        recovered_in = time.monotonic() - killed_at
    finally:
        stop_process_group(first)
        stop_process_group(second)
    c = counts(sqlite_url, 1)
    assert c["frames"] == 120 == c["distinct_frames"]  # none missing, none twice
    assert c["people"] == 1  # the one person: no track lost or doubled by the chunk done again
    assert recovered_in < RECOVERY_LIMIT_S, f"recovered in {recovered_in:.0f}s"
    print(f"chunk recovered {recovered_in:.1f}s after the SIGKILL")
@pytest.mark.long
def test_a_worker_killed_mid_stitch_loses_and_doubles_no_track(tmp_path, redis_url, postgres_url):
    """The worker is held inside its results transaction, where it links its chunk's tracks to the neighbours'
    (the test holds the source's row lock, which that step waits for), and SIGKILLed there."""
    from sqlalchemy import create_engine, text

    from ferstream.demo import make_astronaut_video

    video = make_astronaut_video(tmp_path / "clip.mp4", seconds=3, fps=10)
    settings = Settings(database_url=postgres_url, redis_url=redis_url)
    engine = db.connect(postgres_url)
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_of(postgres_url), connection=redis)
    ingest_file(engine, video, make_sink(settings, engine), settings)  # 3 chunks queued
    holder = create_engine(postgres_url).connect()
    lock = holder.begin()
    holder.execute(text("SELECT id FROM sources WHERE id = 1 FOR UPDATE"))  # every stitch of source 1 now waits
    doomed = start_worker(redis_url, postgres_url, "mid-stitch", log=tmp_path / "doomed.log")
    rescuer = None
    try:
        watcher = create_engine(postgres_url, isolation_level="AUTOCOMMIT")  # pg_stat_activity is fresh per transaction

        def stitching():
            with watcher.connect() as conn:
                waiting = conn.execute(text("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                            "AND datname = current_database()")).scalars().all()
            return any("FOR UPDATE" in q for q in waiting)

        wait_until(stitching, 90, poll=0.2)  # the worker's transaction is inside the stitch, blocked on the lock
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        lock.rollback()  # release: the killed worker's transaction is rolled back by PostgreSQL
        rescuer = start_worker(redis_url, postgres_url, "rescuer")
        wait_until(lambda: sources(engine).iloc[0]["status"] == "done", RECOVERY_LIMIT_S + 60, poll=0.5)
    finally:
        holder.close()
        stop_process_group(doomed)
        stop_process_group(rescuer)
    c = counts(postgres_url, 1)
    assert c["frames"] == 30 == c["distinct_frames"]  # every frame once
    assert c["people"] == 1  # one person: no track lost or doubled
    assert queue.count == 0
