"""A chunk ingest recorded but the sink never took is recorded as failed, with why, not left `queued`.

Nothing else would ever take such a chunk: the in-process analysis was interrupted (Ctrl-C; a second one
for `ferstream watch`) or failed, or Redis stayed down past the sink's patience. Real SQLite, real Redis
server, the real in-process analyzer and real frames.
"""

from __future__ import annotations

import signal

import pytest
from redis import Redis
from sqlalchemy import func, select

from ferstream import db
from ferstream.db import writes
from ferstream.db.models import Chunk as ChunkRow
from ferstream.db.models import Frame
from ferstream.errors import ServiceError
from ferstream.results import Chunk
from ferstream.settings import Settings
from ferstream.ingest.files import send
from ferstream.db.identity import database_id
from ferstream.ingest.queue import RQSink
from tests.conftest import RedisServer
from tests.helpers import astronaut_chunk
from ferstream.worker.inline import InlineSink
from ferstream.worker.runtime import Runtime


def _chunks(engine, source_id) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(select(ChunkRow.chunk_index, ChunkRow.status, ChunkRow.error)
                            .where(ChunkRow.source_id == source_id).order_by(ChunkRow.chunk_index)).all()


class CtrlCDuringAnalysis:
    """The real in-process sink, with Ctrl-C arriving 20 ms into the analysis of the chunk it is given."""

    def __init__(self, sink: InlineSink):
        self.sink = sink

    def put(self, chunk: Chunk) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        self.sink.put(chunk)


def test_an_interrupted_in_process_chunk_is_recorded_as_failed(sqlite_url):
    engine = db.connect(sqlite_url)
    sink = InlineSink(Runtime(Settings(database_url=sqlite_url)))
    sid = writes.create_source(engine, name="interrupted", kind="file", uri="mem")
    send(engine, sink, astronaut_chunk(sid, 0, 2), frames_read=2)  # analysed: the model and the cascade are loaded

    def ctrl_c(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt):
            send(engine, CtrlCDuringAnalysis(sink), astronaut_chunk(sid, 1, 60), frames_read=62)  # several hundred ms
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _chunks(engine, sid) == [(0, "done", None), (1, "failed", "KeyboardInterrupt")]
    with engine.connect() as conn:  # one transaction per chunk: nothing of the interrupted one landed
        assert conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id == sid)).scalar() == 2


def test_a_chunk_redis_never_took_is_recorded_as_failed(tmp_path, sqlite_url):
    engine = db.connect(sqlite_url)
    server = RedisServer(tmp_path)
    server.start()
    try:
        sink = RQSink(Redis.from_url(server.url), Settings(database_url=sqlite_url, redis_url=server.url),
                      database_id(engine), redis_patience=1)
        sid = writes.create_source(engine, name="redis gone", kind="file", uri="mem")
        send(engine, sink, astronaut_chunk(sid, 0, 2), frames_read=2)
    finally:
        server.stop()  # and it stays down past the sink's patience
    with pytest.raises(ServiceError, match="Redis unreachable"):
        send(engine, sink, astronaut_chunk(sid, 1, 2), frames_read=4)
    (queued, failed) = _chunks(engine, sid)
    assert queued == (0, "queued", None)  # in Redis when it went down: the sink's business, not lost yet
    assert failed[:2] == (1, "failed") and failed[2].startswith("ServiceError: Redis unreachable for over 1s")
