"""The face detectors, picked by name (``--detector``, ``FERSTREAM_DETECTOR``): one registry line each.

Every detector takes grey frames and returns N x 4 int32 boxes (x, y, w, h) framed as the
Haar cascade frames a face (the framing the emotion model was trained on):

- ``detect(grey)``: one frame, scanned in full;
- ``detect_many(greys)``: several frames scanned in full (batched where the detector can);
- ``detect_near(grey, previous)``: only the neighbourhood of faces found in the frame before.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ferstream.errors import ConfigError
from ferstream.settings import DETECTORS as NAMES


class Detector(Protocol):
    name: str
    crop_margin: float  # the emotion model's crop: the box grown by this share of its side (worker.detector.crop_faces)

    def detect(self, grey: np.ndarray) -> np.ndarray: ...

    def detect_many(self, greys: list[np.ndarray]) -> list[np.ndarray]: ...

    def detect_near(self, grey: np.ndarray, previous: np.ndarray) -> np.ndarray: ...


def _haar(min_face: float) -> Detector:
    from ferstream.worker.detector import FaceDetector

    return FaceDetector(min_face=min_face)


def _blazeface(min_face: float) -> Detector:
    from ferstream.worker.blazeface import BlazeFaceDetector

    return BlazeFaceDetector(min_face=min_face)


#: name -> factory taking the smallest wanted face (fraction of the frame's shorter side)
REGISTRY: dict[str, Callable[[float], Detector]] = {"haar": _haar, "blazeface": _blazeface}
assert tuple(REGISTRY) == NAMES, "ferstream.settings.DETECTORS names the detectors of this registry"


def make_detector(name: str, min_face: float) -> Detector:
    """The detector called ``name``; ``ConfigError`` listing the known names for any other."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown detector {name!r}: choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](min_face)
