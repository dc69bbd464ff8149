"""Queueing chunks for the RQ workers.

A chunk's frames go to a Redis key with a TTL; the RQ job carries only the
database's id, the source id, the chunk index and that key, so a failed job
never keeps frames in Redis. Each source has a bound on the chunks waiting for
the workers.

Every database has its own queue (``<queue>.<database id>``), keys and job ids:
a worker listens only on the queue of the database it writes to, so a worker
pointed at another database takes none of this one's jobs, and two databases
can share one Redis.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from redis import Redis
from redis.exceptions import ConnectionError, RedisError, TimeoutError
from rq import Queue, Retry

from ferstream.codec import encode_chunk
from ferstream.errors import ServiceError
from ferstream.results import Chunk
from ferstream.settings import DEFAULT_RESULT_TTL, Settings
from ferstream.urls import mask_url

log = logging.getLogger(__name__)

JOB = "ferstream.worker.jobs.analyze_chunk"
KEY_PREFIX = "ferstream:chunk"
T = TypeVar("T")


def queue_name(base: str, database_id: str) -> str:
    """The RQ queue of one database's work: ``base`` (settings.queue) and the database's id."""
    return f"{base}.{database_id}"


def chunk_key(database_id: str, source_id: int, chunk_index: int) -> str:
    return f"{KEY_PREFIX}:{database_id}:{source_id}:{chunk_index}"


def job_id(database_id: str, source_id: int, chunk_index: int) -> str:
    return f"ferstream-{database_id}-{source_id}-{chunk_index}"


def connect_redis(url: str) -> Redis:
    """A Redis client, checked with a PING; ``ServiceError`` naming the URL when unreachable."""
    client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)
    try:
        client.ping()
    except RedisError as exc:
        raise ServiceError(f"Redis at {mask_url(url)} is unreachable: {exc}") from exc
    return client


@dataclass
class _Sent:
    source_id: int
    index: int
    frames: tuple[int, int]
    blob: bytes
    n_frames: int = 0


class RQSink:
    """Sends chunks to the RQ queue and keeps each one until its results are in the database.

    At most ``settings.max_pending_chunks`` chunks of this sink wait at a time. A chunk
    whose frames vanished from Redis before its results landed (Redis restarted without
    persistence, or the key expired) is sent again; the workers' writes are idempotent,
    so a chunk sent twice is still stored once. Redis being briefly unreachable is
    waited out with backoff, up to ``redis_patience`` seconds.
    """

    def __init__(self, redis: Redis, settings: Settings, database_id: str,
                 is_done: Callable[[int, int], bool] | None = None, redis_patience: float = 120.0):
        self.redis = redis
        self.settings = settings
        self.database_id = database_id
        self.queue = Queue(queue_name(settings.queue, database_id), connection=redis)
        self.is_done = is_done
        self.redis_patience = redis_patience
        self._outstanding: dict[str, _Sent] = {}
        self.resent = 0
        self.frames_done = 0  # frames of the chunks acknowledged: their results are in the database

    def pending(self) -> int:
        """Chunks sent and not yet acknowledged (analysed, or their frames consumed)."""
        return self._patiently(self._check_outstanding)

    def _check_outstanding(self) -> int:
        keys = list(self._outstanding)
        if not keys:
            return 0
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            present = pipe.execute()
        for key, exists in zip(keys, present):
            if exists:
                continue
            sent = self._outstanding[key]
            if self.is_done is None or self.is_done(sent.source_id, sent.index):
                del self._outstanding[key]
                self.frames_done += sent.n_frames
            else:
                log.warning("chunk %d of source %d left Redis unanalysed (Redis restarted?): sending it again",
                            sent.index, sent.source_id)
                self._send(key, sent)
                self.resent += 1
        return len(self._outstanding)

    def has_room(self) -> bool:
        return self.pending() < self.settings.max_pending_chunks

    def wait_for_room(self, poll: float = 0.2) -> None:
        while not self.has_room():
            time.sleep(poll)

    def drain(self, poll: float = 0.5, timeout: float | None = None) -> None:
        """Wait until every chunk sent is acknowledged, re-sending lost ones."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending():
            if deadline is not None and time.monotonic() > deadline:
                raise ServiceError(f"{len(self._outstanding)} chunk(s) still unacknowledged after {timeout:.0f}s")
            time.sleep(poll)

    def put(self, chunk: Chunk) -> None:
        sent = _Sent(chunk.source_id, chunk.index, chunk.frame_range, encode_chunk(chunk, self.settings.jpeg_quality),
                     len(chunk.frames))
        key = chunk_key(self.database_id, chunk.source_id, chunk.index)
        self._patiently(lambda: self._send(key, sent))
        self._outstanding[key] = sent

    def _send(self, key: str, sent: _Sent) -> None:
        s = self.settings
        retry = Retry(max=s.retries, interval=list(s.retry_intervals)) if s.retries else None
        with self.redis.pipeline() as pipe:  # frames and job land together, or neither does
            self.queue.enqueue(
                JOB, self.database_id, sent.source_id, sent.index, key, s.detector, s.min_face, s.preview, s.preview_fps,
                job_id=job_id(self.database_id, sent.source_id, sent.index),
                description=f"analyze chunk {sent.index} of source {sent.source_id} (frames {sent.frames[0]}-{sent.frames[1]})",
                job_timeout=s.job_timeout, result_ttl=DEFAULT_RESULT_TTL, failure_ttl=s.failure_ttl, retry=retry, pipeline=pipe,
            )
            pipe.set(key, sent.blob, ex=s.chunk_ttl)
            pipe.execute()

    def _patiently(self, operation: Callable[[], T]) -> T:
        """Run a Redis operation, waiting out a restart with exponential backoff."""
        wait, deadline = 0.25, time.monotonic() + self.redis_patience
        while True:
            try:
                return operation()
            except (ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise ServiceError(f"Redis unreachable for over {self.redis_patience:.0f}s: {exc}") from exc
                log.warning("Redis unreachable (%s): retrying in %.1fs", exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, 5.0)
            except RedisError as exc:
                raise ServiceError(f"Redis: {exc}") from exc

    def close(self) -> None:
        pass
