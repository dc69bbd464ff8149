"""Frames in, faces with emotion probabilities out: detect, crop, one batched model call."""

from __future__ import annotations

import numpy as np

from ferstream.emotion_model import EmotionModel
from ferstream.metrics import STAGE_SECONDS
from ferstream.results import Frame, FrameFaces
from ferstream.settings import DEFAULT_RESCAN_SECONDS
from ferstream.worker.detector import FaceDetector, FrameSequenceDetector, crop_faces
from ferstream.worker.detectors import Detector


class Analyzer:
    """Detector and model, loaded once and reused for every chunk of a process."""

    def __init__(self, model: EmotionModel, detector: Detector | None = None, keep_crops: bool = False,
                 rescan_s: float = DEFAULT_RESCAN_SECONDS):
        self.model = model
        self.detector = detector or FaceDetector()
        self.keep_crops = keep_crops
        self.rescan_s = rescan_s

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
            boxes = sequence.detect_all([f.image for f in frames], [f.timestamp for f in frames])
        with STAGE_SECONDS.labels("classify").time():
            crops = [crop_faces(f.image, b, self.detector.crop_margin) for f, b in zip(frames, boxes)]
            counts = [len(b) for b in boxes]
            probs = (self.model.predict(np.concatenate(crops)) if sum(counts)
                     else np.zeros((0, len(self.labels)), np.float32))
        results, start = [], 0
        for frame, b, c, n in zip(frames, boxes, crops, counts):
            scaled = np.rint(b * frame.scale).astype(np.int32) if frame.scale != 1.0 else b
            results.append(FrameFaces(frame, scaled, probs[start:start + n], c if self.keep_crops else None))
            start += n
        return results
