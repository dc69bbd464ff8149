"""BlazeFace's outputs as faces: SSD anchors, the decoding of boxes, scores and keypoints, and the non-maximum
suppression of overlapping boxes, after MediaPipe's ``ssd_anchors_calculator`` and
``tensors_to_detections_calculator`` (``worker.blazeface`` runs the models)."""

from __future__ import annotations

import numpy as np

#: boxes overlapping a better one by more than this IoU are the same face (views and anchors overlap)
NMS_IOU = 0.3
#: ... or lying within a better one by more than this share of the smaller box (a face seen whole and in part)
NMS_CONTAINMENT = 0.6
#: logits are clipped to this before the sigmoid (no overflow)
_RAW_SCORE_LIMIT = 80.0
#: the six keypoints BlazeFace gives with each face, in its order ("right": the person's right, the image's left on a
#: frontal face)
KEYPOINTS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")


def ssd_anchors(input_size: int, strides: tuple[int, ...], per_cell: int) -> np.ndarray:
    """Anchor centres (N x 2, x and y in 0..1) in the model's output order."""
    anchors = []
    for stride in sorted(set(strides), key=strides.index):
        cells = input_size // stride
        repeats = per_cell * strides.count(stride) if per_cell > 1 else 1
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(centres, repeats, axis=0))
    return np.concatenate(anchors).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: int,
           threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (x0, y0, x1, y1 in 0..1 of the input), scores and keypoints (N x 6 x 2, x and y in 0..1 of the input,
    in ``KEYPOINTS`` order) of one view's anchors scoring above ``threshold``."""
    scores = 1 / (1 + np.exp(-np.clip(raw_scores.reshape(-1), -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)))
    keep = scores > threshold
    raw = raw_boxes.reshape(-1, raw_boxes.shape[-1])[keep] / input_size
    centre = raw[:, :2] + anchors[keep]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    points = raw[:, 4:4 + 2 * len(KEYPOINTS)].reshape(-1, len(KEYPOINTS), 2) + anchors[keep][:, None, :]
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[valid], scores[keep][valid], points[valid]


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU,
                        containment: float = NMS_CONTAINMENT) -> np.ndarray:
    """Indices of the boxes (x0, y0, x1, y1) kept, best first: each drops those overlapping it by more than ``iou``,
    or lying within it (or it within them) by more than ``containment`` of the smaller box."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(int(best))
        ix = np.clip(np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]), 0, None)
        inter = ix * iy
        union = area[best] + area[rest] - inter + 1e-9
        smaller = np.minimum(area[best], area[rest]) + 1e-9
        order = rest[(inter / union <= iou) & (inter / smaller <= containment)]
    return np.asarray(kept, dtype=np.int64)
