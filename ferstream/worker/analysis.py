"""Frames in, faces with emotion probabilities out: detect, crop (aligned where the detector gives keypoints and
the analyzer is asked to), one batched model call; each face's quality and whether it is uncertain."""

from __future__ import annotations

import numpy as np

from ferstream.emotion_model import EmotionModel
from ferstream.metrics import STAGE_SECONDS
from ferstream.results import Frame, FrameFaces
from ferstream.settings import DEFAULT_RESCAN_SECONDS
from ferstream.worker import quality
from ferstream.worker.align import DEFAULT_ZOOM, aligned_crops
from ferstream.worker.detector import FaceDetector, FrameSequenceDetector, crop_faces
from ferstream.worker.detectors import Detector


class Analyzer:
    """Detector and model, loaded once and reused for every chunk of a process."""

    def __init__(self, model: EmotionModel, detector: Detector | None = None, keep_crops: bool = False,
                 rescan_s: float = DEFAULT_RESCAN_SECONDS, align: bool = False,
                 min_quality: float = quality.DEFAULT_MIN_QUALITY,
                 min_confidence: float = quality.DEFAULT_MIN_CONFIDENCE):
        """``align``: crop faces aligned on their keypoints (``worker.align``; detectors with keypoints only): measured
        on the real-footage set, not the default (models/README.md, "Aligned crops"). ``min_quality`` and
        ``min_confidence``: below either a face is flagged uncertain (``worker.quality``)."""
        self.model = model
        self.detector = detector or FaceDetector()
        self.keep_crops = keep_crops
        self.rescan_s = rescan_s
        self.align = align
        self.min_quality, self.min_confidence = min_quality, min_confidence

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    @property
    def model_version(self) -> str:
        return self.model.version

    def analyze(self, frames: list[Frame], sequence: FrameSequenceDetector | None = None) -> list[FrameFaces]:
        """Faces of a chunk's frames (consecutive frames of one source, in order); ``sequence``: the detection state
        of the frames before them, where they continue a sequence (the Python API's frame-by-frame analyzer)."""
        sequence = sequence or FrameSequenceDetector(self.detector, self.rescan_s)
        with STAGE_SECONDS.labels("detect").time():
            found = sequence.detect_all_keypoints([f.image for f in frames], [f.timestamp for f in frames])
        with STAGE_SECONDS.labels("classify").time():
            crops = [self._crops(f.image, b, k) for f, (b, k) in zip(frames, found)]
            counts = [len(b) for b, _ in found]
            probs = (self.model.predict(np.concatenate(crops)) if sum(counts)
                     else np.zeros((0, len(self.labels)), np.float32))
        results, start = [], 0
        for frame, (b, points), c, n in zip(frames, found, crops, counts):
            scaled = np.rint(b * frame.scale).astype(np.int32) if frame.scale != 1.0 else b
            p = probs[start:start + n]
            q = quality.quality(c, scaled[:, 2:].max(axis=1) if n else np.zeros(0), points)
            flags = quality.uncertain(q, p, self.min_quality, self.min_confidence)
            results.append(FrameFaces(frame, scaled, p, c if self.keep_crops else None, quality=q, uncertain=flags))
            start += n
        return results

    def _crops(self, image: np.ndarray, boxes: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        if self.align and points is not None and len(points):
            return aligned_crops(image, points, DEFAULT_ZOOM)
        return crop_faces(image, boxes, self.detector.crop_margin)
