"""A demo clip built at run time from ``skimage.data.astronaut()`` (a real, smiling face).

Pans and zooms over the photo, so every frame holds the face at a different
place and size; nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def astronaut_frames(n_frames: int = 90, size: tuple[int, int] = (640, 360)) -> list[np.ndarray]:
    """BGR frames panning and zooming over the astronaut photo."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)  # 512 x 512, face near (x 170-260, y 70-190)
    width, height = size
    frames = []
    for i in range(n_frames):
        t = i / max(n_frames - 1, 1)
        zoom = 1.0 + 0.5 * np.sin(np.pi * t)  # 1.0 -> 1.5 -> 1.0
        crop_h = int(400 / zoom)
        crop_w = min(int(crop_h * width / height), 512)
        cx = int(215 + 40 * np.sin(2 * np.pi * t))
        cy = int(150 + 20 * np.cos(2 * np.pi * t))
        x0 = int(np.clip(cx - crop_w // 2, 0, 512 - crop_w))
        y0 = int(np.clip(cy - crop_h // 2, 0, 512 - crop_h))
        frames.append(cv2.resize(photo[y0:y0 + crop_h, x0:x0 + crop_w], size, interpolation=cv2.INTER_LINEAR))
    return frames


def write_video(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 15.0) -> Path:
    """Frames to an MP4 (mp4v) file with OpenCV's VideoWriter."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    try:
        if not writer.isOpened():
            raise OSError(f"cannot write video {path}")
        for frame in frames:
            writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
    return path


def make_astronaut_video(path: str | os.PathLike, seconds: float = 6.0, fps: float = 15.0,
                         size: tuple[int, int] = (640, 360)) -> Path:
    return write_video(astronaut_frames(int(seconds * fps), size), path, fps)
