"""Frames in, faces with emotion probabilities out: detect, crop (aligned where the detector gives keypoints and
the analyzer is asked to), one batched model call; each face's quality and whether it is uncertain."""

from __future__ import annotations

import cv2
import numpy as np

from ferstream.emotion_model import FACE_SIZE, EmotionModel
from ferstream.metrics import STAGE_SECONDS
from ferstream.results import Frame, FrameFaces
from ferstream.settings import DEFAULT_DISCOVER_SECONDS, DEFAULT_RESCAN_SECONDS

#: seconds between discovery scans of a source while they find no face smaller than the full scans see (faces
#: all large, or none): the small faces of a scene that changes are found within this time
DISCOVER_IDLE_SECONDS = 10.0
from ferstream.worker import quality
from ferstream.worker.align import aligned_crops, to_align, zoom_for
from ferstream.worker.detector import STILL_DIFFERENCE, FaceDetector, FrameSequenceDetector, crop_faces
from ferstream.worker.detectors import Detector


class Analyzer:
    """Detector and model, loaded once and reused for every chunk of a process."""

    def __init__(self, model: EmotionModel, detector: Detector | None = None, keep_crops: bool = False,
                 rescan_s: float = DEFAULT_RESCAN_SECONDS, align: bool | None = None,
                 discover_s: float = DEFAULT_DISCOVER_SECONDS,
                 min_quality: float = quality.DEFAULT_MIN_QUALITY,
                 min_confidence: float = quality.DEFAULT_MIN_CONFIDENCE):
        """``align``: True: crop faces aligned on their keypoints (``worker.align``; detectors with keypoints only),
        every face or, for a model of ``aligned-frontal`` crops, the frontal ones; False: the detector's box; default:
        as the model's metadata says (``crop``, ``zoom``). ``min_quality`` and
        ``min_confidence``: below either a face is flagged uncertain (``worker.quality``). ``rescan_s`` and
        ``discover_s``: seconds between full scans and between discovery scans (``FrameSequenceDetector``)."""
        self.model = model
        self.detector = detector or FaceDetector()
        self.keep_crops = keep_crops
        self.rescan_s = rescan_s
        self.discover_s = discover_s
        self._quiet: dict[object, float] = {}  # source -> media time of its last discovery that found no small face
        crop = model.metadata.crop
        if align is not None:  # told: aligned as the model says (every face for a model of box crops), or the box
            crop = ("aligned" if crop == "box" else crop) if align else "box"
        self.crop = crop
        self.zoom = zoom_for(model.metadata)
        self.min_quality, self.min_confidence = min_quality, min_confidence

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    @property
    def model_version(self) -> str:
        return self.model.version

    def analyze(self, frames: list[Frame], sequence: FrameSequenceDetector | None = None,
                source: object = None) -> list[FrameFaces]:
        """Faces of a chunk's frames (consecutive frames of one source, in order); ``sequence``: the detection state
        of the frames before them, where they continue a sequence (the Python API's frame-by-frame analyzer);
        ``source``: which source they come from (a chunk's), so that its discovery scans back off (``_quiet``)."""
        sequence = sequence or self._sequence_for(source, frames[0].timestamp if frames else 0.0)
        with STAGE_SECONDS.labels("detect").time():
            found = sequence.detect_all_keypoints([f.image for f in frames], [f.timestamp for f in frames],
                                                  [f.detailed for f in frames])
        with STAGE_SECONDS.labels("classify").time():
            crops = [self._crops(f.image, b, k) for f, (b, k) in zip(frames, found)]
            counts = [len(b) for b, _ in found]
            probs = self._predict(crops, [b for b, _ in found])
        if source is not None and sequence.small_faces is not None:
            self._remember(source, sequence)
        results, start = [], 0
        for frame, (b, points), c, n in zip(frames, found, crops, counts):
            scaled = np.rint(b * frame.scale).astype(np.int32) if frame.scale != 1.0 else b
            p = probs[start:start + n]
            q = quality.quality(c, scaled[:, 2:].max(axis=1) if n else np.zeros(0), points)
            flags = quality.uncertain(q, p, self.min_quality, self.min_confidence)
            results.append(FrameFaces(frame, scaled, p, c if self.keep_crops else None, quality=q, uncertain=flags))
            start += n
        return results

    def _predict(self, crops: list[np.ndarray], boxes: list[np.ndarray]) -> np.ndarray:
        """The model's probabilities for every face of consecutive frames (their crops and boxes), in one call; a face
        with the same box as in the frame before and a crop within ``STILL_DIFFERENCE`` grey levels on average of
        the crop the model read for it (a still person of a gallery view) takes those probabilities again."""
        flat = np.concatenate(crops) if crops else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8)
        read = np.arange(len(flat))  # the crop whose probabilities each crop takes
        start, before = 0, None
        for frame_crops, frame_boxes in zip(crops, boxes):
            if before is not None and len(frame_boxes):
                previous, at = before
                for j, box in enumerate(frame_boxes):
                    same = np.flatnonzero((previous == box).all(axis=1)) if len(previous) else []
                    if len(same):
                        k = read[at + same[0]]
                        if cv2.absdiff(flat[start + j], flat[k]).mean() < STILL_DIFFERENCE:
                            read[start + j] = k
            before, start = (frame_boxes, start), start + len(frame_crops)
        if not len(flat):
            return np.zeros((0, len(self.labels)), np.float32)
        unique = np.flatnonzero(read == np.arange(len(flat)))
        position = np.zeros(len(flat), np.int64)
        position[unique] = np.arange(len(unique))
        return self.model.predict(flat[unique])[position[read]]

    def sequence(self) -> FrameSequenceDetector:
        """A new detection state for a sequence of frames, with this analyzer's detector and scan periods."""
        return FrameSequenceDetector(self.detector, self.rescan_s, self.discover_s)

    def _sequence_for(self, source: object, start: float) -> FrameSequenceDetector:
        """A chunk's detection state: where the source's last discovery scan in this process, less than
        ``DISCOVER_IDLE_SECONDS`` before, found no face smaller than the full scans see, the next is due that long
        after it rather than at once (the chunks of a video whose faces are all large, analysed here in turn)."""
        sequence = self.sequence()
        last = self._quiet.get(source)
        if last is not None and 0 <= start - last < DISCOVER_IDLE_SECONDS and sequence.discover_s:
            sequence.last_discovery, sequence.discover_s = last, max(sequence.discover_s, DISCOVER_IDLE_SECONDS)
        return sequence

    def _remember(self, source: object, sequence: FrameSequenceDetector) -> None:
        if sequence.small_faces:
            self._quiet.pop(source, None)
        elif sequence.last_discovery is not None:
            self._quiet[source] = sequence.last_discovery
            while len(self._quiet) > 1024:  # a long-lived worker: the sources seen last
                self._quiet.pop(next(iter(self._quiet)))

    def _crops(self, image: np.ndarray, boxes: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        aligned = to_align(points, self.crop) if points is not None and len(points) else np.zeros(len(boxes), bool)
        if aligned.all() and len(aligned):
            return aligned_crops(image, points, self.zoom)
        crops = crop_faces(image, boxes, self.detector.crop_margin)
        if aligned.any():
            crops[aligned] = aligned_crops(image, points[aligned], self.zoom)
        return crops
