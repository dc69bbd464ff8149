"""Face tracks within a chunk: the same person's boxes linked from frame to frame by overlap and motion.

Each frame's boxes are matched to the tracks alive in the frames before it (greedy by IoU, best
pairs first; a box that moved but kept its size still matches by centre distance), as ByteTrack
associates by IoU. A track missed for up to ``DEFAULT_MAX_GAP_S`` seconds (a missed detection, a
turn of the head) keeps its id. ``supervision``'s ByteTrack was considered: it needs detection
scores (Haar has none) and its package requires ``opencv-python``, a second OpenCV beside the
worker's headless one; so this one is written here, small and tested.

Chunks are tracked apart, in any order and in parallel; the tracks' first and last sightings
let ``db.writes`` link the tracks of neighbouring chunks into source-level ids.
"""

from __future__ import annotations

import numpy as np

from ferstream.tracks import DEFAULT_MAX_GAP_S, ChunkTracks, Track, affinity, pair_greedily


def track_chunk(boxes: list[np.ndarray], frame_indices: list[int], times: list[float],
                max_gap_s: float = DEFAULT_MAX_GAP_S) -> ChunkTracks:
    """Local track ids for each frame's boxes (one int array per frame) and the tracks, for a chunk's frames in order."""
    tracker = FrameTracker(max_gap_s)
    ids = [tracker.update(b, index, t) for b, index, t in zip(boxes, frame_indices, times)]
    return ChunkTracks(ids, tracker.tracks)


class FrameTracker:
    """Tracks over frames that come one at a time (a chunk's, or the Python API's endless sequence)."""

    def __init__(self, max_gap_s: float = DEFAULT_MAX_GAP_S):
        self.max_gap_s = max_gap_s
        self.tracks: list[Track] = []
        self._alive: list[Track] = []  # the tracks seen within max_gap_s of the last frame

    def update(self, frame_boxes: np.ndarray, index: int, t: float) -> np.ndarray:
        """The local track id of each box of the frame ``index`` at ``t`` seconds (frames in time order)."""
        frame_boxes = np.asarray(frame_boxes, dtype=np.float64).reshape(-1, 4)
        alive = self._alive = [tr for tr in self._alive if t - tr.last_time <= self.max_gap_s]
        scores = np.array([[affinity(tr.last_box, b) for b in frame_boxes] for tr in alive]).reshape(len(alive), len(frame_boxes))
        assigned = np.full(len(frame_boxes), -1, dtype=np.int64)
        for r, c in pair_greedily(scores):
            track = alive[r]
            track.last_frame, track.last_time, track.last_box = index, t, frame_boxes[c]
            assigned[c] = track.local_id
        for c in np.flatnonzero(assigned < 0):
            track = Track(len(self.tracks), index, t, frame_boxes[c], index, t, frame_boxes[c])
            self.tracks.append(track)
            self._alive.append(track)
            assigned[c] = track.local_id
        return assigned
