"""A chunk's live pictures: its analysed frames with the faces the worker found drawn on them, put in Redis.

Built from what the job computed (frames, boxes, probabilities, uncertain flags, tracks): no second model call.
Drawn only while somebody watches the source, at most ``fps`` pictures a second per source (``ferstream.previews``:
the keys, the gate, the format), each as ``ferstream annotate`` draws a face (``ferstream.drawing``) onto the frame as
analysed: grey, at the analysis width. A failure here never fails the chunk: its results are in already.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace

import cv2
import numpy as np
from redis import Redis
from redis.exceptions import RedisError

from ferstream import previews
from ferstream.codec import encode_image
from ferstream.drawing import blur_faces, draw_faces
from ferstream.results import Chunk, FrameFaces
from ferstream.settings import DEFAULT_PREVIEW_FPS, PREVIEW_MODES
from ferstream.tracks import ChunkTracks

log = logging.getLogger(__name__)

#: JPEG quality of a live picture (a picture to look at, not to analyse)
PICTURE_JPEG_QUALITY = 80
#: frames of a chunk closer than this share of the picture period to the one drawn after them are skipped
PERIOD_SLACK = 0.75


def stricter(*modes: str | None) -> str:
    """The most private of the preview modes given (``None``: not given)."""
    return min((m for m in modes if m is not None), key=PREVIEW_MODES.index, default=PREVIEW_MODES[-1])


@dataclass(frozen=True)
class LivePictures:
    """How a worker draws one chunk's pictures: where (Redis), how (``on``, ``blur``, ``off``), how often at most."""

    redis: Redis
    mode: str
    fps: float = DEFAULT_PREVIEW_FPS

    def draw(self, engine, database_id: str, chunk: Chunk, results: list[FrameFaces], labels: tuple[str, ...],
             tracks: ChunkTracks) -> int:
        """Put the chunk's pictures in Redis if the source is watched and its gate is free; the pictures put."""
        keys = previews.preview_keys(database_id, chunk.source_id)
        try:
            wanted = previews.wanted_fps(self.redis, keys)
            if wanted is None or not results:
                return 0
            if self.mode == "off":
                previews.say_off(self.redis, keys)
                return 0
            rate = min(self.fps, wanted)
            chosen = pick(results, rate)
            if not previews.take_turn(self.redis, keys, len(chosen) / rate):
                return 0
            from ferstream.db.queries import chunk_track_ids

            ids = chunk_track_ids(engine, chunk.source_id, chunk.index)
            pictures = tuple(previews.Picture(results[k].frame.index, results[k].frame.timestamp,
                                              encode_image(picture(results[k], labels, tracks.local_ids[k], ids,
                                                                   self.mode == "blur"), PICTURE_JPEG_QUALITY))
                             for k in chosen)
            previews.publish(self.redis, keys, previews.Pictures(chunk.source_id, chunk.index, pictures))
            return len(pictures)
        except (RedisError, OSError) as exc:
            log.warning("chunk %d of source %d: no live picture (%s)", chunk.index, chunk.source_id, exc)
            return 0


def pick(results: list[FrameFaces], fps: float) -> list[int]:
    """The frames of a chunk to draw at ``fps`` pictures a second: the last, and each one a period before the next."""
    chosen, period = [len(results) - 1], 1.0 / fps
    for k in range(len(results) - 2, -1, -1):
        if results[chosen[-1]].frame.timestamp - results[k].frame.timestamp >= PERIOD_SLACK * period:
            chosen.append(k)
    return chosen[::-1]


def picture(result: FrameFaces, labels: tuple[str, ...], local_ids: np.ndarray, track_ids: dict[int, int],
            blur: bool = False) -> np.ndarray:
    """The frame as analysed (BGR) with its faces drawn: box, track, the face's emotion and confidence, or
    ``uncertain``; ``blur``: the faces blurred under their labels."""
    frame = result.frame
    image = cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR)
    boxes = np.rint(np.asarray(result.boxes, np.float64).reshape(-1, 4) / frame.scale).astype(np.int64)
    if blur and len(boxes):
        image = blur_faces(image, boxes)
    probs = np.asarray(result.probabilities, np.float64).reshape(len(boxes), len(labels))
    best = probs.argmax(axis=1) if len(boxes) else np.zeros(0, np.int64)
    uncertain = np.asarray(result.uncertain, bool)
    faces = [SimpleNamespace(x=x, y=y, w=w, h=h, track_id=track_ids.get(int(local)),  # draw_faces's fields: here the
                             smoothed_emotion=None if uncertain[i] else labels[best[i]],  # face's own emotion
                             **{f"smooth_{label}": probs[i, j] for j, label in enumerate(labels)})
             for i, ((x, y, w, h), local) in enumerate(zip(boxes.tolist(), local_ids))]
    return draw_faces(image, faces)
