"""The in-process sink: analyse chunks as ingest produces them (no Redis configured).

Runs exactly the job code the RQ workers run, minus the trip through Redis. The
frames still pass through the queue's codec (``encode_chunk`` / ``decode_chunk``,
JPEG at ``settings.jpeg_quality``), so the same video gives the same rows with
and without Redis: ``bench/codec.py`` measures what that costs.
"""

from __future__ import annotations

from ferstream.codec import decode_chunk, encode_chunk
from ferstream.results import Chunk
from worker.jobs import process_chunk
from worker.runtime import Runtime


class InlineSink:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.frames = 0
        self.faces = 0

    def has_room(self) -> bool:
        return True  # put() analyses the chunk before it returns: nothing waits

    def wait_for_room(self) -> None:
        pass

    def put(self, chunk: Chunk) -> None:
        same_as_queued = decode_chunk(encode_chunk(chunk, self.runtime.settings.jpeg_quality))
        result = process_chunk(self.runtime, same_as_queued)
        self.frames += result["frames"]
        self.faces += result["faces"]
