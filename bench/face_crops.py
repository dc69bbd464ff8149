"""Faces of the real-footage set cropped as the worker crops them, and the crop levers measured before one ships.

Each face's frame is turned grey and scaled as ingest scales it (``ingest.video``), its box cropped to 48x48
(``worker.detector.crop_faces``) with the default detector's margin; or aligned on BlazeFace's keypoints
(``worker.align``); or grown, moved and contrast-normalised (levers).
"""

from __future__ import annotations

import cv2
import numpy as np

from bench.ferstream_side import analysis_frame
from bench.realset import Face, Frames

#: the smallest face ingest keeps at full size when it scales a frame down: the set's faces are small
MIN_FACE = 0.03
#: contrast normalisations of a 48x48 crop measured as levers (--normalise): none (what the worker does), a min-max
#: stretch, histogram equalisation, CLAHE
NORMALISE = {
    "none": lambda c: c,
    "stretch": lambda c: cv2.normalize(c, None, 0, 255, cv2.NORM_MINMAX),
    "equalize": cv2.equalizeHist,
    "clahe": lambda c: cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(c),
}


def normalised(crops: np.ndarray, how: str) -> np.ndarray:
    return np.stack([NORMALISE[how](c) for c in crops]) if len(crops) else crops


def widened(box: np.ndarray, margin: float, shift: float) -> np.ndarray:
    """A box grown by ``margin`` of its side on every side and moved down by ``shift`` of its side (a lever: the
    chin and the corners of the mouth inside)."""
    x, y, w, h = box.astype(np.float64)
    grow = margin * max(w, h)
    return np.array([x - grow, y - grow + shift * h, w + 2 * grow, h + 2 * grow])


def analysis_view(frames: Frames, face: Face) -> tuple[np.ndarray, float]:
    """The face's frame as ingest hands it to the worker: grey, scaled down; and the scale."""
    return analysis_frame(frames(face), MIN_FACE)


def analysis_box(box: np.ndarray, scale: float) -> np.ndarray:
    """A box in source pixels in the analysis view's pixels."""
    return np.rint(np.asarray(box, np.float64) / scale).astype(np.int32)


def _stack(crops: list[np.ndarray]) -> np.ndarray:
    return np.stack(crops) if crops else np.zeros((0, 48, 48), np.uint8)


def ferstream_crops(frames: Frames, faces: list[Face], margin: float | None = None, shift: float = 0.0) -> np.ndarray:
    """Each face's 48x48 grey crop as the worker makes it (the frame grey and scaled as ingest scales it, the box
    grown by the default detector's crop margin, or by ``margin`` and moved by ``shift``: a lever)."""
    from ferstream.worker.blazeface import CROP_MARGIN
    from ferstream.worker.detector import crop_faces

    lever = margin is not None and bool(margin or shift)
    crops = []
    for face in faces:
        grey, scale = analysis_view(frames, face)
        if not lever:
            box = analysis_box(face.box, scale)
            crops.append(crop_faces(grey, box[None], CROP_MARGIN if margin is None else margin)[0])
            continue
        box = analysis_box(widened(np.array(face.box, np.float64), margin, shift), scale)
        box[:2] = np.maximum(box[:2], 0)
        box[2] = min(box[2], grey.shape[1] - box[0])
        box[3] = min(box[3], grey.shape[0] - box[1])
        crops.append(crop_faces(grey, box[None])[0])
    return _stack(crops)


def face_keypoints(frames: Frames, faces: list[Face]) -> list[np.ndarray | None]:
    """Each face's BlazeFace keypoints (6 x 2, in the analysis view's pixels), found as the worker follows a face:
    the detector's short-range model on the labelled box's neighbourhood, the face overlapping that box most; None
    where it finds none, or where the face it finds is another labelled face of the same frame (``belongs``)."""
    from ferstream.tracks import box_iou
    from ferstream.worker.blazeface import BlazeFaceDetector

    detector = BlazeFaceDetector(min_face=MIN_FACE)
    out = []
    for face in faces:
        grey, scale = analysis_view(frames, face)
        box = analysis_box(face.box, scale)
        boxes, points = detector.detect_near_keypoints(grey, box[None])
        overlap = [box_iou(box, b) for b in boxes]
        best = int(np.argmax(overlap)) if overlap else -1
        neighbours = [analysis_box(f.box, scale) for f in faces
                      if f is not face and (f.source, f.file, f.frame) == (face.source, face.file, face.frame)]
        out.append(points[best] if best >= 0 and belongs(box, boxes[best], neighbours) else None)
    return out


def belongs(box: np.ndarray, found: np.ndarray, neighbours: list[np.ndarray]) -> bool:
    """Whether a detection (``found``, x y w h) near a labelled face's ``box`` is that face: it overlaps the box by
    more than 0.3 (intersection over union), and no other labelled face of the frame (``neighbours``) more. In a
    crowd a blurred face's detector may miss it and find its neighbour, whose keypoints would align the wrong face."""
    from ferstream.tracks import box_iou

    overlap = box_iou(box, found)
    return overlap > 0.3 and all(box_iou(n, found) <= overlap for n in neighbours)


def aligned_crops(frames: Frames, faces: list[Face], zoom: float | None = None,
                  crop: str = "aligned") -> tuple[np.ndarray, np.ndarray]:
    """Each face's crop as the worker makes it with alignment (``worker.align``) for a model of ``crop``: aligned
    where keypoints were found (and, for ``aligned-frontal``, the face is frontal), the box crop elsewhere; and which
    faces were aligned."""
    from ferstream.worker.align import DEFAULT_ZOOM, aligned_crops as align, to_align

    boxed = ferstream_crops(frames, faces)
    found = np.zeros(len(faces), bool)
    crops = boxed.copy()
    for i, (face, points) in enumerate(zip(faces, face_keypoints(frames, faces))):
        if points is not None and to_align(points[None], crop)[0]:
            grey, _ = analysis_view(frames, face)
            crops[i] = align(grey, points[None], DEFAULT_ZOOM if zoom is None else zoom)[0]
            found[i] = True
    return crops, found


def model_crops(frames: Frames, faces: list[Face], metadata, crop: str | None = None, zoom: float | None = None,
                margin: float | None = None, shift: float = 0.0) -> np.ndarray:
    """The faces cropped as the worker crops them for a model of ``metadata`` (``ModelMetadata``), unless ``crop``
    or ``zoom`` say otherwise: box crops (grown by ``margin``, moved by ``shift``), or aligned (``aligned_crops``)."""
    from ferstream.worker.align import zoom_for

    crop = crop or metadata.crop
    if crop == "box":
        return ferstream_crops(frames, faces, margin, shift)
    return aligned_crops(frames, faces, zoom or zoom_for(metadata), crop)[0]
