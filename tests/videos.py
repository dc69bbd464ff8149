"""Videos for tests, built at run time from images that scikit-image ships."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ferstream.demo import write_video


def no_face_video(path: Path, n_frames: int = 20, fps: float = 10.0) -> Path:
    """A pan over skimage's coffee-cup photo: real camera footage with no face."""
    from skimage import data

    photo = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)  # 400 x 600
    frames = [cv2.resize(photo[20:380, 10 + 4 * i:490 + 4 * i], (640, 360)) for i in range(n_frames)]
    return write_video(frames, path, fps)


def multi_face_frame(faces: int = 3) -> np.ndarray:
    """A 960x360 BGR frame with ``faces`` copies of the astronaut's head side by side."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    head = cv2.resize(photo[20:260, 105:345], (300, 300))
    frame = np.full((360, 320 * faces, 3), 40, np.uint8)
    for i in range(faces):
        frame[30:330, 320 * i + 10:320 * i + 310] = head
    return frame


def multi_face_video(path: Path, n_frames: int = 10, fps: float = 10.0, faces: int = 3) -> Path:
    frame = multi_face_frame(faces)
    return write_video([np.roll(frame, 2 * i, axis=1) for i in range(n_frames)], path, fps)


def truncated_video(src_frames: list[np.ndarray], path: Path, keep: float = 0.5, fps: float = 15.0) -> Path:
    """An MJPEG AVI cut part-way: its first frames decode, the rest is gone (a corrupt tail)."""
    full = path.with_name(path.stem + "-full.avi")
    write_video_avi(src_frames, full, fps)
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_video_avi(frames, path: Path, fps: float) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path
