"""Reading video files with OpenCV: probe, decode, sample, grey and scale down.

A video file is a local path or an http(s):// URL of a file FFmpeg can read, opened with the
same open and read timeouts as live streams (a URL is never taken for a path). URLs of live
streams (rtsp://, or an http(s) stream with no end) belong to ``ferstream watch``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2

from ferstream.errors import VideoError
from ferstream.results import Frame
from ferstream.urls import check_video_url, mask_url, scheme
from ferstream.ingest.stream import open_capture

log = logging.getLogger(__name__)


@dataclass
class VideoInfo:
    path: str
    size_bytes: int
    fps: float
    frame_count: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


def is_remote(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URL (of a remote file, or of a live stream) rather than a local path."""
    return bool(scheme(str(path)))


def open_video(path: str) -> cv2.VideoCapture:
    """A capture of a local file, or of a remote file with FFmpeg's open and read timeouts (never blocking forever)."""
    if is_remote(path):
        return open_capture(path)
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, fps, frame count and resolution; a clear ``VideoError`` for a missing or non-video file, ``UrlRefused``
    for a live URL or any URL but http(s) (``urls.check_video_url``: ``file://`` URLs are read as paths)."""
    shown = mask_url(str(path))
    path = check_video_url(str(path), local_files=True, live_hint=f"watch it with `ferstream watch {shown}`")
    if is_remote(path):
        size = 0
    else:
        p = Path(path)
        if not p.exists():
            raise VideoError(f"{p}: no such file")
        if not p.is_file():
            raise VideoError(f"{p}: not a file")
        size = p.stat().st_size
    cap = open_video(path)
    try:
        if not cap.isOpened():
            raise VideoError(f"{shown}: not a video OpenCV can open (unknown or corrupt container)")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError(f"{shown}: not a video: no frame could be decoded")
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if is_remote(path) and count <= 0:
            raise VideoError(f"{shown}: a live stream (it has no length), not a video file: watch it with "
                             f"`ferstream watch {shown}`")
        info = VideoInfo(path, size, fps if 0 < fps < 1000 else 25.0, max(count, 0), frame.shape[1], frame.shape[0])
    finally:
        cap.release()
    return info


#: the smallest face side (pixels) an analysis frame keeps: the emotion model's 48 px input
MIN_ANALYSED_FACE_PX = 48


#: file suffixes read as still photos: one frame, searched for small faces by default (``DEFAULT_PHOTO_MIN_FACE``)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def is_photo(path) -> bool:
    """Whether ``path`` names a still photo (by its suffix; a URL is a video)."""
    text = str(path)
    return "://" not in text and Path(text).suffix.lower() in PHOTO_SUFFIXES


def analysis_scale(width: int, analysis_width: int, height: int | None = None, min_face: float | None = None) -> float:
    """Source pixels per analysed pixel: frames wider than ``analysis_width`` are scaled down, but never so far that
    the smallest wanted face (``min_face`` of the shorter side) drops below ``MIN_ANALYSED_FACE_PX``."""
    scale = width / analysis_width if analysis_width and width > analysis_width else 1.0
    if min_face and height:
        scale = min(scale, max(1.0, min(width, height) * min_face / MIN_ANALYSED_FACE_PX))
    return scale


#: the widest higher-resolution copy ingest adds to a frame for the worker's discovery scan (``Frame.detail``): the
#: source's own width up to full HD (a 7x7 gallery's faces are 59 px there, 20 px of the 640 px analysis frame)
DETAIL_WIDTH = 1920
#: ... added only where it is at least this many times the analysis frame's width (else it adds little)
DETAIL_MIN_GAIN = 1.5


def detail_scale(width: int, scale: float) -> float | None:
    """Source pixels per pixel of a frame's higher-resolution copy (``DETAIL_WIDTH`` wide at most), or None where it
    would not be ``DETAIL_MIN_GAIN`` times the analysis frame (``scale`` source pixels per pixel)."""
    detail = max(1.0, width / DETAIL_WIDTH)
    return detail if scale / detail >= DETAIL_MIN_GAIN else None


def _scaled(grey, scale: float):
    if scale == 1.0:
        return grey
    h, w = grey.shape
    return cv2.resize(grey, (round(w / scale), round(h / scale)), interpolation=cv2.INTER_AREA)


def to_analysis_frame(image, scale: float):
    """A decoded BGR (or grey) frame as the grey, scaled-down image the worker analyses."""
    return _scaled(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, scale)


def to_analysis_frames(image, scale: float, detail: float | None):
    """``to_analysis_frame``, and the same grey frame at ``detail`` source pixels per pixel (None: no copy)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return _scaled(grey, scale), None if detail is None else _scaled(grey, detail)


class VideoReader:
    """Sampled frames of a video file, in order; records a decode error instead of losing what came before.

    ``frames_read`` counts every decoded frame; ``error`` says why decoding stopped early, if it did.
    """

    def __init__(self, path: str | os.PathLike, sample_fps: float | None = None, analysis_width: int = 640,
                 min_face: float | None = None):
        self.info = probe_video(path)
        if sample_fps is not None and sample_fps <= 0:
            raise VideoError(f"--sample-fps must be positive, got {sample_fps}")
        self.sample_fps = sample_fps if sample_fps and sample_fps < self.info.fps else None
        self.scale = analysis_scale(self.info.width, analysis_width, self.info.height, min_face)
        self.detail_scale: float | None = None  # source pixels per pixel of the frames' higher-resolution copies
        self.detail_every, self.detail_seconds = 0, 0.0
        self.frames_read = 0
        self.frames_sampled = 0
        self.error: str | None = None

    def add_detail(self, every: int, seconds: float = 0.0) -> None:
        """Add a higher-resolution copy (``Frame.detail``, ``detail_scale``) to every ``every``-th sampled frame from
        the first (a chunk's first) and to the first ``seconds`` or more after the last copy (the worker's discovery
        scans are due there), where the source is large enough for one to show more than the analysis frame."""
        self.detail_scale = detail_scale(self.info.width, self.scale)
        self.detail_every, self.detail_seconds = max(1, every), seconds

    @property
    def effective_fps(self) -> float:
        return self.sample_fps or self.info.fps

    def __iter__(self) -> Iterator[Frame]:
        cap = open_video(self.info.path)
        step = 1.0 / self.sample_fps if self.sample_fps else 0.0
        next_t, last_detail = 0.0, None
        try:
            index = 0
            while True:
                t = index / self.info.fps
                wanted = t + 1e-9 >= next_t
                ok = cap.grab()
                if not ok:
                    break
                if wanted:
                    ok, image = cap.retrieve()
                    if not ok or image is None:
                        break
                    next_t += step
                    detail = self.detail_scale is not None and (
                        self.frames_sampled % self.detail_every == 0
                        or (self.detail_seconds > 0 and t - last_detail >= self.detail_seconds - 1e-9))
                    last_detail = t if detail else last_detail
                    grey, copy = to_analysis_frames(image, self.scale, self.detail_scale if detail else None)
                    self.frames_sampled += 1
                    yield Frame(index, t, grey, None, self.scale, copy)
                index += 1
                self.frames_read = index
        finally:
            cap.release()
        expected = self.info.frame_count
        if expected and self.frames_read < expected - max(5, expected // 50):  # container counts are estimates
            self.error = (f"decoding stopped at frame {self.frames_read} of {expected}: "
                          "the file is truncated or corrupt; the frames before it were analysed")
            log.warning("%s: %s", self.info.path, self.error)
