"""Face detection: OpenCV's Haar cascade on grey frames."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ferstream.emotion_model import FACE_SIZE
from ferstream.errors import ModelError

#: the cascade shipped inside opencv-python(-headless) 4.x
CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: detectMultiScale parameters, chosen on the footage in shared/media
DEFAULT_SCALE_FACTOR = 1.1
DEFAULT_MIN_NEIGHBORS = 5
#: smallest face, as a fraction of the frame's shorter side (and never under 24 px)
DEFAULT_MIN_FACE_FRACTION = 0.08
#: frames wider than this are scaled down for detection only (crops still come from the analysis frame)
DEFAULT_DETECT_WIDTH = 640


@dataclass
class FaceDetector:
    scale_factor: float = DEFAULT_SCALE_FACTOR
    min_neighbors: int = DEFAULT_MIN_NEIGHBORS
    min_face_fraction: float = DEFAULT_MIN_FACE_FRACTION
    detect_width: int = DEFAULT_DETECT_WIDTH

    def __post_init__(self) -> None:
        path = cv2.data.haarcascades + CASCADE_FILE
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelError(f"cannot load the Haar cascade {path}")

    def detect(self, grey: np.ndarray) -> np.ndarray:
        """Boxes (N x 4: x, y, w, h) of the faces in a grey frame, in its own pixels."""
        h, w = grey.shape[:2]
        scale = w / self.detect_width if self.detect_width and w > self.detect_width else 1.0
        small = cv2.resize(grey, (self.detect_width, round(h / scale)), interpolation=cv2.INTER_AREA) if scale > 1 else grey
        side = max(24, int(min(small.shape[:2]) * self.min_face_fraction))
        boxes = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(side, side))
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return np.rint(boxes * scale).astype(np.int32) if scale > 1 else boxes.astype(np.int32)


def crop_faces(grey: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The faces at ``boxes`` as N x 48 x 48 uint8 crops, the input of the emotion model."""
    crops = np.empty((len(boxes), FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        crops[i] = cv2.resize(grey[y:y + h, x:x + w], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return crops
