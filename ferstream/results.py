"""The types that pass between stages: sampled frames, chunks of them, faces found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass
class Frame:
    """One sampled frame: grey, possibly scaled down by ``scale`` from the source."""

    index: int  # frame number in the source (0-based, counts every decoded frame)
    timestamp: float  # media time in seconds
    image: np.ndarray  # H x W uint8 grey
    captured_at: datetime | None = None  # wall-clock time, live sources only
    scale: float = 1.0  # source pixels per analysed pixel

    def __post_init__(self) -> None:
        if self.image.ndim != 2 or self.image.dtype != np.uint8:
            raise ValueError(f"frame {self.index}: image must be a 2-D uint8 grey array, got {self.image.dtype} {self.image.shape}")


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

    def __post_init__(self) -> None:
        if len(self.boxes) != len(self.probabilities):
            raise ValueError(f"frame {self.frame.index}: {len(self.boxes)} boxes but {len(self.probabilities)} probability rows")

    def __len__(self) -> int:
        return len(self.boxes)
