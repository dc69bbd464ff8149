"""Grouping sampled frames into chunks, the work units queued for the workers."""

from __future__ import annotations

from typing import Iterable, Iterator

from ferstream.results import Chunk, Frame


def chunk_frames(frames: Iterable[Frame], source_id: int, frames_per_chunk: int, start_index: int = 0) -> Iterator[Chunk]:
    """Consecutive runs of ``frames_per_chunk`` frames (the last one may be shorter)."""
    if frames_per_chunk < 1:
        raise ValueError("frames_per_chunk must be at least 1")
    batch: list[Frame] = []
    index = start_index
    for frame in frames:
        batch.append(frame)
        if len(batch) == frames_per_chunk:
            yield Chunk(source_id, index, batch)
            index += 1
            batch = []
    if batch:
        yield Chunk(source_id, index, batch)
