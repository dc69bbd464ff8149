"""The types that pass between stages: sampled frames, chunks of them, faces found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import numpy as np


@dataclass
class Frame:
    """One sampled frame: grey, possibly scaled down by ``scale`` from the source."""

    index: int  # frame number in the source (0-based, counts every decoded frame)
    timestamp: float  # media time in seconds
    image: np.ndarray  # H x W uint8 grey
    captured_at: datetime | None = None  # wall-clock time, live sources only
    scale: float = 1.0  # source pixels per analysed pixel
    #: the same frame, grey, at a higher resolution than ``image`` (ingest adds it to the frames where the worker's
    #: discovery scan for small faces may be due: the first of each chunk); None on the others
    detail: np.ndarray | None = None
    #: where the copy came through the codec: its decoder, run on first use (``detailed``), so that a worker whose
    #: discovery scans back off (faces all large) does not decode copies it never reads
    detail_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def detailed(self) -> np.ndarray | None:
        """The higher-resolution copy (decoded now, where it came through the codec), or None where there is none."""
        if self.detail is None and self.detail_loader is not None:
            self.detail, self.detail_loader = self.detail_loader(), None
            self.__post_init__()
        return self.detail

    def __post_init__(self) -> None:
        if self.image.ndim != 2 or self.image.dtype != np.uint8:
            raise ValueError(f"frame {self.index}: image must be a 2-D uint8 grey array, got {self.image.dtype} {self.image.shape}")
        if self.detail is not None and (self.detail.ndim != 2 or self.detail.dtype != np.uint8
                                        or self.detail.shape[0] < self.image.shape[0]
                                        or self.detail.shape[1] < self.image.shape[1]):
            raise ValueError(f"frame {self.index}: detail must be a 2-D uint8 grey array at least as large as the image "
                             f"{self.image.shape}, got {self.detail.dtype} {self.detail.shape}")


@dataclass
class Chunk:
    """A work unit: consecutive sampled frames of one source (one RQ job)."""

    source_id: int
    index: int
    frames: list[Frame]

    @property
    def frame_range(self) -> tuple[int, int]:
        return (self.frames[0].index, self.frames[-1].index) if self.frames else (0, -1)


@dataclass
class FrameFaces:
    """The faces found in one frame: boxes in source pixels and class probabilities."""

    frame: Frame
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.int32))  # N x (x, y, w, h)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), dtype=np.float32))  # N x labels
    crops: np.ndarray | None = None  # N x 48 x 48 uint8, only when the user asks to store faces
    #: N face-quality scores in 0..1 (worker.quality: pose, sharpness, light, size); None: not measured
    quality: np.ndarray | None = None
    #: N flags: the face is kept but its emotion is not to be trusted (low quality or a model unsure of it); such faces
    #: are left out of distributions, summaries and track smoothing unless the user asks for everything
    uncertain: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.boxes) != len(self.probabilities):
            raise ValueError(f"frame {self.frame.index}: {len(self.boxes)} boxes but {len(self.probabilities)} probability rows")
        if self.quality is None:
            self.quality = np.full(len(self.boxes), np.nan, np.float32)
        if self.uncertain is None:
            self.uncertain = np.zeros(len(self.boxes), bool)
        if len(self.quality) != len(self.boxes) or len(self.uncertain) != len(self.boxes):
            raise ValueError(f"frame {self.frame.index}: {len(self.boxes)} boxes but {len(self.quality)} quality scores "
                             f"and {len(self.uncertain)} uncertain flags")

    def __len__(self) -> int:
        return len(self.boxes)
