"""Live pictures: the contract between the workers, which draw them, and the HTTP API and dashboard, which show them.

A worker draws the faces it found onto the frames it analysed (``worker.preview``) and puts them in Redis; a server
or dashboard on any machine reads them from there. Everything lives in Redis with a short TTL, under the database's
id and the source's (``PreviewKeys``), never in the database or on disk:

- ``pictures``: the newest drawn frames of one chunk (``Pictures``, JPEGs), replaced by the next: latest only;
- ``version``: changes with every write, so that a reader fetches the pictures only when there are new ones;
- ``watched``: set by whoever shows them (``watch``), for ``WATCH_TTL_S`` seconds, holding the most pictures a
  second a viewer wants: a worker draws only while a source is watched, so nobody watching costs nothing;
- ``gate``: taken by the worker that draws (``SET NX PX``), so a source gets at most so many pictures a second
  whichever worker analyses its chunks;
- ``off``: left by a worker that may not draw this source's pictures (``--preview off``), so a viewer learns why.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass

from redis import Redis

from ferstream.errors import FerstreamError

FORMAT = "ferstream-pictures/1"
KEY_PREFIX = "ferstream:preview"
#: seconds a drawn picture stays in Redis: older than this it is gone, and a viewer is told no picture is recent
PICTURE_TTL_S = 5
#: seconds a source counts as watched after a viewer last said so (viewers say it every second or two)
WATCH_TTL_S = 10
#: the gate of a chunk's pictures is held for this share of the time they cover: a live source's next chunk, which
#: may come a little early, is drawn all the same (so a source gets at most 1 / this share more pictures than asked)
GATE_SHARE = 0.8


class PicturesError(FerstreamError):
    """Bytes under a pictures key that are not pictures (another program's key, or a newer format)."""


@dataclass(frozen=True)
class PreviewKeys:
    """The Redis keys of one source's live pictures."""

    pictures: str
    version: str
    watched: str
    gate: str
    off: str


def preview_keys(database_id: str, source_id: int) -> PreviewKeys:
    base = f"{KEY_PREFIX}:{database_id}:{source_id}"
    return PreviewKeys(f"{base}:pictures", f"{base}:version", f"{base}:watched", f"{base}:gate", f"{base}:off")


@dataclass(frozen=True)
class Picture:
    """One drawn frame: its frame index and media time in the source, and the JPEG."""

    frame_index: int
    timestamp: float
    jpeg: bytes


@dataclass(frozen=True)
class Pictures:
    """The drawn frames of one chunk, in time order (a viewer shows them at their pace: ``Picture.timestamp``)."""

    source_id: int
    chunk_index: int
    frames: tuple[Picture, ...]

    @property
    def last(self) -> Picture:
        return self.frames[-1]


def encode(pictures: Pictures) -> bytes:
    """A 4-byte header length, a JSON header (source, chunk, each frame's index, time and JPEG length), the JPEGs."""
    head = json.dumps({"format": FORMAT, "source_id": pictures.source_id, "chunk_index": pictures.chunk_index,
                       "frames": [[p.frame_index, p.timestamp, len(p.jpeg)] for p in pictures.frames]},
                      separators=(",", ":")).encode()
    return struct.pack(">I", len(head)) + head + b"".join(p.jpeg for p in pictures.frames)


def decode(data: bytes) -> Pictures:
    try:
        (n,) = struct.unpack(">I", data[:4])
        head = json.loads(data[4:4 + n])
        if head.get("format") != FORMAT:
            raise ValueError(f"unknown format {head.get('format')!r}")
        frames, offset = [], 4 + n
        for index, timestamp, size in head["frames"]:
            frames.append(Picture(int(index), float(timestamp), data[offset:offset + size]))
            offset += size
        if not frames or offset != len(data):
            raise ValueError("no pictures, or not the bytes the header counts")
        return Pictures(int(head["source_id"]), int(head["chunk_index"]), tuple(frames))
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise PicturesError(f"not live pictures: {exc}") from exc


# --- the workers' side ---
def wanted_fps(redis: Redis, keys: PreviewKeys) -> float | None:
    """The most pictures a second a viewer of the source wants now; None: nobody watches."""
    value = redis.get(keys.watched)
    try:
        return float(value) if value is not None and float(value) > 0 else None
    except ValueError:
        return None


def take_turn(redis: Redis, keys: PreviewKeys, seconds: float) -> bool:
    """Whether this worker may draw pictures covering ``seconds`` of the source now (the gate is free: it takes it)."""
    return bool(redis.set(keys.gate, b"1", nx=True, px=max(1, int(1000 * GATE_SHARE * seconds))))


def publish(redis: Redis, keys: PreviewKeys, pictures: Pictures) -> None:
    """Replace the source's pictures with ``pictures`` (and its version), both expiring after ``PICTURE_TTL_S``."""
    with redis.pipeline() as pipe:
        pipe.set(keys.pictures, encode(pictures), ex=PICTURE_TTL_S)
        pipe.set(keys.version, f"{pictures.chunk_index}:{time.time_ns()}", ex=PICTURE_TTL_S)
        pipe.execute()


def say_off(redis: Redis, keys: PreviewKeys) -> None:
    """Tell the source's viewers that its pictures are turned off (for as long as they watch)."""
    redis.set(keys.off, b"1", ex=WATCH_TTL_S)


# --- the viewers' side ---
def watch(redis: Redis, keys: PreviewKeys, fps: float) -> None:
    """Say that the source is watched, wanting ``fps`` pictures a second (the most any viewer wants is kept)."""
    current = redis.get(keys.watched)
    try:
        keep = current is not None and float(current) > fps
    except ValueError:
        keep = False
    if keep:
        redis.expire(keys.watched, WATCH_TTL_S)
    else:
        redis.set(keys.watched, str(fps), ex=WATCH_TTL_S)


def version(redis: Redis, keys: PreviewKeys) -> bytes | None:
    """The version of the newest pictures; None: no picture is recent."""
    return redis.get(keys.version)


def latest(redis: Redis, keys: PreviewKeys) -> Pictures | None:
    """The newest pictures; None: no picture is recent (nobody watched, nothing analysed lately, or pictures off)."""
    data = redis.get(keys.pictures)
    return decode(data) if data else None


def turned_off(redis: Redis, keys: PreviewKeys) -> bool:
    """Whether a worker said that this source's pictures are turned off (``--preview off``)."""
    return bool(redis.exists(keys.off))


def first_pictures(redis: Redis, keys: PreviewKeys, fps: float, wait_s: float, poll_s: float = 0.1) -> Pictures | None:
    """Watch the source and wait up to ``wait_s`` seconds for a picture (the workers draw none until it is watched);
    None if none came."""
    watch(redis, keys, fps)
    deadline = time.monotonic() + wait_s
    while True:
        found = latest(redis, keys)
        if found is not None or time.monotonic() >= deadline or turned_off(redis, keys):
            return found
        time.sleep(poll_s)
