"""The data the benchmarks read: the shared footage and its frames, clips made from it at run time, FER-2013.

Where each lives by default (beside the repository, as the tests find it), how a frame or a photo is read, and
how a clip is scaled, cut or looped into a new MP4 (OpenCV's VideoWriter, mp4v) in the run's folder.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: the real footage (shared/media beside the repository), as the tests find it
DEFAULT_MEDIA = Path(os.environ.get("FERSTREAM_MEDIA", REPO.parent / "shared" / "media"))
#: FER-2013 with its Training and PublicTest splits
DEFAULT_FER2013 = Path(os.environ.get(
    "FERSTREAM_FER2013", REPO.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"))
#: where results and crops go by default (git ignores runs/)
DEFAULT_OUT = REPO / "runs" / "bench"
#: the hand-made labels of the footage and of the real-footage set
LABELS = Path(__file__).resolve().parent / "labels"
#: the clip the throughput, scale-out, cost and memory figures are measured on
CLIP = "WolfgangLanger_Pexels.mp4"
#: frame heights measured: the clip's native 640x360, and scaled up
HEIGHTS = (360, 720, 1080)
#: frames per clip in a --quick (smoke) run
QUICK_FRAMES = 4
#: file suffixes read as still photos rather than videos
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def media_file(args: argparse.Namespace, name: str) -> Path:
    path = args.media / name
    if not path.exists():
        raise SystemExit(f"bench: {path} not found (--media points at the shared footage)")
    return path


# --- frames ------------------------------------------------------------------------------------

@dataclass
class ClipInfo:
    width: int
    height: int
    fps: float
    frames: int


def clip_info(path: Path) -> ClipInfo:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise FileNotFoundError(f"{path}: not a readable video")
        return ClipInfo(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        cap.get(cv2.CAP_PROP_FPS) or 25.0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        cap.release()


def read_frames(path: Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decoded BGR frames of a video, in order."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        n = 0
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()


def is_photo(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def read_frame(path: Path, index: int = 0) -> np.ndarray | None:
    """A photo (BGR), or frame ``index`` of a video, read up to it (seeking lands on other frames in some
    containers); None where it cannot be read."""
    if is_photo(path):
        return cv2.imread(str(path), cv2.IMREAD_COLOR)
    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(index):
            cap.grab()
        ok, frame = cap.read()
    finally:
        cap.release()
    return frame if ok else None


def frames_of(path: Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """A photo as one frame, or a video's frames."""
    if is_photo(path):
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"bench: cannot read {path}")
        yield image
    else:
        yield from read_frames(path, limit)


def decode_rate(path: Path) -> tuple[int, float]:
    """Frames decoded and seconds taken, decoding every frame to BGR (the ceiling of any analysis)."""
    start, n = time.perf_counter(), 0
    for _ in read_frames(path):
        n += 1
    return n, time.perf_counter() - start


# --- clips made at run time ----------------------------------------------------------------------

def write_video(path: Path, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int] | None = None) -> Path:
    """``frames`` (BGR, ``size`` = (width, height), or the first frame's) as an MP4 (mp4v) at ``path``."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise OSError(f"no frames to write to {path}")
    size = size or (first.shape[1], first.shape[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    try:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def make_clip(src: Path, folder: Path, height: int | None = None, frames: int | None = None, loops: int = 1) -> Path:
    """``src`` scaled to ``height`` (same aspect), cut to ``frames``, played ``loops`` times, as MP4 (mp4v).

    Written with OpenCV's VideoWriter into ``folder`` (cached there by name); the
    source itself when nothing changes.
    """
    info = clip_info(src)
    height = height or info.height
    if height == info.height and frames is None and loops == 1:
        return src
    width = round(info.width * height / info.height / 2) * 2
    path = folder / f"{src.stem}-{height}p-{frames or 'all'}f-x{loops}.mp4"
    if path.exists():
        return path
    part = path.with_name(path.stem + ".part.mp4")

    def scaled() -> Iterator[np.ndarray]:
        for _ in range(loops):
            for frame in read_frames(src, frames):
                yield frame if frame.shape[0] == height else cv2.resize(frame, (width, height),
                                                                        interpolation=cv2.INTER_LINEAR)

    write_video(part, scaled(), info.fps, (width, height))
    part.rename(path)
    return path


# --- FER-2013 ------------------------------------------------------------------------------------

def fer2013_split(path: Path, split: str):
    """One split of FER-2013 (or of FER+, with its votes) as ``training.data.load_dataset`` reads it."""
    from ferstream.training.data import load_dataset

    data = load_dataset(path)
    data.require(split)
    return data.splits[split]
