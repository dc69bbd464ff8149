"""Still photos: decoded by their content, and made into the one frame the worker analyses.

One path for every way a photo comes in (``ferstream analyze photo.jpg``, ``ferstream.analyze``, ``POST
/v1/analyze``, an uploaded photo): the same decoder (OpenCV's image codecs, which turn a photo as its EXIF
orientation says; never FFmpeg, whose colour conversion differs), the same grey frame scaled by the same rule,
so a photo gives the same faces and probabilities whichever way it came.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ferstream.errors import VideoError
from ferstream.results import Chunk, Frame
from ferstream.settings import Settings
from ferstream.ingest.video import analysis_scale, to_analysis_frame


def decode_photo(data: bytes) -> np.ndarray | None:
    """A BGR image from an encoded photo (JPEG, PNG, WebP, BMP, TIFF...), or None when it is not one."""
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None


def read_photo(path: str | Path) -> np.ndarray:
    """The BGR image of a photo file; ``VideoError`` when there is none or it is not a photo."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    image = decode_photo(path.read_bytes())
    if image is None:
        raise VideoError(f"{path}: not an image OpenCV can read")
    return image


def photo_chunk(image: np.ndarray, settings: Settings, source_id: int = 0) -> Chunk:
    """The chunk of one frame the worker analyses for a photo: grey, scaled down as ingest scales a video's frames
    (``settings.analysis_width``, never below ``settings.min_face``)."""
    height, width = image.shape[:2]
    scale = analysis_scale(width, settings.analysis_width, height, settings.min_face)
    return Chunk(source_id, 0, [Frame(0, 0.0, to_analysis_frame(image, scale), None, scale)])
