"""Face tracks, the contract between the worker (which tracks a chunk) and the database (which links chunks).

A track is continuity in time, not an identity: no face recognition, no embeddings. ``Track`` is a
chunk-local track with its first and last sightings; ``ChunkTracks`` a chunk's tracking result;
``link_tracks`` the rule that joins the tracks of two neighbouring chunks (``db.writes`` applies it
when the second of them lands); ``affinity`` how well one box continues another, used by both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: a track not seen for this many seconds ends (a person who comes back later gets a new track)
DEFAULT_MAX_GAP_S = 1.0
#: boxes overlapping at least this much continue a track ...
MIN_IOU = 0.3
#: ... or, failing that, with centres at most this share of the box's side apart and a similar size
MAX_CENTRE_SHIFT = 0.5


@dataclass
class Track:
    """One chunk-local track: its first and last sightings (frame index, time, box)."""

    local_id: int
    first_frame: int
    first_time: float
    first_box: np.ndarray
    last_frame: int
    last_time: float
    last_box: np.ndarray


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / (a[2] * a[3] + b[2] * b[3] - inter)) if inter else 0.0


def affinity(a: np.ndarray, b: np.ndarray) -> float:
    """How well box ``b`` continues box ``a``: their IoU, or a lesser score for a close centre at a similar size; 0: no."""
    overlap = box_iou(a, b)
    if overlap >= MIN_IOU:
        return overlap
    side = max(a[2], a[3], b[2], b[3])
    shift = np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2) / side
    similar = 0.67 <= (b[2] * b[3]) / max(a[2] * a[3], 1) <= 1.5
    return MIN_IOU * (1 - shift / MAX_CENTRE_SHIFT) if shift < MAX_CENTRE_SHIFT and similar else 0.0


def pair_greedily(scores: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one pairs (row, column) of positive scores, best first."""
    pairs, rows, cols = [], set(), set()
    for flat in np.argsort(-scores, axis=None, kind="stable"):
        r, c = divmod(int(flat), scores.shape[1])
        if scores[r, c] <= 0:
            break
        if r not in rows and c not in cols:
            pairs.append((r, c))
            rows.add(r)
            cols.add(c)
    return pairs


@dataclass
class ChunkTracks:
    """A chunk's tracking result: each frame's local track ids (parallel to its boxes) and the local tracks."""

    local_ids: list[np.ndarray]
    tracks: list[Track]


def link_tracks(earlier: list[Track], later: list[Track], max_gap_s: float = DEFAULT_MAX_GAP_S) -> list[tuple[int, int]]:
    """Pairs (earlier local id, later local id) of tracks of two neighbouring chunks that are the same person:
    the earlier one's last box continued by the later one's first, within ``max_gap_s`` seconds."""
    scores = np.zeros((len(earlier), len(later)))
    for i, a in enumerate(earlier):
        for j, b in enumerate(later):
            gap = b.first_time - a.last_time
            if 0 < gap <= max_gap_s or (gap == 0 and b.first_frame > a.last_frame):
                scores[i, j] = affinity(a.last_box, b.first_box)
    return [(earlier[i].local_id, later[j].local_id) for i, j in pair_greedily(scores)]
