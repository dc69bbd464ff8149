"""Face quality, and the faces whose emotion is not to be trusted ("uncertain").

A face's quality is its worst aspect, each scored in 0..1 (1: no reason for doubt):

- **pose**: how frontal it is, from BlazeFace's keypoints: the worse of the eyes' distance against the eyes-to-mouth
  distance (against FER-2013's ratio: a face turned to profile shows its eyes close together) and the yaw read from
  the nose tip's offset from the eyes' midpoint along the line of the eyes (a turned face's nose leaves the middle
  well before its eyes close up; a head tilted in the picture's plane is not turned); 1 without keypoints;
- **sharpness**: the variance of the Laplacian of its 48x48 crop (motion blur and focus);
- **light**: the brightness and the contrast of the crop (dark, burnt-out and flat faces);
- **size**: the side of its box in source pixels (a 20 px face has little to read).

A face is **uncertain** when its quality is below ``DEFAULT_MIN_QUALITY`` or the model's confidence in its label
(the highest probability) is below ``DEFAULT_MIN_CONFIDENCE``: it is kept, with its label and probabilities, but left
out of distributions, summaries and track smoothing unless the user asks for everything. Both thresholds were
chosen on the tune part of the real-footage set and judged on its judging part (bench/real_quality.py;
models/README.md, "Face quality").
"""

from __future__ import annotations

import cv2
import numpy as np

from ferstream.worker.align import FER2013_EYE_DISTANCE, FER2013_EYES_TO_MOUTH

#: frontal faces (FER-2013's, medians) have eyes this far apart against their eyes-to-mouth distance
FRONTAL_RATIO = FER2013_EYE_DISTANCE / FER2013_EYES_TO_MOUTH
#: a face scores 0 on pose at this share of the frontal ratio (about 70 degrees of yaw), 1 from ``POSE_FULL`` up
POSE_ZERO, POSE_FULL = 0.35, 0.75
#: yaw, as the nose tip's sideways offset from the eyes' midpoint in eye distances: pose 1 up to ``YAW_FULL``, 0 from
#: ``YAW_ZERO`` (the real set's tune part: faces not turned below 0.22 for seven in eight, turned ones 0.35 to 0.55)
YAW_FULL, YAW_ZERO = 0.25, 0.6
#: variance of the Laplacian of the 48x48 crop: sharpness 0 at ``SHARP_ZERO``, 1 from ``SHARP_FULL`` (FER-2013's
#: faces: 1,660 for the least sharp hundredth; the real-footage set's aligned crops: 269 for theirs, 1,693 median)
SHARP_ZERO, SHARP_FULL = 50.0, 400.0
#: brightness (mean grey level) scores 1 between these, 0 at black and white
DARK_FULL, BRIGHT_FULL = 40.0, 215.0
#: contrast (standard deviation of the grey levels): 0 at ``FLAT_ZERO``, 1 from ``CONTRAST_FULL`` (the real-footage
#: set's crops: 27 for the flattest hundredth, 53 median)
FLAT_ZERO, CONTRAST_FULL = 5.0, 25.0
#: box side in source pixels: 0 at ``SIZE_ZERO``, 1 from ``SIZE_FULL``
SIZE_ZERO, SIZE_FULL = 12.0, 36.0
#: below this quality a face is uncertain
DEFAULT_MIN_QUALITY = 0.3
#: below this confidence (highest probability) a face is uncertain
DEFAULT_MIN_CONFIDENCE = 0.45
ASPECTS = ("pose", "sharpness", "light", "size")


def _ramp(value: np.ndarray, zero: float, full: float) -> np.ndarray:
    return np.clip((np.asarray(value, np.float64) - zero) / (full - zero), 0.0, 1.0)


def pose_scores(points: np.ndarray) -> np.ndarray:
    """How frontal each face is, in 0..1, from its keypoints (N x 6 x 2): the worse of its eyes' distance against its
    eyes-to-mouth distance and its yaw (the pose aspect of ``aspects``)."""
    points = np.asarray(points, np.float64).reshape(-1, 6, 2)
    eyes = np.linalg.norm(points[:, 1] - points[:, 0], axis=1)
    mouth = np.linalg.norm(points[:, 3] - (points[:, 0] + points[:, 1]) / 2, axis=1)
    ratio = eyes / np.maximum(mouth, 1e-6) / FRONTAL_RATIO
    # yaw: the nose tip's distance from the eyes' midpoint along the line of the eyes, in eye distances (0 frontal;
    # along that line, not the picture's rows, so that a head tilted in the picture's plane is not read as turned)
    along = np.sum((points[:, 2] - (points[:, 0] + points[:, 1]) / 2) * (points[:, 1] - points[:, 0]), axis=1)
    yaw = np.abs(along) / np.maximum(eyes, 1e-6) ** 2
    return np.minimum(_ramp(ratio, POSE_ZERO, POSE_FULL), 1.0 - _ramp(yaw, YAW_FULL, YAW_ZERO))


def frontal(points: np.ndarray) -> np.ndarray:
    """Which faces are frontal: pose 1 (``pose_scores``: yaw at most ``YAW_FULL``, the eyes at least ``POSE_FULL`` of
    FER-2013's ratio apart)."""
    return pose_scores(points) >= 1.0


def aspects(crops: np.ndarray, sides: np.ndarray, points: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each aspect's score (N values in 0..1) for N 48x48 crops, their boxes' sides in source pixels and, where the
    detector gives them, their keypoints (N x 6 x 2)."""
    n = len(crops)
    pose = pose_scores(points) if points is not None and len(points) else np.ones(n)
    flat = crops.reshape(n, -1).astype(np.float64)
    sharp = np.array([cv2.Laplacian(c, cv2.CV_64F).var() for c in crops]) if n else np.zeros(0)
    mean, std = flat.mean(axis=1) if n else np.zeros(0), flat.std(axis=1) if n else np.zeros(0)
    light = np.minimum(np.minimum(_ramp(mean, 0, DARK_FULL), _ramp(255 - mean, 0, 255 - BRIGHT_FULL)),
                       _ramp(std, FLAT_ZERO, CONTRAST_FULL))
    return {"pose": pose, "sharpness": _ramp(sharp, SHARP_ZERO, SHARP_FULL), "light": light,
            "size": _ramp(sides, SIZE_ZERO, SIZE_FULL)}


def quality(crops: np.ndarray, sides: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """Each face's quality in 0..1: its worst aspect (``aspects``), float32."""
    if not len(crops):
        return np.zeros(0, np.float32)
    return np.min(np.stack(list(aspects(crops, sides, points).values())), axis=0).astype(np.float32)


def uncertain(qualities: np.ndarray, probabilities: np.ndarray, min_quality: float = DEFAULT_MIN_QUALITY,
              min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> np.ndarray:
    """Which faces are uncertain: quality below ``min_quality`` or the model's highest probability below
    ``min_confidence``."""
    if not len(qualities):
        return np.zeros(0, bool)
    return (np.asarray(qualities) < min_quality) | (np.asarray(probabilities).max(axis=1) < min_confidence)
