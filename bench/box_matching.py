"""Boxes of one side matched to boxes of the other: one to one, best overlaps first (detections to labels, ferstream's
faces to fer's)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ferstream.tracks import box_iou


def match_boxes(a: Sequence[np.ndarray], b: Sequence[np.ndarray], threshold: float) -> dict[int, int]:
    """Index in ``a`` -> index in ``b`` of the pairs overlapping at least ``threshold`` (IoU), one to one, the best
    overlaps first."""
    pairs = sorted(((box_iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)), reverse=True)
    matched: dict[int, int] = {}
    used: set[int] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched
