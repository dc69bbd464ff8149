"""The RQ job on real Redis and real databases: idempotence, failures, the model loaded once per process."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from ferstream import db
from ferstream.db import writes
from ferstream.db.models import Chunk as ChunkRow
from ferstream.db.models import Face, Frame
from ferstream.settings import Settings
from ferstream.ingest.files import ingest_file
from ferstream.sinks import make_sink
from tests.helpers import astronaut_chunk, chunk_key_of, queue_of
from ferstream.worker.jobs import process_chunk
from ferstream.worker.process import AnalysisWorker
from ferstream.worker.runtime import Runtime, set_runtime


def _rows(engine, source_id):
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id == source_id)).scalar(),
                conn.execute(select(func.count()).select_from(Face).where(Face.source_id == source_id)).scalar())


def test_the_same_chunk_twice_leaves_one_set_of_rows(database_url):
    engine = db.connect(database_url)
    rt = Runtime(Settings(database_url=database_url))
    sid = writes.create_source(engine, name="twice", kind="file", uri="mem")
    writes.record_chunk(engine, sid, 0, 0, 4, 5, 5)
    chunk = astronaut_chunk(sid)
    first = process_chunk(rt, chunk)
    once = _rows(engine, sid)
    second = process_chunk(rt, chunk)
    assert once == _rows(engine, sid) == (5, first["faces"]) and first == second
    with engine.connect() as conn:
        assert conn.execute(select(ChunkRow.status, ChunkRow.attempts).where(ChunkRow.source_id == sid)).one() == ("done", 2)


def test_a_requeued_chunk_after_success_is_skipped_not_duplicated(astronaut_video, redis_url, sqlite_url):
    settings = Settings(database_url=sqlite_url, redis_url=redis_url)
    engine = db.connect(sqlite_url)
    redis = Redis.from_url(redis_url)
    sink = make_sink(settings, engine)
    sid = ingest_file(engine, astronaut_video, sink, settings)
    set_runtime(Runtime(settings))
    AnalysisWorker([queue_of(sqlite_url)], connection=redis).work(burst=True)
    before = _rows(engine, sid)
    # the same chunk queued again, as after a worker died between commit and acknowledgement
    sink.put(astronaut_chunk(sid, index=0, n=15))
    AnalysisWorker([queue_of(sqlite_url)], connection=redis).work(burst=True)
    assert _rows(engine, sid) == before
    assert FailedJobRegistry(queue=Queue(queue_of(sqlite_url), connection=redis)).count == 0


def test_poison_chunk_fails_alone_with_its_reason(astronaut_video, redis_url, sqlite_url):
    settings = Settings(database_url=sqlite_url, redis_url=redis_url, retries=0)
    engine = db.connect(sqlite_url)
    redis = Redis.from_url(redis_url)
    sid = ingest_file(engine, astronaut_video, make_sink(settings, engine), settings)
    redis.set(chunk_key_of(sqlite_url, sid, 1), b"\x00\x00\x00\x02{}corrupt")  # chunk 1's frames are garbage
    set_runtime(Runtime(settings))
    AnalysisWorker([queue_of(sqlite_url)], connection=redis).work(burst=True)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(ChunkRow.chunk_index, ChunkRow.status)).all())
        error = conn.execute(select(ChunkRow.error).where(ChunkRow.chunk_index == 1)).scalar()
    assert rows == {0: "done", 1: "failed", 2: "done", 3: "done"}  # the worker went on
    assert "CodecError" in error
    assert FailedJobRegistry(queue=Queue(queue_of(sqlite_url), connection=redis)).count == 1


def test_expired_frames_are_a_clear_failure(astronaut_video, redis_url, sqlite_url):
    settings = Settings(database_url=sqlite_url, redis_url=redis_url, retries=0)
    engine = db.connect(sqlite_url)
    redis = Redis.from_url(redis_url)
    sid = ingest_file(engine, astronaut_video, make_sink(settings, engine), settings)
    redis.delete(chunk_key_of(sqlite_url, sid, 2))
    set_runtime(Runtime(settings))
    AnalysisWorker([queue_of(sqlite_url)], connection=redis).work(burst=True)
    with engine.connect() as conn:
        error = conn.execute(select(ChunkRow.error).where(ChunkRow.chunk_index == 2)).scalar()
    assert "ChunkExpired" in error and "gone from Redis" in error


def test_worker_process_loads_the_model_once_for_many_jobs(astronaut_video, redis_url, sqlite_url):
    from tests.helpers import ferstream

    ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url)
    result = ferstream("worker", "--burst", "--redis", redis_url, "--database", sqlite_url)
    log = result.stdout + result.stderr
    assert log.count("loaded model") == 1
    assert log.count("Successfully completed") >= 4 or log.count("Job OK") >= 4, log[-2000:]
@pytest.mark.long
def test_a_pool_of_worker_processes_shares_the_queue(astronaut_video, redis_url, sqlite_url):
    from tests.helpers import counts, ferstream

    ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url)
    result = ferstream("worker", "--burst", "--processes", "2", "--redis", redis_url, "--database", sqlite_url)
    log = result.stdout + result.stderr
    assert 1 <= log.count("loaded model") <= 2  # at most once in each of the two processes, never per job (4 jobs)
    assert counts(sqlite_url, 1)["frames"] == 60
