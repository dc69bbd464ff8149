"""Face detection: OpenCV's Haar cascade on grey frames.

The cascade's window is 24 px, so a frame is scaled down for detection until the
smallest face wanted (a fraction of the frame's shorter side) fills that window:
scanning pixels that cannot hold a wanted face is wasted time. The detection cost is
then the same at any resolution; crops still come from the analysis frame.

In a run of consecutive frames (a chunk), ``FrameSequenceDetector`` scans the whole
frame every ``rescan_s`` seconds and, in between, only the neighbourhood of the faces
of the frame before (the same cascade, at the sizes those faces can have one frame
later): a face that moves is followed, one that appears is found at the next full scan,
and a face that is lost triggers a full scan at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ferstream.emotion_model import FACE_SIZE
from ferstream.errors import ModelError
from ferstream.settings import (DEFAULT_DISCOVER_SECONDS, DEFAULT_MIN_FACE, DEFAULT_MIN_NEIGHBORS,
                                DEFAULT_RESCAN_SECONDS, DEFAULT_SCALE_FACTOR)
from ferstream.tracks import box_iou

#: the cascade shipped inside opencv-python(-headless) 4.x
CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: a followed face whose neighbourhood changed by less than this many grey levels on average (JPEG noise, a still
#: person in a gallery view) since the detector last saw it stays where it was, without a detector call
STILL_DIFFERENCE = 1.5


@dataclass
class FaceDetector:
    """Haar cascade; ``min_face`` is the smallest face found, as a fraction of the frame's shorter side."""

    name = "haar"
    crop_margin = 0.0  # the model reads the cascade's box as it is (FER-2013's own faces were framed so)
    scale_factor: float = DEFAULT_SCALE_FACTOR
    min_neighbors: int = DEFAULT_MIN_NEIGHBORS
    min_face: float = DEFAULT_MIN_FACE

    def __post_init__(self) -> None:
        if not 0 < self.min_face <= 1:
            raise ValueError(f"min_face must be a fraction of the frame's shorter side in (0, 1], got {self.min_face}")
        path = cv2.data.haarcascades + CASCADE_FILE
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelError(f"cannot load the Haar cascade {path}")
        self._window = min(self._cascade.getOriginalWindowSize()) or 24

    def detection_scale(self, shape: tuple[int, ...]) -> float:
        """Frame pixels per detection pixel: the smallest wanted face maps onto the cascade's window."""
        return max(1.0, min(shape[:2]) * self.min_face / self._window)

    def _smallest(self, shape: tuple[int, ...], scale: float) -> int:
        """The smallest face searched, in detection pixels (the window, or more in a small frame not scaled)."""
        return self._window if scale > 1 else max(self._window, int(min(shape[:2]) * self.min_face))

    def detect(self, grey: np.ndarray) -> np.ndarray:
        """Boxes (N x 4: x, y, w, h) of the faces in a grey frame, in its own pixels."""
        h, w = grey.shape[:2]
        scale = self.detection_scale(grey.shape)
        small = cv2.resize(grey, (round(w / scale), round(h / scale)), interpolation=cv2.INTER_AREA) if scale > 1 else grey
        side = self._smallest(grey.shape, scale)
        boxes = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(side, side))
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return np.rint(boxes * scale).astype(np.int32) if scale > 1 else boxes.astype(np.int32)

    def detect_many(self, greys: list[np.ndarray]) -> list[np.ndarray]:
        """``detect`` for each frame (the cascade has no batched form)."""
        return [self.detect(g) for g in greys]

    def detect_near(self, grey: np.ndarray, previous: np.ndarray, margin: float = 0.5,
                    size_range: tuple[float, float] = (0.7, 1.4)) -> np.ndarray:
        """Faces within ``margin`` face sizes of the ``previous`` boxes, at ``size_range`` times their size."""
        h, w = grey.shape[:2]
        scale = self.detection_scale(grey.shape)
        floor = self._smallest(grey.shape, scale)
        found: list[np.ndarray] = []
        for x, y, bw, bh in np.asarray(previous).reshape(-1, 4):
            pad = margin * max(bw, bh)
            x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
            x1, y1 = min(w, int(x + bw + pad)), min(h, int(y + bh + pad))
            region = grey[y0:y1, x0:x1]
            size = (max(1, round((x1 - x0) / scale)), max(1, round((y1 - y0) / scale)))
            small = cv2.resize(region, size, interpolation=cv2.INTER_AREA) if scale > 1 else region
            lo = max(floor, int(size_range[0] * min(bw, bh) / scale))
            hi = int(size_range[1] * max(bw, bh) / scale) + 1
            if min(small.shape[:2]) < lo:
                continue
            hits = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                                  minSize=(lo, lo), maxSize=(hi, hi))
            for hit in np.asarray(hits, dtype=np.float64).reshape(-1, 4):
                found.append(hit * scale + (x0, y0, 0, 0))
        return _distinct(np.rint(np.asarray(found).reshape(-1, 4)).astype(np.int32))


class FrameSequenceDetector:
    """Detection over consecutive frames of one source: full scans every ``rescan_s``, the faces followed between,
    and a discovery scan for small faces every ``discover_s`` (the first frame of a chunk included).

    Works with any detector of ``worker.detectors``; ``detect_all`` batches the scheduled full scans of a chunk
    into one ``detect_many`` call. A detector that offers discovery scans (``discovers``: BlazeFace's tiles at its
    model's own input size) searches its frames for faces smaller than a full scan sees; the faces a discovery scan
    finds are followed frame to frame like any other, and kept through the full scans between (which cannot see them).
    """

    def __init__(self, detector, rescan_s: float = DEFAULT_RESCAN_SECONDS, discover_s: float = DEFAULT_DISCOVER_SECONDS):
        self.detector = detector
        self.rescan_s = rescan_s
        self.discover_s = discover_s if getattr(detector, "discovers", False) else 0.0
        self.previous = np.zeros((0, 4), np.int32)
        self.points: np.ndarray | None = None  # the keypoints of ``previous``, where the detector gives them
        self._references: list[np.ndarray] | None = None  # each previous face's neighbourhood when last seen
        self.last_scan: float | None = None
        self.last_discovery: float | None = None
        self.full_scans = 0
        self.discoveries = 0
        #: the last discovery scan found a face smaller than the full scans see (None: no discovery yet)
        self.small_faces: bool | None = None
        #: the detector gives keypoints with its boxes (BlazeFace: eyes, nose, mouth, ears); Haar gives none
        self.keypoints = hasattr(detector, "detect_many_keypoints")

    def detect_all(self, greys: list[np.ndarray], timestamps: list[float]) -> list[np.ndarray]:
        """Boxes in each of consecutive frames: the full scans due by time run first, in one batched call."""
        return [boxes for boxes, _ in self.detect_all_keypoints(greys, timestamps)]

    def detect_all_keypoints(self, greys: list[np.ndarray], timestamps: list[float],
                             details: list[Callable[[], np.ndarray | None]] | None = None
                             ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """``detect_all``, each frame's boxes with their keypoints (N x 6 x 2), or None where the detector has none;
        ``details``: for each frame, what gives its higher-resolution copy or None (``results.Frame.detailed``: called
        only for a frame with a discovery scan due, which searches the copy where there is one)."""
        due, fine, last, found = [], [], self.last_scan, self.last_discovery
        for i, t in enumerate(timestamps):
            discover = self.discover_s > 0 and not _within(t, found, self.discover_s)
            if discover or not _within(t, last, self.rescan_s):
                due.append(i)
                fine.append(discover)
                last, found = t, (t if discover else found)
        copies = [details[i]() if details and f else None for i, f in zip(due, fine)]
        scans = self._scan([greys[i] for i in due], fine, copies)
        scanned = {i: (*scan, f) for i, scan, f in zip(due, scans, fine)}
        return [self._detect(g, t, scanned.get(i)) for i, (g, t) in enumerate(zip(greys, timestamps))]

    def _scan(self, greys: list[np.ndarray], fine: list[bool] | None = None,
              details: list[np.ndarray | None] | None = None) -> list[tuple[np.ndarray, np.ndarray | None]]:
        if not greys:
            return []
        if self.keypoints:
            if any(fine or []):
                return self.detector.detect_many_keypoints(greys, fine, details)
            return self.detector.detect_many_keypoints(greys)
        return [(boxes, None) for boxes in self.detector.detect_many(greys)]

    def _near(self, grey: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.keypoints:
            return self.detector.detect_near_keypoints(grey, previous)
        return self.detector.detect_near(grey, previous), None

    def _follow(self, grey: np.ndarray, which: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The faces of the frame before (``which`` of them) where they are now: a face whose neighbourhood did not
        change since the detector last saw it (``_still``) stays where it was, the others are looked for
        (``_near``)."""
        which = np.ones(len(self.previous), bool) if which is None else which
        still = self._still(grey) & which
        boxes, points = self.previous[still], None if self.points is None else self.points[still]
        if not (which & ~still).any():
            return boxes, points
        moved, moved_points = self._near(grey, self.previous[which & ~still])
        if points is not None and moved_points is not None:
            points = np.concatenate([points, moved_points])
        return np.concatenate([boxes, moved]).astype(np.int32).reshape(-1, 4), points

    def _still(self, grey: np.ndarray) -> np.ndarray:
        """Which of the ``previous`` faces' neighbourhoods (the box and a quarter of its side around) differ from
        when the detector last saw them by less than ``STILL_DIFFERENCE`` grey levels on average."""
        if self._references is None or len(self._references) != len(self.previous):
            return np.zeros(len(self.previous), bool)
        return np.array([_unchanged(grey, box, ref) for box, ref in zip(self.previous, self._references)], bool)

    def _seen(self, grey: np.ndarray, boxes: np.ndarray) -> None:
        """Remember the neighbourhood of each of ``boxes`` (the new ``previous``): as it was when the detector last
        saw the face, for a face that stayed where it was; as it is now for the others."""
        old = {tuple(int(v) for v in box): ref for box, ref in zip(self.previous, self._references or [])}
        self._references = [old.get(tuple(int(v) for v in box)) if tuple(int(v) for v in box) in old
                            else _neighbourhood(grey, box).copy() for box in boxes]

    def discovery_due(self, timestamp: float) -> bool:
        """Whether the frame at ``timestamp`` gets a discovery scan (where its higher-resolution copy is wanted)."""
        return self.discover_s > 0 and not _within(timestamp, self.last_discovery, self.discover_s)

    def detect(self, grey: np.ndarray, timestamp: float, scanned: np.ndarray | None = None,
               detail: np.ndarray | None = None) -> np.ndarray:
        """Boxes in ``grey``, the frame at ``timestamp`` seconds (frames come in time order); ``scanned``: its full
        scan, when already done; ``detail``: its higher-resolution copy, for a discovery scan (``discovery_due``)."""
        return self._detect(grey, timestamp, None if scanned is None else (scanned, None, False), detail)[0]

    def _detect(self, grey: np.ndarray, timestamp: float, scanned: tuple[np.ndarray, np.ndarray | None, bool] | None = None,
                detail: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        if scanned is None:
            due = not _within(timestamp, self.last_scan, self.rescan_s)
            if self.discovery_due(timestamp):
                scanned = (*self._scan([grey], [True], [detail])[0], True)
            elif len(self.previous) and not due:
                boxes, points = self._follow(grey)
                if len(boxes) >= len(self.previous):  # every face followed: no full scan needed yet
                    self._seen(grey, boxes)
                    self.previous, self.points = boxes, points
                    return boxes, points
        if scanned is None:
            scanned = (*self._scan([grey])[0], False)
        boxes, points, fine = scanned
        if not fine and len(self.previous):
            boxes, points = self._keep_followed(grey, boxes, points)
        self._seen(grey, boxes)  # before ``previous`` changes: the references it keeps are those of its boxes
        self.previous, self.points, self.last_scan = boxes, points, timestamp
        if fine:
            self.last_discovery = timestamp
            floor = getattr(self.detector, "min_face", 0.0) * min(grey.shape[:2])
            self.small_faces = bool(len(boxes)) and bool((boxes[:, 2:].max(axis=1) < floor).any())
        self.full_scans += 1
        self.discoveries += fine
        return boxes, points

    def _keep_followed(self, grey: np.ndarray, boxes: np.ndarray,
                       points: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """A full scan's faces and the faces of the frame before that it did not see (too small for it: found by a
        discovery scan), followed into this frame."""
        unseen = np.array([all(box_iou(p, b) <= 0.3 for b in boxes) for p in self.previous], bool)
        if not unseen.any():
            return boxes, points
        near, near_points = self._follow(grey, unseen)
        new = [i for i, n in enumerate(near) if all(box_iou(n, b) <= 0.3 for b in boxes)]
        if not new:
            return boxes, points
        boxes = np.concatenate([boxes, near[new]]).astype(np.int32)
        if points is not None and near_points is not None:
            points = np.concatenate([points, near_points[new]])
        return boxes, points


def _neighbourhood(grey: np.ndarray, box: np.ndarray, margin: float = 0.25) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    pad = int(margin * max(w, h))
    return grey[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]


def _unchanged(grey: np.ndarray, box: np.ndarray, reference: np.ndarray | None) -> bool:
    now = _neighbourhood(grey, box)
    return reference is not None and now.shape == reference.shape and \
        cv2.absdiff(now, reference).mean() < STILL_DIFFERENCE


def _within(t: float, last: float | None, period: float) -> bool:
    """Whether ``t`` is less than ``period`` seconds after ``last`` (never before it: a new sequence)."""
    return last is not None and 0 <= t - last < period


def _distinct(boxes: np.ndarray, max_iou: float = 0.5) -> np.ndarray:
    """``boxes`` without those overlapping an earlier one by more than ``max_iou`` (neighbouring faces' regions overlap)."""
    keep: list[np.ndarray] = []
    for box in boxes:
        if all(box_iou(box, k) <= max_iou for k in keep):
            keep.append(box)
    return np.asarray(keep, dtype=np.int32).reshape(-1, 4)


def crop_faces(grey: np.ndarray, boxes: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """The faces at ``boxes`` as N x 48 x 48 uint8 crops, the input of the emotion model; each box grown by
    ``margin`` of its side on every side first (a detector's ``crop_margin``), within the frame."""
    crops = np.empty((len(boxes), FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    height, width = grey.shape[:2]
    for i, (x, y, w, h) in enumerate(boxes):
        grow = int(round(margin * max(w, h)))
        x0, y0 = max(0, x - grow), max(0, y - grow)
        x1, y1 = min(width, x + w + grow), min(height, y + h + grow)
        crops[i] = cv2.resize(grey[y0:y1, x0:x1], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return crops
