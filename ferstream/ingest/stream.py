"""Reading live streams (a webcam, a video device, an RTSP or HTTP URL): keep only the newest frames.

A background thread reads the stream as fast as it delivers frames and keeps
only the newest sampled ones, so a slow consumer samples the present, never a
growing backlog. Opening and reading never block forever (FFmpeg's open and read
timeouts); a dropped stream is reopened with exponential backoff, and so is a
stalled one: a stream that delivers the same frame over and over (a frozen
camera).

A live source is always in one of ``LIVE_STATES``: ``starting`` (not open
yet), ``running`` (frames arrive), ``reconnecting`` (the stream dropped; it is
being reopened), ``stalled`` (no new frames: being reopened), ``failed``
(given up: an error a retry cannot fix), ``stopped``.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import cv2
import numpy as np

from ferstream.errors import UrlRefused, VideoError
from ferstream.urls import check_camera_url, is_network, mask_url

log = logging.getLogger(__name__)

#: seconds to wait for a stream to open (connect, handshake, first packets) before giving up on an attempt
DEFAULT_OPEN_TIMEOUT_S = 10.0
#: seconds without a frame before an open stream counts as dropped and is reopened
DEFAULT_READ_TIMEOUT_S = 5.0
#: seconds of sampled frames a reader keeps for a consumer that falls behind: the bound on latency. Also
#: the longest burst taken whole (HLS delivers a segment, 2-6 s, at once)
DEFAULT_BUFFER_S = 10.0
#: seconds before the first reopen of a dropped stream; doubled after each failed attempt ...
DEFAULT_BACKOFF_INITIAL_S = 0.5
#: ... up to this many seconds between attempts (a live source retries for as long as it is watched)
DEFAULT_BACKOFF_MAX_S = 30.0

#: seconds the same frame may repeat before the stream counts as stalled and is reopened (a frozen camera keeps
#: sending its last picture); a stream whose reads block past the read timeout counts as stalled too
DEFAULT_STALL_S = 10.0

STARTING, RUNNING, RECONNECTING, STALLED, FAILED, STOPPED = "starting", "running", "reconnecting", "stalled", "failed", "stopped"
#: the states of a live source, recorded on its row (``sources.state``) and exported as metrics
LIVE_STATES = (STARTING, RUNNING, RECONNECTING, STALLED, FAILED, STOPPED)

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}


@dataclass(frozen=True)
class LiveFrame:
    """A sampled frame of a stream."""

    seq: int  # frames decoded since the reader started, across reconnects (0-based)
    image: np.ndarray  # as decoded: BGR (or grey)
    captured_at: datetime  # wall clock, UTC (see StreamClock)
    monotonic: float  # the same instant on time.monotonic()


def open_capture(source: str, open_timeout: float = DEFAULT_OPEN_TIMEOUT_S,
                 read_timeout: float = DEFAULT_READ_TIMEOUT_S) -> cv2.VideoCapture:
    """An opened capture of a camera index (``"0"``), a device path or a stream URL; ``VideoError`` if it cannot be
    opened, ``UrlRefused`` if the URL policy refuses it (``urls.check_camera_url``: its host's addresses are looked up
    and checked here, as it is opened)."""
    if os.path.isfile(source):
        raise VideoError(f"{source}: a video file, not a live stream: analyse it with `ferstream analyze`")
    check_camera_url(source, resolve=True)
    start = time.monotonic()
    if source.isdigit():
        cap = cv2.VideoCapture(int(source), cv2.CAP_ANY)
    elif source.startswith("/dev/") and sys.platform.startswith("linux"):
        cap = cv2.VideoCapture(source, cv2.CAP_V4L2)
    else:
        cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout * 1000),
        ])
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{mask_url(source)}: cannot open stream: {_why_not(source, time.monotonic() - start, open_timeout)}")
    return cap


def _why_not(source: str, elapsed: float, open_timeout: float) -> str:
    """A best guess at why OpenCV could not open ``source`` (it says only 'not opened')."""
    if source.isdigit():
        return f"no camera at index {source}, or it is in use"
    if not is_network(source):
        return ("no such device or stream" if not os.path.exists(source)
                else "OpenCV cannot read video from it (busy, no permission, or not a video device)")
    parts = urlsplit(source)
    host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    if not port:
        return f"no video within {open_timeout:g}s"
    try:
        socket.create_connection((host, port), timeout=min(open_timeout, 3.0)).close()
    except ConnectionRefusedError:
        return f"connection refused by {host}:{port} (is the stream server running?)"
    except socket.gaierror as exc:
        return f"unknown host {host!r} ({exc.strerror})"
    except TimeoutError:
        return f"no answer from {host}:{port}"
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"
    if elapsed >= open_timeout * 0.9:
        return f"{host}:{port} accepted the connection but sent no video within {open_timeout:g}s"
    return f"{host}:{port} answered, but FFmpeg found no video stream it can read there (wrong path or format?)"


class StreamClock:
    """When each frame of a stream was captured, on the monotonic clock, from its arrival and media times.

    Most streams deliver frames as they are captured: arrival time is capture
    time. HLS delivers a whole segment at once; within such a burst the
    frames' media times keep them apart. Capture times never decrease, never
    lie ahead of arrival, and a backlog at connection time collapses to its
    arrival (it is stale). Untrustworthy media times (MJPEG has none; OpenCV
    counts frames at a guessed rate) lose to arrival times, which move faster.
    """

    def __init__(self, window_s: float = 10.0):
        self.window_s = window_s
        self.reset()

    def reset(self) -> None:
        """A new connection: media time starts again."""
        self._pace: float | None = None
        self._pos: float | None = None
        self._leads: deque[tuple[float, float]] = deque()  # (arrival, lead of media pace over arrival)

    def capture_time(self, arrival: float, pos_ms: float) -> float:
        step = (pos_ms - self._pos) / 1000 if self._pos is not None else 0.0
        pace = arrival if self._pace is None else max(arrival, self._pace + (step if 0 <= step <= 1 else 0.0))
        pace = min(pace, arrival + self.window_s)
        self._pace, self._pos = pace, pos_ms
        lead = pace - arrival
        self._leads.append((arrival, lead))
        while self._leads[0][0] < arrival - self.window_s:
            self._leads.popleft()
        return arrival - (max(lead for _, lead in self._leads) - lead)


class LatestFrameReader:
    """Reads a live source on a thread of its own and keeps only the newest sampled frames.

    Every frame is decoded (``frames_read``); one every ``1/sample_fps``
    seconds of capture time is kept (``frames_sampled``; all of them without
    ``sample_fps``), at most ``buffer_s`` seconds of them: when the consumer
    falls behind, the oldest go (``frames_overwritten``), so latency stays
    bounded. ``start()`` opens the source in the calling thread, so a source
    that cannot be opened fails fast with ``VideoError``; afterwards a read
    failure or a read timeout counts as a drop, the same frame repeated for
    ``stall_s`` seconds as a stall, and the thread reopens the source with
    exponential backoff until ``stop()``. ``last_frame_at`` is the wall-clock
    time of the newest frame decoded. Use it as a context manager; the capture
    is released when the thread ends.
    """

    def __init__(self, source: str, *, sample_fps: float | None = None, buffer_s: float = DEFAULT_BUFFER_S,
                 open_timeout: float = DEFAULT_OPEN_TIMEOUT_S, read_timeout: float = DEFAULT_READ_TIMEOUT_S,
                 backoff_initial: float = DEFAULT_BACKOFF_INITIAL_S, backoff_max: float = DEFAULT_BACKOFF_MAX_S,
                 stall_s: float = DEFAULT_STALL_S):
        self.source = source
        self.name = mask_url(source)
        self.stride = 1.0 / sample_fps if sample_fps else 0.0
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stall_s = stall_s
        self.frames_read = 0
        self.frames_sampled = 0
        self.frames_overwritten = 0
        self.drops = 0
        self.reconnects = 0
        self.stalls = 0
        self.state = STARTING  # -> running <-> reconnecting | stalled -> stopped
        self.last_error: str | None = None  # the last drop, and whether the stream came back
        self.last_frame_at: datetime | None = None  # wall clock of the newest frame decoded
        self.last_frame_monotonic: float | None = None
        self.fps: float | None = None
        self.width: int | None = None
        self.height: int | None = None
        self._frames: deque[LiveFrame] = deque(maxlen=max(1, math.ceil(buffer_s * sample_fps)) if sample_fps else 1)
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._cap: cv2.VideoCapture | None = None
        self._thread = threading.Thread(target=self._run, name=f"reader {self.name}", daemon=True)

    def __enter__(self) -> "LatestFrameReader":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._cap = self._open()
        self.state = RUNNING
        self._thread.start()

    def take(self, timeout: float = 0.0) -> list[LiveFrame]:
        """The sampled frames not taken yet, oldest first; waits up to ``timeout`` seconds for one."""
        with self._ready:
            if not self._frames and timeout > 0:
                self._ready.wait(timeout)
            frames = list(self._frames)
            self._frames.clear()
        return frames

    def request_stop(self) -> None:
        """Tell the thread to end after its current read, without waiting for it."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """End the thread and release the capture; waits at most a read timeout (plus a second)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.read_timeout + 1.0 if timeout is None else timeout)
            if self._thread.is_alive():
                log.warning("%s: the reader thread did not end within the read timeout", self.name)
        elif self._cap is not None:  # started nothing: release what start() opened
            self._cap.release()
            self._cap = None

    def _open(self) -> cv2.VideoCapture:
        cap = open_capture(self.source, self.open_timeout, self.read_timeout)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or None
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
        return cap

    @property
    def alive(self) -> bool:
        """Whether the reading thread runs (a stopped reader, or one never started, is not)."""
        return self._thread.is_alive()

    def _keep(self, image: np.ndarray, pos_ms: float, clock: StreamClock, due: float) -> float:
        """Keep the frame if it is due for sampling; returns when the next one is."""
        arrival, wall = time.monotonic(), datetime.now(timezone.utc)
        captured = clock.capture_time(arrival, pos_ms)
        self.frames_read += 1
        self.last_frame_at, self.last_frame_monotonic = wall, arrival
        if captured + 1e-3 < due:
            return due
        frame = LiveFrame(self.frames_read - 1, image, wall - timedelta(seconds=arrival - captured), captured)
        with self._ready:
            if len(self._frames) == self._frames.maxlen:
                self.frames_overwritten += 1
            self._frames.append(frame)
            self.frames_sampled += 1
            self._ready.notify_all()
        return due + self.stride if due + self.stride > captured else captured + self.stride

    def _run(self) -> None:
        cap, self._cap = self._cap, None
        delay = self.backoff_initial
        dropped_at = due = 0.0
        clock = StreamClock()
        same = _Repeats(self.stall_s)
        try:
            while not self._stop.is_set():
                if cap is None:
                    if self._stop.wait(delay):
                        break
                    try:
                        cap = self._open()
                    except (VideoError, UrlRefused) as exc:  # refused: its name resolves elsewhere now
                        delay = min(delay * 2, self.backoff_max)
                        log.info("%s: reopen failed, next try in %.1fs: %s", self.name, delay, exc)
                        continue
                    clock.reset()
                    same.reset()
                    self.reconnects += 1
                    self.state = RUNNING
                    self.last_error = f"{self.last_error}; reconnected after {time.monotonic() - dropped_at:.1f}s"
                    log.warning("%s: reconnected (%d reconnects so far)", self.name, self.reconnects)
                    continue
                t0 = time.monotonic()
                ok, image = cap.read()
                if ok and image is not None:
                    due = self._keep(image, cap.get(cv2.CAP_PROP_POS_MSEC), clock, due)
                    if not same.seen(image, self.last_frame_monotonic):
                        delay = self.backoff_initial  # the stream delivers again: the next drop starts afresh
                        continue
                cap.release()
                cap = None
                if self._stop.is_set():
                    break
                dropped_at = time.monotonic()
                self.drops += 1
                if ok and image is not None:
                    self.stalls += 1
                    self.state = STALLED
                    why = f"stalled: the same frame for {self.stall_s:g}s"
                else:
                    self.state = RECONNECTING
                    why = (f"no frame for {self.read_timeout:g}s" if dropped_at - t0 >= self.read_timeout * 0.9
                           else "the stream ended or broke")
                self.last_error = f"stream dropped at {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}Z: {why}"
                log.warning("%s: %s; reconnecting", self.name, self.last_error)
        finally:
            if cap is not None:
                cap.release()
            self.state = STOPPED


class _Repeats:
    """Whether a stream has delivered the same picture for ``stall_s`` seconds (a frozen camera).

    A live camera's sensor noise changes every frame; a frozen one repeats its last picture bit for bit. The
    comparison looks at a sparse grid of about 32 x 32 pixels, so it costs next to nothing per frame.
    """

    def __init__(self, stall_s: float):
        self.stall_s = stall_s
        self.reset()

    def reset(self) -> None:
        self._last: bytes | None = None
        self._since: float | None = None

    def seen(self, image: np.ndarray, now: float) -> bool:
        """Record a frame; True when the same picture has come for ``stall_s`` seconds."""
        h, w = image.shape[:2]
        sample = image[::max(1, h // 32), ::max(1, w // 32)].tobytes()
        if sample != self._last:
            self._last, self._since = sample, now
            return False
        return self.stall_s > 0 and now - self._since >= self.stall_s
