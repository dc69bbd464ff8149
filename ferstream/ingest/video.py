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
from ferstream.urls import REMOTE_FILE_SCHEMES, is_network, mask_url, scheme
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
    """Size, fps, frame count and resolution; a clear ``VideoError`` for a missing or non-video file, or a live URL."""
    path = str(path)
    shown = mask_url(path)
    if not path.strip():
        raise VideoError("an empty path: give a video file's path, or the http(s):// URL of one")
    if is_remote(path):
        if scheme(path) not in REMOTE_FILE_SCHEMES:
            if not is_network(path):
                raise VideoError(f"{shown}: {scheme(path)}:// URLs are not read: a video is a path, or an http:// or "
                                 "https:// URL")
            raise VideoError(f"{shown}: a live stream, not a video file: watch it with `ferstream watch {shown}`")
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


def to_analysis_frame(image, scale: float):
    """A decoded BGR (or grey) frame as the grey, scaled-down image the worker analyses."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if scale != 1.0:
        h, w = grey.shape
        grey = cv2.resize(grey, (round(w / scale), round(h / scale)), interpolation=cv2.INTER_AREA)
    return grey


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
        self.frames_read = 0
        self.frames_sampled = 0
        self.error: str | None = None

    @property
    def effective_fps(self) -> float:
        return self.sample_fps or self.info.fps

    def __iter__(self) -> Iterator[Frame]:
        cap = open_video(self.info.path)
        step = 1.0 / self.sample_fps if self.sample_fps else 0.0
        next_t = 0.0
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
                    self.frames_sampled += 1
                    yield Frame(index, t, to_analysis_frame(image, self.scale), None, self.scale)
                index += 1
                self.frames_read = index
        finally:
            cap.release()
        expected = self.info.frame_count
        if expected and self.frames_read < expected - max(5, expected // 50):  # container counts are estimates
            self.error = (f"decoding stopped at frame {self.frames_read} of {expected}: "
                          "the file is truncated or corrupt; the frames before it were analysed")
            log.warning("%s: %s", self.info.path, self.error)
