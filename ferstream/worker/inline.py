"""The in-process sink: analyse chunks as ingest produces them (no Redis configured).

Runs exactly the job code the RQ workers run, minus the trip through Redis. The
frames still pass through the queue's codec (``encode_chunk`` / ``decode_chunk``,
JPEG at ``settings.jpeg_quality``), so the same video gives the same rows with
and without Redis: ``bench/codec.py`` measures what that costs.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext

from ferstream.codec import as_queued
from ferstream.results import Chunk
from ferstream.worker.jobs import process_chunk
from ferstream.worker.runtime import Runtime


class InlineSink:
    """Analyses each chunk in ``put``. Several sinks (one per watched camera) may share one runtime: ``lock``
    then serialises their use of its models, and each sink names its camera's detector and smallest face."""

    def __init__(self, runtime: Runtime, detector: str | None = None, min_face: float | None = None,
                 lock: threading.Lock | None = None):
        self.runtime = runtime
        self.detector = detector
        self.min_face = min_face
        self.lock = lock
        self.frames_done = 0  # frames whose results are in the database (as RQSink counts them)
        self.faces = 0

    def has_room(self) -> bool:
        return True  # put() analyses the chunk before it returns: nothing waits

    def wait_for_room(self) -> None:
        pass

    def put(self, chunk: Chunk) -> None:
        same_as_queued = as_queued(chunk, self.runtime.settings.jpeg_quality)
        with self.lock or nullcontext():
            result = process_chunk(self.runtime, same_as_queued, self.runtime.analyzer_for(self.detector, self.min_face))
        self.frames_done += result["frames"]
        self.faces += result["faces"]
