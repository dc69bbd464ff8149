"""FER-2013's and FER+'s 48x48 faces aligned as the worker aligns a real face (``worker.align``).

A model that reads aligned faces (its metadata's ``crop`` is ``aligned``) learns and is scored on faces framed the
way the worker will frame real ones: eyes level, eyes and mouth where FER-2013 has them, at the model's zoom.
BlazeFace's keypoints are found on each face scaled up ``UPSCALE`` times in a padded canvas (a 48-pixel face is
below the detector's smallest), brought back to the face's pixels, and the face is warped from its own pixels (no
resampling twice). A face with no keypoints keeps its own crop, as a face the worker finds without keypoints keeps
its box crop. About 98% of FER+'s faces and 94% of FER-2013's (JPEG-encoded) get keypoints.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import cv2
import numpy as np

from ferstream.errors import DataError
from ferstream.training.data import Dataset

log = logging.getLogger(__name__)

#: each face is scaled up this many times and padded by half its new side before BlazeFace looks at it
UPSCALE = 4
#: faces between two progress lines
CHUNK = 4000


def align_faces(faces: np.ndarray, zoom: float, detector=None,
                crop: str = "aligned") -> tuple[np.ndarray, np.ndarray]:
    """N x 48 x 48 uint8 faces, each aligned at ``zoom`` as a model of ``crop`` reads it (``worker.align.to_align``:
    every face with keypoints, or the frontal ones); the faces and which of them were aligned."""
    from ferstream.worker.align import aligned_crops, to_align
    from ferstream.worker.blazeface import BlazeFaceDetector

    detector = detector or BlazeFaceDetector(min_face=0.1)
    side = faces.shape[1] * UPSCALE
    pad = side // 2
    out, found = faces.copy(), np.zeros(len(faces), bool)
    for i, face in enumerate(faces):
        canvas = cv2.copyMakeBorder(cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC),
                                    pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        points = detector.detect_near_keypoints(canvas, np.array([[pad, pad, side, side]]))[1]
        if len(points) and to_align(points[:1], crop)[0]:
            out[i] = aligned_crops(face, (points[:1] - pad) / UPSCALE, zoom)[0]
            found[i] = True
    return out, found


def framed_faces(faces: np.ndarray, metadata) -> np.ndarray:
    """FER's 48x48 faces framed as a model of ``metadata`` (``ModelMetadata``) reads them: as they are for a model
    of box crops, else aligned as ``align_faces`` aligns them (as the worker crops real faces for it)."""
    if metadata.crop == "box":
        return faces
    return align_faces(faces, metadata.zoom, crop=metadata.crop)[0]


def framed(data: Dataset, crop: str, zoom: float, splits=None) -> Dataset:
    """``data`` framed as a model with ``crop`` and ``zoom`` reads its faces: as it is, or aligned (only ``splits``,
    where given: the others are left out); a ``DataError`` where its faces are already framed otherwise."""
    if crop == data.crop and (crop == "box" or zoom == data.zoom):
        return data
    if data.crop != "box":
        raise DataError(f"{data.source}: its faces are {data.crop} at zoom {data.zoom:g}; they cannot be framed again "
                        f"as {crop}{f' at zoom {zoom:g}' if crop != 'box' else ''}: load them again")
    return aligned_dataset(data, zoom, splits, crop)


def aligned_dataset(data: Dataset, zoom: float, splits=None, crop: str = "aligned") -> Dataset:
    """``data`` with each split's faces (only ``splits``, where given) aligned at ``zoom`` as a model of ``crop``
    reads them (``align_faces``; labels and votes unchanged), with a log line a split."""
    from ferstream.worker.blazeface import BlazeFaceDetector

    detector, aligned = BlazeFaceDetector(min_face=0.1), {}
    for name, split in data.splits.items():
        if splits is not None and name not in splits:
            continue
        start, parts = time.monotonic(), []
        for lo in range(0, len(split.faces), CHUNK):
            parts.append(align_faces(split.faces[lo:lo + CHUNK], zoom, detector, crop))
            if len(split.faces) > CHUNK:
                log.info("aligning %s: %d of %d faces", name, min(lo + CHUNK, len(split.faces)), len(split.faces))
        faces = np.concatenate([p[0] for p in parts]) if parts else split.faces
        found = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, bool)
        log.info("%s: %d of %d faces aligned at zoom %g (the rest keep their crop%s), %.0f s", name, found.sum(),
                 len(found), zoom, ": no keypoints, or turned" if crop == "aligned-frontal" else "",
                 time.monotonic() - start)
        aligned[name] = replace(split, faces=faces)
    return Dataset(splits=aligned, sha256=data.sha256, source=data.source, crop=crop, zoom=zoom)
