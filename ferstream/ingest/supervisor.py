"""Many live sources in one process: a thread per camera, each in a state, none able to stop the others.

Each camera's thread records its source (state ``starting``), opens the stream
(retrying with backoff while it cannot: ``reconnecting``), then chunks its
frames as ``ferstream watch`` does for one source. A watchdog replaces a reader
whose thread is stuck in a read well past the read timeout (``stalled``); the
reader itself reopens a stream that drops or repeats one frame. An error a
retry cannot fix marks that camera ``failed``; the others go on. ``stop`` ends
every camera cleanly (each flushes its last chunk); ``hurry`` ends them at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Engine

from ferstream.db import writes
from ferstream.errors import VideoError
from ferstream.ingest.cameras import Camera
from ferstream.ingest.files import Sink
from ferstream.ingest.live import LiveIngest
from ferstream.ingest.stream import (DEFAULT_BACKOFF_INITIAL_S, DEFAULT_BACKOFF_MAX_S, DEFAULT_OPEN_TIMEOUT_S,
                                     DEFAULT_READ_TIMEOUT_S, DEFAULT_STALL_S, FAILED, RECONNECTING, RUNNING, STARTING,
                                     STOPPED, LatestFrameReader)
from ferstream.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamTimeouts:
    """How long a camera's stream may take to open, to deliver a frame, or repeat one, and the reopen backoff."""

    open_s: float = DEFAULT_OPEN_TIMEOUT_S
    read_s: float = DEFAULT_READ_TIMEOUT_S
    stall_s: float = DEFAULT_STALL_S
    backoff_initial_s: float = DEFAULT_BACKOFF_INITIAL_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S


@dataclass
class CameraWatch:
    """One camera of a supervised watch: its thread, its source id, its state and counters."""

    camera: Camera
    engine: Engine
    sink: Sink
    settings: Settings  # this camera's (its detector and smallest face)
    timeouts: StreamTimeouts = field(default_factory=StreamTimeouts)
    on_source: Callable[[int, Camera], None] | None = None  # once its source is recorded (event rules bound there)
    source_id: int | None = None
    live: LiveIngest | None = None
    error: str | None = None
    _state: str = STARTING
    _thread: threading.Thread | None = None

    @property
    def state(self) -> str:
        return self.live.state if self.live is not None and self._state not in (FAILED, STOPPED) else self._state

    @property
    def last_frame_at(self) -> datetime | None:
        return self.live.reader.last_frame_at if self.live is not None else None

    def start(self, stop: threading.Event, hurry: threading.Event) -> None:
        self._thread = threading.Thread(target=self._run, args=(stop, hurry), name=f"camera {self.camera.name}", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the camera's thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _reader(self) -> LatestFrameReader:
        t = self.timeouts
        return LatestFrameReader(self.camera.url, sample_fps=self.camera.sample_fps, open_timeout=t.open_s,
                                 read_timeout=t.read_s, backoff_initial=t.backoff_initial_s,
                                 backoff_max=t.backoff_max_s, stall_s=t.stall_s)

    def _record(self, state: str, error: str | None = None) -> None:
        self._state, self.error = state, error
        writes.update_source(self.engine, self.source_id, state=state, error=error)

    def _open(self, stop: threading.Event) -> LatestFrameReader | None:
        """The opened reader; retries with backoff while the stream cannot be opened; None once stopped."""
        delay = self.timeouts.backoff_initial_s
        while not stop.is_set():
            reader = self._reader()
            try:
                reader.start()
                return reader
            except VideoError as exc:
                log.warning("camera %s: %s; next try in %.1fs", self.camera.name, exc, delay)
                self._record(RECONNECTING, str(exc))
            if stop.wait(delay):
                break
            delay = min(delay * 2, self.timeouts.backoff_max_s)
        return None

    def _run(self, stop: threading.Event, hurry: threading.Event) -> None:
        c = self.camera
        try:
            self.source_id = writes.create_source(self.engine, name=c.name, kind="live", uri=c.display_url,
                                                  sample_fps=c.sample_fps, state=STARTING)
            if self.on_source:
                self.on_source(self.source_id, c)
            reader = self._open(stop)
            if reader is None:  # stopped before the stream ever opened: a camera that delivered nothing has failed
                self._record(FAILED, f"never delivered a frame: {self.error or 'stopped before it opened'}")
                return
            writes.update_source(self.engine, self.source_id, fps=reader.fps, width=reader.width, height=reader.height,
                                 error=None)
            s = self.settings
            self.live = LiveIngest(self.engine, self.source_id, self.sink, reader,
                                   max(1, round(s.live_chunk_seconds * c.sample_fps)), (s.analysis_width, s.min_face),
                                   time.monotonic())
            watchdog = threading.Thread(target=self._watchdog, args=(stop,), name=f"watchdog {c.name}", daemon=True)
            watchdog.start()
            try:
                self.live.watch(stop, hurry=hurry)
            finally:
                self.live.reader.stop()
            self._state = STOPPED
        except Exception as exc:  # this camera only: the others go on
            log.exception("camera %s failed", c.name)
            self._state, self.error = FAILED, f"{type(exc).__name__}: {exc}"
            if self.source_id is not None and (self.live is None or self.live.reader.state != STOPPED):
                try:
                    writes.update_source(self.engine, self.source_id, state=FAILED, error=self.error)
                except Exception:  # the database itself may be what failed
                    log.exception("camera %s: could not record its failure", c.name)

    def _watchdog(self, stop: threading.Event) -> None:
        """Replace a reader whose thread has read nothing for long past its read timeout (stuck in a read)."""
        limit = self.timeouts.read_s + self.timeouts.stall_s
        while not stop.wait(1.0) and self._state not in (FAILED, STOPPED):
            live = self.live
            r = live.reader
            stuck = (r.state == RUNNING and r.last_frame_monotonic is not None
                     and time.monotonic() - r.last_frame_monotonic > limit)
            if not stuck:
                continue
            live.stalled_since = time.monotonic()
            log.warning("camera %s: no frame for %.0fs while its stream claims to run: replacing its reader",
                        self.camera.name, time.monotonic() - r.last_frame_monotonic)
            replacement = self._open(stop)
            if replacement is not None:
                live.replace_reader(replacement)


class Supervisor:
    """Runs cameras, each with a stop of its own, so that one can be stopped, added or changed while the others go
    on (``reconcile``); a camera failing never stops the others."""

    def __init__(self, watches: list[CameraWatch]):
        self.watches = list(watches)
        self.retired: list[CameraWatch] = []  # stopped while the watch went on: removed, disabled or changed
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self._stops: dict[int, threading.Event] = {}

    def start(self) -> None:
        for w in self.watches:
            self._start(w)

    def _start(self, watch: CameraWatch) -> None:
        own = self._stops[id(watch)] = threading.Event()
        if self.stop.is_set():
            own.set()
        watch.start(own, self.hurry)

    def reconcile(self, wanted: list[Camera], make_watch: Callable[[Camera], CameraWatch]) -> list[str]:
        """Run exactly the ``wanted`` cameras: stop those no longer wanted, restart those whose settings changed
        (as a new source), start new ones. What changed, in words."""
        wanted_by_name = {c.name: c for c in wanted}
        changes = []
        for w in list(self.watches):
            camera = wanted_by_name.get(w.camera.name)
            if camera != w.camera:
                self._stops[id(w)].set()
                self.watches.remove(w)
                self.retired.append(w)
                changes.append(f"stopped {w.camera.name}" if camera is None else f"restarting {w.camera.name} (changed)")
        running = {w.camera.name for w in self.watches}
        for camera in wanted:
            if camera.name not in running:
                watch = make_watch(camera)
                self.watches.append(watch)
                self._start(watch)
                changes.append(f"started {camera.name}")
        return changes

    def running(self) -> bool:
        return any(w._thread is not None and w._thread.is_alive() for w in self.watches)

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop every camera (each flushes its last chunk unless ``hurry`` is set) and wait for them."""
        self.stop.set()
        for own in self._stops.values():
            own.set()
        deadline = time.monotonic() + timeout
        for w in self.retired + self.watches:
            if not w.join(max(0.0, deadline - time.monotonic())):
                log.warning("camera %s did not stop within %.0fs", w.camera.name, timeout)
