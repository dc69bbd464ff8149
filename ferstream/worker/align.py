"""Aligned face crops: the 48x48 crop framed as FER-2013 frames its faces, from BlazeFace's keypoints.

FER-2013's faces are centred and upright, the eyes level at about 0.39 of the height and the mouth at about 0.77
(BlazeFace's keypoints on 557 PublicTest faces, medians: ``FER2013_EYES_Y`` and the rest below). A detector's box
on a tilted, turned or laughing face does not frame it so: the head stays tilted, the box cuts the chin or the
mouth. ``aligned_crops`` rotates each face so that its eyes are level and scales and centres it so that its eyes
and mouth land where FER-2013's do, zoomed out by ``zoom`` (context around the face, as the box crop's margin).

The face's size is read from the eyes-to-mouth distance and from the distance between the eyes, whichever is
larger against FER-2013's: a turned face keeps the first, a face looking up or down keeps the second.
Faces without keypoints (the Haar cascade) keep the box crop (``detector.crop_faces``).
"""

from __future__ import annotations

import cv2
import numpy as np

from ferstream.emotion_model import FACE_SIZE

#: where FER-2013's faces have their features, as shares of the 48x48 crop (BlazeFace's keypoints on 557 PublicTest
#: faces, medians; measured with the detector's short-range model on each face upscaled in a padded canvas)
FER2013_EYES_Y = 0.392
FER2013_CENTRE_X = 0.502  # the middle of the eyes' centre and the mouth
FER2013_EYES_TO_MOUTH = 0.382
FER2013_EYE_DISTANCE = 0.362
FER2013_MOUTH_Y = FER2013_EYES_Y + FER2013_EYES_TO_MOUTH
#: the crop shows this many times FER-2013's framing around the face (1: FER-2013's own). Chosen on the tune part
#: of the real-footage set (bench/real_emotions.py --align --split tune --zoom Z; models/README.md, "Aligned crops")
DEFAULT_ZOOM = 1.2


def zoom_for(metadata) -> float:
    """The zoom of a model's aligned crops: its metadata's for a model of aligned crops, else ``DEFAULT_ZOOM``."""
    return metadata.zoom if metadata.crop != "box" else DEFAULT_ZOOM


def to_align(points: np.ndarray, crop: str) -> np.ndarray:
    """Which of the faces whose keypoints are ``points`` (N x 6 x 2) a model of ``crop`` (``ModelMetadata.crop``)
    reads aligned: every one for ``aligned``, the frontal ones (``quality.frontal``) for ``aligned-frontal``, none
    for ``box``."""
    if crop == "aligned-frontal":
        from ferstream.worker.quality import frontal  # quality reads this module's FER-2013 template

        return frontal(points)
    return np.full(len(points), crop == "aligned")


def alignment(points: np.ndarray, zoom: float = DEFAULT_ZOOM, size: int = FACE_SIZE) -> np.ndarray:
    """The 2x3 affine matrix taking a face's frame pixels to its aligned ``size`` crop, from its keypoints (6 x 2:
    right eye, left eye, nose, mouth, right ear, left ear; frame pixels)."""
    right_eye, left_eye, mouth = points[0].astype(np.float64), points[1].astype(np.float64), points[3].astype(np.float64)
    eyes = (right_eye + left_eye) / 2
    dx, dy = left_eye - right_eye
    angle = np.arctan2(dy, dx) if np.hypot(dx, dy) > 1e-6 else 0.0
    face = max(np.hypot(*(mouth - eyes)) / FER2013_EYES_TO_MOUTH, np.hypot(dx, dy) / FER2013_EYE_DISTANCE, 1e-6)
    scale = size / (face * zoom)
    cos, sin = np.cos(-angle) * scale, np.sin(-angle) * scale
    rotate = np.array([[cos, -sin], [sin, cos]])
    centre = (eyes + mouth) / 2  # maps to the template's centre, moved towards the crop's by the zoom
    target = size / 2 + (np.array([FER2013_CENTRE_X, (FER2013_EYES_Y + FER2013_MOUTH_Y) / 2]) * size - size / 2) / zoom
    return np.hstack([rotate, (target - rotate @ centre)[:, None]])


def aligned_crops(grey: np.ndarray, points: np.ndarray, zoom: float = DEFAULT_ZOOM) -> np.ndarray:
    """N x 48 x 48 uint8 crops of the faces whose keypoints are ``points`` (N x 6 x 2, frame pixels), each aligned
    (``alignment``); pixels beyond the frame repeat its edge. A large face is shrunk by halvings first (no aliasing)."""
    crops = np.empty((len(points), FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    for i, p in enumerate(points):
        matrix = alignment(p, zoom)
        scale = float(np.hypot(*matrix[:, 0]))
        if scale < 0.5:  # halve the neighbourhood until the warp shrinks it at most by half
            crops[i] = _shrunk_then_warped(grey, matrix, scale)
        else:
            crops[i] = cv2.warpAffine(grey, matrix, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE)
    return crops


def _shrunk_then_warped(grey: np.ndarray, matrix: np.ndarray, scale: float) -> np.ndarray:
    """The warp of a face much larger than the crop: its neighbourhood halved (``pyrDown``: a Gaussian, no aliasing)
    until the rest of the way is at most a halving, then warped."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [FACE_SIZE, 0, 1], [0, FACE_SIZE, 1], [FACE_SIZE, FACE_SIZE, 1]], np.float64)
    frame_corners = corners @ inverse.T
    h, w = grey.shape[:2]
    x0, y0 = np.floor(frame_corners.min(axis=0)).astype(int) - 4
    x1, y1 = np.ceil(frame_corners.max(axis=0)).astype(int) + 4
    region = grey[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        region = cv2.copyMakeBorder(region, max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0),
                                    cv2.BORDER_REPLICATE)
    factor = 1.0
    while scale / factor < 0.5 and min(region.shape[:2]) >= 4:
        small = cv2.pyrDown(region)
        factor *= small.shape[1] / region.shape[1]
        region = small
    # frame -> region (shifted by x0, y0, then scaled by factor); the crop = matrix @ frame = warp @ region
    to_region = np.array([[factor, 0, -x0 * factor], [0, factor, -y0 * factor], [0, 0, 1]])
    warp = matrix @ np.linalg.inv(to_region)
    return cv2.warpAffine(region, warp, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
