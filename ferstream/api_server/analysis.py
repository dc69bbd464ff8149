"""Photos analysed now, in the server's process: decoded by their content (never their name), checked against the
limits, then through the path every photo takes (``ingest.photos``): the same decoder, the frame the worker sees
(grey, scaled as ingest scales it, through the queue's JPEG codec), the same detector and model
(``worker.runtime``), the same smallest face as the CLI and the Python API (``settings.photo_min_face``). So a photo
gives the same faces and probabilities here as ``ferstream analyze photo`` and ``ferstream.analyze(photo)``.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ferstream.api_server.problems import ApiProblem
from ferstream.settings import Settings, photo_min_face

#: analyzers kept (one per detector and smallest face; photo sizes vary): the oldest goes past this many
KEPT_ANALYZERS = 8


@dataclass
class PhotoFaces:
    width: int
    height: int
    boxes: np.ndarray
    probabilities: np.ndarray
    labels: tuple[str, ...]
    quality: np.ndarray | None = None  # per face, 0..1 (NaN: not measured)
    uncertain: np.ndarray | None = None  # per face: kept, but its emotion not to be trusted


def decode_photo(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    """A BGR image from an encoded photo (JPEG, PNG, WebP, BMP, TIFF...), by its content; 422 for anything that is
    not one, 413 past ``max_pixels`` (read from its header, before the pixels are decoded)."""
    from PIL import Image, UnidentifiedImageError

    from ferstream.ingest.photos import decode_photo as decoded

    if not data:
        raise ApiProblem(422, "Unprocessable content", f"{what} is empty")
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        width = height = None
    if width is not None and width * height > max_pixels:
        raise ApiProblem(413, "Content too large", f"{what} is {width}x{height} pixels: at most {max_pixels:,} pixels "
                         "are accepted")
    image = decoded(data) if width is not None else None
    if image is None:
        raise ApiProblem(422, "Unprocessable content", f"{what} is not an image that can be decoded (JPEG, PNG, WebP, "
                         "BMP or TIFF)")
    if min(image.shape[:2]) < 8:
        raise ApiProblem(422, "Unprocessable content", f"{what} is {image.shape[1]}x{image.shape[0]} pixels: at least "
                         "8x8 are needed")
    return image


class PhotoAnalyzer:
    """The worker's runtime (model loaded once), for photos; one photo at a time (the models are not thread-safe)."""

    def __init__(self, settings: Settings, min_face: float | None = None):
        from ferstream.worker.runtime import Runtime

        self.settings = settings
        self.min_face = min_face
        self.runtime = Runtime(settings)
        self._lock = threading.Lock()
        self._analyzers: OrderedDict = OrderedDict()

    def load(self) -> None:
        """Load the model and the default detector now (a bad --model fails before the server listens)."""
        with self._lock:
            self._analyzer(self.settings.min_face)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.runtime.model.labels

    def analyze(self, image: np.ndarray) -> PhotoFaces:
        from ferstream.codec import as_queued
        from ferstream.ingest.photos import photo_chunk

        height, width = image.shape[:2]
        min_face = self.min_face or photo_min_face(width, height)
        chunk = photo_chunk(image, self.settings.with_(min_face=min_face))
        (frame,) = as_queued(chunk, self.settings.jpeg_quality).frames
        with self._lock:
            (result,) = self._analyzer(min_face).analyze([frame])
        return PhotoFaces(width, height, result.boxes, result.probabilities, self.labels, result.quality, result.uncertain)

    def _analyzer(self, min_face: float):
        key = (self.settings.detector, min_face)
        if key in self._analyzers:
            self._analyzers.move_to_end(key)
        else:
            self._analyzers[key] = self.runtime.new_analyzer(*key)
            while len(self._analyzers) > KEPT_ANALYZERS:
                self._analyzers.popitem(last=False)
        return self._analyzers[key]
