"""Ingesting a live source: chunk the frames its reader samples, send them while the sink has room.

A live source cannot wait: when the workers fall behind (the sink has no
room), a chunk's frames are dropped and counted in ``Source.frames_dropped``
instead of piling up in Redis. The stream's state (``ingest.stream.LIVE_STATES``),
drops and reconnects are recorded on the source as they happen, and the time of
its newest frame every second. On stop the partial last chunk is flushed and the
source is marked ``stopped``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sqlalchemy.engine import Engine

from ferstream.db import writes
from ferstream.errors import VideoError
from ferstream.results import Chunk, Frame
from ferstream.settings import DEFAULT_LIVE_SAMPLE_FPS, Settings
from ferstream.urls import mask_url
from ferstream.ingest.files import Sink, send
from ferstream.ingest.stream import (DEFAULT_OPEN_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S, FAILED, STALLED, STOPPED,
                                     LatestFrameReader, LiveFrame)
from ferstream.ingest.video import analysis_scale, detail_scale, to_analysis_frames

log = logging.getLogger(__name__)

#: called with each full (or last) chunk and whether it was sent (True) or dropped for lack of room (False)
OnChunk = Callable[[Chunk, bool], None]
#: seconds between records of a running source's newest-frame time (``sources.last_frame_at``)
LAST_FRAME_RECORD_S = 1.0


def watch_source(engine: Engine, source: str, sink: Sink, settings: Settings, *, name: str | None = None,
                 sample_fps: float | None = None, stop: threading.Event | None = None,
                 max_seconds: float | None = None, open_timeout: float = DEFAULT_OPEN_TIMEOUT_S,
                 read_timeout: float = DEFAULT_READ_TIMEOUT_S, on_chunk: OnChunk | None = None,
                 on_live: Callable[["LiveIngest"], None] | None = None,
                 on_source: Callable[[int], None] | None = None) -> int:
    """Watch a live source until ``stop`` is set or ``max_seconds`` pass; returns the source id.

    A source that cannot be opened raises ``VideoError`` before anything is
    recorded. Once open, a dropped stream is reopened with backoff for as long
    as the watch lasts.
    """
    sample_fps = DEFAULT_LIVE_SAMPLE_FPS if sample_fps is None else sample_fps
    if sample_fps <= 0:
        raise VideoError(f"--sample-fps must be positive, got {sample_fps}")
    stop = stop or threading.Event()
    start = time.monotonic()  # timestamp 0 of the source's frames
    with LatestFrameReader(source, sample_fps=sample_fps, open_timeout=open_timeout, read_timeout=read_timeout) as reader:
        source_id = writes.create_source(
            engine, name=name or default_name(source), kind="live", uri=reader.name, fps=reader.fps,
            width=reader.width, height=reader.height, sample_fps=sample_fps)
        if on_source:
            on_source(source_id)  # before its first chunk: the run's event rules are bound to it
        live = LiveIngest(engine, source_id, sink, reader, max(1, round(settings.live_chunk_seconds * sample_fps)),
                          (settings.analysis_width, settings.min_face), start, on_chunk, detail=settings.sends_detail)
        if on_live:
            on_live(live)  # its figures, for /metrics
        live.watch(stop, max_seconds)
    return source_id


def default_name(source: str) -> str:
    """The name of a live source watched without ``--name``: its URL with any password masked, or its device."""
    return f"camera {source}" if source.isdigit() else mask_url(source)


class LiveIngest:
    """The sampling loop of one watched source and its counters."""

    def __init__(self, engine: Engine, source_id: int, sink: Sink, reader: LatestFrameReader, per_chunk: int,
                 analysis: tuple[int, float], start: float, on_chunk: OnChunk | None = None, detail: bool = False):
        """``detail``: add a higher-resolution copy to each chunk's first frame (``Frame.detail``: where the worker's
        discovery scan for small faces runs)."""
        self.engine = engine
        self.source_id = source_id
        self.sink = sink
        self.reader = reader
        self.per_chunk = per_chunk
        self.analysis_width, self.min_face = analysis  # frames wider are scaled down, keeping the smallest face
        self.on_chunk = on_chunk
        self.detail = detail
        self.sampled = 0  # frames taken from the reader
        self.sent = 0  # ... and sent to the sink
        self.thinned = 0  # ... and dropped because the sink had no room
        self.chunks = 0  # chunks sent (the next chunk's index)
        self.batch: list[Frame] = []
        self.start = start
        self._recorded: tuple | None = None
        self._frame_recorded = 0.0  # monotonic time of the last last_frame_at record ...
        self._frame_at = None  # ... and the time recorded
        self._replaced = {"frames_read": 0, "frames_overwritten": 0, "reconnects": 0}  # counts of readers replaced
        self.stalled_since: float | None = None  # the watchdog found the reader stuck (see replace_reader)

    @property
    def dropped(self) -> int:
        """Sampled frames not analysed because the workers (or this process) fell behind."""
        return self.thinned + self.reader.frames_overwritten + self._replaced["frames_overwritten"]

    @property
    def frames_read(self) -> int:
        return self.reader.frames_read + self._replaced["frames_read"]

    @property
    def reconnects(self) -> int:
        return self.reader.reconnects + self._replaced["reconnects"]

    @property
    def state(self) -> str:
        return STALLED if self.stalled_since is not None else self.reader.state

    def replace_reader(self, reader: LatestFrameReader) -> None:
        """Carry on with a new reader (the watchdog's answer to one stuck in a read); its counts carry over."""
        old = self.reader
        old.request_stop()  # its thread may be stuck in a read: it is left to end on its own
        for key in ("frames_read", "frames_overwritten", "reconnects"):
            self._replaced[key] += getattr(old, key)
        self._replaced["reconnects"] += 1
        self.reader, self.stalled_since = reader, None

    def watch(self, stop: threading.Event, max_seconds: float | None = None, hurry: threading.Event | None = None) -> None:
        """Run until stopped, then flush the partial last chunk (unless ``hurry`` is set) and mark the source stopped
        (failed, when the stream never delivered a frame)."""
        try:
            self.run(stop, max_seconds)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now, without analysing the partial chunk
            self.finish(STOPPED, "interrupted")
            raise
        except BaseException as exc:
            self.finish(FAILED, f"{type(exc).__name__}: {exc}")
            raise
        if hurry is not None and hurry.is_set():
            self.finish(STOPPED, "interrupted")
            return
        self.reader.request_stop()
        for frame in self.reader.take():
            self.add(frame)
        self.flush()
        if self.frames_read:
            self.finish(STOPPED, self.reader.last_error)
        else:  # opened, yet not one frame came: as much a failure as a stream that never opened
            self.finish(FAILED, f"never delivered a frame: {self.reader.last_error or 'the stream opened, then sent nothing'}")
        log.info("%s: stopped after %.0fs: %d frames sampled, %d sent, %d dropped, %d reconnects", self.reader.name,
                 self.elapsed, self.sampled, self.sent, self.dropped, self.reconnects)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def run(self, stop: threading.Event, max_seconds: float | None) -> None:
        """Chunk the reader's sampled frames as they come, until stopped."""
        self._sync()
        while not stop.is_set() and (max_seconds is None or self.elapsed < max_seconds):
            for frame in self.reader.take(timeout=0.2):
                self.add(frame)
            self._sync()

    def add(self, live: LiveFrame) -> None:
        h, w = live.image.shape[:2]
        scale = analysis_scale(w, self.analysis_width, h, self.min_face)
        grey, copy = to_analysis_frames(live.image, scale, detail_scale(w, scale) if self.detail and not self.batch
                                        else None)
        self.batch.append(Frame(live.seq, live.monotonic - self.start, grey, live.captured_at, scale, copy))
        self.sampled += 1
        if len(self.batch) == self.per_chunk:
            self.flush()

    def flush(self) -> None:
        """Send the frames sampled so far as one chunk, or drop them if the sink has no room."""
        if not self.batch:
            return
        chunk, self.batch = Chunk(self.source_id, self.chunks, self.batch), []
        first, last = chunk.frame_range
        if self.sink.has_room():
            send(self.engine, self.sink, chunk, self.frames_read, self.dropped, state=self.state,
                 last_frame_at=self.reader.last_frame_at)
            if self._recorded:  # recording the chunk recorded the state
                self._recorded = (self.state, *self._recorded[1:])
            self.chunks += 1
            self.sent += len(chunk.frames)
            sent = True
        else:
            self.thinned += len(chunk.frames)
            log.info("source %d: workers behind, dropped frames %d-%d (%d dropped so far)",
                     self.source_id, first, last, self.dropped)
            sent = False
        if self.on_chunk:
            self.on_chunk(chunk, sent)

    def finish(self, state: str, error: str | None) -> None:
        writes.update_source(self.engine, self.source_id, state=state, error=error, reconnects=self.reconnects,
                             frames_read=self.frames_read, frames_dropped=self.dropped,
                             last_frame_at=self.reader.last_frame_at)

    def _sync(self) -> None:
        """Record the stream's state on the source when it changes (a drop, a reconnect, a stall), and the time of
        its newest frame once a second."""
        r = self.reader
        now = (self.state, self.reconnects, r.last_error, self.dropped)
        fresh = (r.last_frame_at is not None and r.last_frame_at != self._frame_at
                 and time.monotonic() - self._frame_recorded >= LAST_FRAME_RECORD_S)
        if now != self._recorded or fresh:
            self._recorded, self._frame_at = now, r.last_frame_at
            self._frame_recorded = time.monotonic()
            writes.update_source(self.engine, self.source_id, state=self.state, reconnects=self.reconnects,
                                 error=r.last_error, frames_dropped=self.dropped, frames_read=self.frames_read,
                                 last_frame_at=r.last_frame_at)
