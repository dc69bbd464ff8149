"""Synthetic chunk results landed through the worker's own write path (``db.writes.write_results`` with the
evaluation hook), for the evaluator's tests: one face per person per frame, each frame's emotion chosen by time."""

from __future__ import annotations

import numpy as np

from ferstream.db import writes
from ferstream.emotion_model import EMOTIONS
from ferstream.events.evaluator import Evaluation
from ferstream.results import Frame, FrameFaces
from ferstream.worker.tracker import track_chunk

FPS = 10
PER_CHUNK = 10  # one second per chunk
LEFT, RIGHT = np.array([100, 100, 80, 80]), np.array([400, 100, 80, 80])


def results(index: int, mood, people=(LEFT,), quality=None):
    """Chunk ``index``'s frames: ``mood(t, person)`` is the emotion of each person's face at time t (None: absent);
    ``quality(t, person)`` its face quality (default: not measured)."""
    out = []
    for i in range(PER_CHUNK):
        n = index * PER_CHUNK + i
        t = n / FPS
        boxes, probs, scores = [], [], []
        for p, box in enumerate(people):
            emotion = mood(t, p)
            if emotion is None:
                continue
            row = np.full(7, 0.02, np.float32)
            row[EMOTIONS.index(emotion)] = 0.88
            boxes.append(box + [n, 0, 0, 0])
            probs.append(row)
            scores.append(np.nan if quality is None else quality(t, p))
        out.append(FrameFaces(Frame(n, t, np.zeros((8, 8), np.uint8)), np.array(boxes, np.int32).reshape(-1, 4),
                              np.array(probs, np.float32).reshape(-1, 7), quality=np.array(scores, np.float32)))
    return out


def land(engine, sid, index, mood, people=(LEFT,), record=True, quality=None):
    """Record chunk ``index`` as queued (``record``) and land its results with the evaluation; its changes."""
    res = results(index, mood, people, quality)
    tracks = track_chunk([r.boxes for r in res], [r.frame.index for r in res], [r.frame.timestamp for r in res])
    if record:
        writes.record_chunk(engine, sid, index, res[0].frame.index, res[-1].frame.index, PER_CHUNK, 0)
    evaluation = Evaluation()
    writes.write_results(engine, sid, index, res, tuple(EMOTIONS), "test", tracks, then=evaluation)
    return evaluation.changes


def record_all(engine, sid, n):
    for index in range(n):
        writes.record_chunk(engine, sid, index, index * PER_CHUNK, index * PER_CHUNK + PER_CHUNK - 1, PER_CHUNK, 0)
