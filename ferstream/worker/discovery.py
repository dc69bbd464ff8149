"""Where BlazeFace's discovery scan looks: the square views (tiles) it searches for faces smaller than the full scans
see, on the frame ingest sends for it (``results.Frame.detail``, a higher-resolution copy of the analysis frame, where
there is one), and how its faces come back to the analysis frame.

The discovery scan (``BlazeFaceDetector.detect_many_keypoints(..., fine)``, run by ``worker.detector.
FrameSequenceDetector`` on the first frame of each chunk and every ``FERSTREAM_DISCOVER_SECONDS``) is two passes:
the whole frame and the ``DISCOVERY_TILES`` tiles (35 views); and, only where those found a face under
``DISCOVERY_FINER_BELOW`` of the frame's shorter side (a dense gallery, a crowd), the ``DISCOVERY_FINER_TILES`` tiles,
where such faces show the model 1.5 times the size the first pass shows. Video whose faces are all large pays the first
pass only.
"""

from __future__ import annotations

import math

import numpy as np

#: tiles overlap by this share of their side, so a face on a seam is whole in one tile
TILE_OVERLAP = 0.25
#: the discovery scan's first pass: the whole frame, and tiles of these many times the smallest face it reports
#: (``DISCOVERY_MIN_FACE``), overlapping by a third. In a 640x360 analysis frame the small tiles are 146 px (the
#: model's 192 px input sees them 1.3 times larger; they overlap by 49 px, about the smallest face the whole-frame
#: view finds there) and find the faces from 16 px up: a meeting's gallery, an audience. The large ones (292 px) find
#: the faces too large to be whole in a small tile and crowded too densely for the whole-frame view (a gallery
#: whose faces fill their tiles and touch: 11 of 16 without them, 16 with). Chosen on bench/gallery.py's galleries in
#: 640x360 analysis frames: 192 px tiles alone (16 views) found 13 of 16 (4x4) and 38 of 49 faces (7x7), 160 px
#: (19 views) 15 and 40, 144 px (29 views) 15 and 42, 144 and 288 px (35 views) 15 and 43, at a score of 0.45.
#: On a higher-resolution copy (``Frame.detail``) the tiles are the same share of the frame, so the same 35 views
DISCOVERY_TILES = (18, 9)
DISCOVERY_OVERLAP = 1 / 3
#: the second pass, where the first found small faces: tiles of this many times the smallest face (96 px of a
#: 640x360 frame, 288 px of a 1920x1080 copy: the smallest face is 32 px of the model's input, twice the first pass's
#: 21). Chosen on bench/gallery.py's 7x7 gallery at 1920x1080 (one frame through its MP4 and the chunk's JPEG):
#: 44 of 49 faces with the first pass alone on the 640 px analysis frame, 45 on a 1920 px copy, 47 with this pass
#: on the copy (45 with it on the analysis frame, 46 on a 1280 px copy); tiles of 110 and 220 px instead found 44
DISCOVERY_FINER_TILES = (6,)
#: ... run where the first pass found a face smaller than this share of the frame's shorter side (or than the full
#: scans see, where that is less): twice the smallest, faces the first pass's small tiles show the model under 42 px
#: of its input. A 4x4 gallery's faces (about 10%) are all found by the first pass and skip it
DISCOVERY_FINER_BELOW = 2 * 0.045
#: ... and the score a face on its small tiles needs: as on the other tiles (0.45 found 42 of the 7x7's 49 faces and
#: 0.5 found 40, but both passed letters of noface_face.mov's animated title for faces, in bench/parity.py)
DISCOVERY_SCORE_THRESHOLD = 0.6
#: tiles no larger than this share of the frame's longer side are a discovery scan's small ones; its large tiles
#: need this score (they show the model larger things: letters of a title passed for a face at 0.45)
DISCOVERY_SMALL_TILE = 0.25
DISCOVERY_LARGE_TILE_THRESHOLD = 0.6
#: the smallest face the discovery scan reports, as a fraction of the frame's shorter side (16 px of a 640x360
#: analysis frame, 48 px of a 1080p frame); where ``min_face`` is smaller (a photo's 3%) the full scans reach further
#: and a discovery scan is one of them
DISCOVERY_MIN_FACE = 0.045


def tiles(width: int, height: int, side: int, overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) covering a frame, overlapping by ``overlap`` of their side."""
    side = min(side, width, height)
    step = max(1, int(side * (1 - overlap)))

    def starts(length: int) -> list[int]:
        n = max(1, math.ceil((length - side) / step) + 1)
        return sorted({min(i * step, length - side) for i in range(n)})

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def _tiled(shape: tuple[int, ...], multiples: tuple[int, ...]) -> list[tuple[int, int, int]]:
    h, w = shape[:2]
    sides = [int(n * DISCOVERY_MIN_FACE * min(w, h)) for n in multiples]
    return [t for px in sides if max(w, h) > px for t in tiles(w, h, px, DISCOVERY_OVERLAP)]


def discovery_views(shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """The first pass's square regions (x, y, side) of a frame: the whole frame, then its ``DISCOVERY_TILES``."""
    h, w = shape[:2]
    return [(0, 0, max(w, h)), *_tiled(shape, DISCOVERY_TILES)]


def finer_views(shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """The second pass's: the ``DISCOVERY_FINER_TILES`` tiles."""
    return _tiled(shape, DISCOVERY_FINER_TILES)


def merged(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray],
           overlap: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """The first pass's faces (boxes x, y, w, h and keypoints), and the second's that overlap none of them by more
    than ``overlap`` of the smaller box (the same face, seen by both)."""
    (boxes, points), (more, more_points) = first, second
    if not len(more):
        return boxes, points
    if len(boxes):
        x0, y0 = np.maximum(more[:, None, 0], boxes[None, :, 0]), np.maximum(more[:, None, 1], boxes[None, :, 1])
        x1 = np.minimum(more[:, None, 0] + more[:, None, 2], boxes[None, :, 0] + boxes[None, :, 2])
        y1 = np.minimum(more[:, None, 1] + more[:, None, 3], boxes[None, :, 1] + boxes[None, :, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        smaller = np.minimum((more[:, 2] * more[:, 3])[:, None], (boxes[:, 2] * boxes[:, 3])[None, :]) + 1e-9
        new = (inter / smaller <= overlap).all(axis=1)
        more, more_points = more[new], more_points[new]
    return np.concatenate([boxes, more]).astype(np.int32), np.concatenate([points, more_points]).astype(np.float32)


def in_frame(boxes: np.ndarray, points: np.ndarray, detail: tuple[int, ...],
             shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x, y, w, h) and keypoints found on a frame's higher-resolution copy (of ``detail`` shape) in the pixels
    of the frame itself (``shape``), clipped to it."""
    fy, fx = detail[0] / shape[0], detail[1] / shape[1]
    if fx == 1 and fy == 1:
        return boxes, points
    scaled = boxes / np.array([fx, fy, fx, fy])
    x0, y0 = np.clip(scaled[:, 0], 0, shape[1] - 1), np.clip(scaled[:, 1], 0, shape[0] - 1)
    x1 = np.clip(scaled[:, 0] + scaled[:, 2], 1, shape[1])
    y1 = np.clip(scaled[:, 1] + scaled[:, 3], 1, shape[0])
    out = np.rint(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)).astype(np.int32).reshape(-1, 4)
    return out, (points / np.array([fx, fy])).astype(np.float32)
