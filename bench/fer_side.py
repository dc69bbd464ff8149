"""fer's side of the comparison: loading ``fer.fer.FER(mtcnn=False)`` (its Haar detector and its bundled model)
and running it as its own ``detect_emotions`` and ``find_faces`` do.

fer is optional (``make bench`` installs it); every script takes --no-fer and measures ferstream alone.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from typing import Iterable

import cv2
import numpy as np

#: fer's model input side
FER_SIZE = 64


def fer_version() -> str:
    try:
        from importlib.metadata import version

        return version("fer")
    except Exception:  # noqa: BLE001 - only informative
        return "not installed"


def load_fer(args: argparse.Namespace, **options):
    """``fer.fer.FER(mtcnn=False, **options)`` (its Haar detector and its bundled model), or None with --no-fer.

    Fails with what to do when fer cannot be imported and --no-fer was not given.
    """
    if args.no_fer:
        return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = logging.getLogger().level
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fer.fer import FER

            detector = FER(mtcnn=False, **options)
    except ImportError as exc:
        raise SystemExit(f"bench: fer cannot be imported ({exc}): `make bench` installs it "
                         "(pip install '.[bench]' && pip install --no-deps fer), or pass --no-fer") from exc
    finally:
        logging.getLogger().setLevel(level)  # fer.fer calls logging.basicConfig(level=INFO) on import
    return detector


def detect_all(fer, frames: Iterable[np.ndarray]) -> tuple[list[list[dict]], float]:
    """fer's ``detect_emotions`` on every frame (each frame's faces: ``box`` and ``emotions``), and the seconds
    taken, the frames' decoding included when ``frames`` decodes them."""
    found = []
    start = time.perf_counter()
    for frame in frames:
        found.append(fer.detect_emotions(frame))
    return found, time.perf_counter() - start


def boxes(faces: list[dict]) -> np.ndarray:
    """The boxes (x, y, w, h) of one frame's faces as ``detect_emotions`` gives them."""
    return np.asarray([f["box"] for f in faces], float).reshape(-1, 4)


def find_faces(fer, bgr: np.ndarray) -> np.ndarray:
    """fer's Haar detection on a full BGR frame (``FER.find_faces``, the first step of ``detect_emotions``)."""
    return np.asarray(fer.find_faces(bgr), dtype=np.float64).reshape(-1, 4)


def labels_on_boxes(fer, images: Iterable[np.ndarray], face_boxes: Iterable[tuple[int, int, int, int]]) -> list[str]:
    """fer's label of each face on the box given (its own crop and model), ``none`` where it gives none."""
    out = []
    for image, box in zip(images, face_boxes):
        found = fer.detect_emotions(image, face_rectangles=[box])
        out.append(max(found[0]["emotions"], key=found[0]["emotions"].get) if found else "none")
    return out


def model_inputs(fer, faces48: np.ndarray) -> np.ndarray:
    """48x48 crops as fer feeds its model: resized to 64x64 (cv2.resize, as detect_emotions), its own scaling
    ((x / 255 - 0.5) * 2, its name-mangled static method)."""
    resized = np.stack([cv2.resize(f, (FER_SIZE, FER_SIZE)) for f in faces48]) if len(faces48) else \
        np.zeros((0, FER_SIZE, FER_SIZE), np.uint8)
    return fer._FER__preprocess_input(resized, True)

