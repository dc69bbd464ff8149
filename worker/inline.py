"""The in-process sink: analyse chunks as ingest produces them (no Redis configured).

Runs exactly the job code the RQ workers run, minus the trip through Redis.
"""

from __future__ import annotations

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
        result = process_chunk(self.runtime, chunk)
        self.frames += result["frames"]
        self.faces += result["faces"]
