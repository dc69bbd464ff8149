"""Queueing chunks for the RQ workers.

A chunk's frames go to a Redis key with a TTL; the RQ job carries only the
source id, the chunk index and that key, so a failed job never keeps frames
in Redis. Each source has a bound on the chunks waiting for the workers.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

from ferstream.codec import encode_chunk
from ferstream.errors import ServiceError
from ferstream.results import Chunk
from ferstream.settings import Settings

log = logging.getLogger(__name__)

JOB = "worker.jobs.analyze_chunk"
KEY_PREFIX = "ferstream:chunk"


def chunk_key(source_id: int, chunk_index: int) -> str:
    return f"{KEY_PREFIX}:{source_id}:{chunk_index}"


def job_id(source_id: int, chunk_index: int) -> str:
    return f"ferstream-{source_id}-{chunk_index}"


def connect_redis(url: str) -> Redis:
    """A Redis client, checked with a PING; ``ServiceError`` naming the URL when unreachable."""
    client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)
    try:
        client.ping()
    except RedisError as exc:
        raise ServiceError(f"Redis at {url} is unreachable: {exc}") from exc
    return client


class RQSink:
    """Sends chunks to the RQ queue, keeping at most ``max_pending`` of them waiting per source."""

    def __init__(self, redis: Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self.queue = Queue(settings.queue, connection=redis)
        self._pending: deque[str] = deque()

    def pending(self) -> int:
        """Chunks of this sink still waiting in Redis (their frames are deleted once analysed)."""
        while self._pending and not self.redis.exists(self._pending[0]):
            self._pending.popleft()
        return self.redis.exists(*self._pending) if self._pending else 0

    def has_room(self) -> bool:
        return self.pending() < self.settings.max_pending_chunks

    def wait_for_room(self, poll: float = 0.2) -> None:
        while not self.has_room():
            time.sleep(poll)

    def put(self, chunk: Chunk) -> None:
        key = chunk_key(chunk.source_id, chunk.index)
        blob = encode_chunk(chunk, self.settings.jpeg_quality)
        retry = Retry(max=self.settings.retries, interval=list(self.settings.retry_intervals)) if self.settings.retries else None
        try:
            self.redis.set(key, blob, ex=self.settings.chunk_ttl)
            self.queue.enqueue(
                JOB, chunk.source_id, chunk.index, key,
                job_id=job_id(chunk.source_id, chunk.index),
                description=f"analyze chunk {chunk.index} of source {chunk.source_id} (frames {chunk.frame_range[0]}-{chunk.frame_range[1]})",
                job_timeout=self.settings.job_timeout,
                result_ttl=3600,
                failure_ttl=self.settings.failure_ttl,
                retry=retry,
            )
        except RedisError as exc:
            raise ServiceError(f"cannot queue chunk {chunk.index} of source {chunk.source_id}: Redis: {exc}") from exc
        self._pending.append(key)

    def close(self) -> None:
        pass
