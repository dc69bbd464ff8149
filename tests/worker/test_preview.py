"""The worker's live pictures: real frames of the astronaut clip analysed by the real job code (``process_chunk``),
their pictures put in a real Redis and read back, checked against the rows the same chunk wrote."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from redis import Redis

from ferstream import db, previews
from ferstream.db import writes
from ferstream.db.identity import database_id
from ferstream.db.queries import faces_table
from ferstream.drawing import COLOURS
from ferstream.ingest.chunks import chunk_frames
from ferstream.ingest.video import VideoReader
from ferstream.settings import Settings
from ferstream.worker.jobs import process_chunk
from ferstream.worker.preview import LivePictures, stricter
from ferstream.worker.runtime import Runtime


@pytest.fixture
def runtime(sqlite_url):
    return Runtime(Settings(database_url=sqlite_url))


def _chunks(rt: Runtime, video, fps: float = 5.0, per_chunk: int = 5):
    """The clip's chunks at ``fps`` (a second each), its source recorded as a live source would be."""
    reader = VideoReader(video, fps, 640, rt.settings.min_face)
    sid = writes.create_source(rt.engine, name="lobby", kind="live", uri="rtsp://camera.test/lobby", state="running")
    chunks = list(chunk_frames(reader, sid, per_chunk))
    for c in chunks:
        writes.record_chunk(rt.engine, sid, c.index, *c.frame_range, len(c.frames), 0)
    return sid, chunks


def _edge_colour(image: np.ndarray, x: int, y: int, h: int) -> np.ndarray:
    """The median colour of the 2-pixel line drawn just inside a box's left edge (rows of its middle half)."""
    return np.median(image[y + h // 4:y + 3 * h // 4, x + 1:x + 3].reshape(-1, 3), axis=0)


def test_a_watched_source_gets_its_chunks_frames_with_the_boxes_where_the_rows_are(runtime, redis_url, astronaut_video):
    redis = Redis.from_url(redis_url)
    sid, chunks = _chunks(runtime, astronaut_video)
    keys = previews.preview_keys(database_id(runtime.engine), sid)
    process_chunk(runtime, chunks[0], pictures=LivePictures(redis, "on", 5.0))
    assert previews.latest(redis, keys) is None  # nobody watches: nothing drawn, nothing in Redis
    assert not redis.keys("ferstream:preview:*")

    previews.watch(redis, keys, 5.0)
    process_chunk(runtime, chunks[1], pictures=LivePictures(redis, "on", 5.0))
    pictures = previews.latest(redis, keys)
    assert pictures.chunk_index == 1
    assert [p.frame_index for p in pictures.frames] == [f.index for f in chunks[1].frames]  # 5 fps: every frame
    assert 0 < redis.ttl(keys.pictures) <= previews.PICTURE_TTL_S

    rows = faces_table(runtime.engine, sid)
    checked = 0
    for p in pictures.frames:
        image = cv2.imdecode(np.frombuffer(p.jpeg, np.uint8), cv2.IMREAD_COLOR)
        frame = next(f for f in chunks[1].frames if f.index == p.frame_index)
        assert image.shape[:2] == frame.image.shape  # the frame as analysed
        for face in rows[rows["frame_index"] == p.frame_index].itertuples():
            x, y, h = (round(v / frame.scale) for v in (face.x, face.y, face.h))
            want = (255, 255, 255) if face.uncertain else COLOURS[face.emotion]
            assert np.abs(_edge_colour(image, x, y, h) - want).max() < 60, (face, _edge_colour(image, x, y, h))
            checked += 1
    assert checked >= 3


def test_the_gate_bounds_the_pictures_a_second_and_a_lower_rate_skips_frames(runtime, redis_url, astronaut_video):
    redis = Redis.from_url(redis_url)
    sid, chunks = _chunks(runtime, astronaut_video)
    keys = previews.preview_keys(database_id(runtime.engine), sid)
    previews.watch(redis, keys, 2.0)  # the viewer wants 2 a second: frames about 0.5 s apart
    process_chunk(runtime, chunks[0], pictures=LivePictures(redis, "on", 5.0))
    first = previews.latest(redis, keys)
    times = [p.timestamp for p in first.frames]
    assert times == [0.0, 0.4, 0.8] and times[-1] == chunks[0].frames[-1].timestamp  # of 0.0, 0.2, ... 0.8
    assert redis.pttl(keys.gate) > 0  # held for the second these pictures cover (less the slack)
    process_chunk(runtime, chunks[1], pictures=LivePictures(redis, "on", 5.0))  # at once: the gate is shut
    assert previews.latest(redis, keys).chunk_index == 0


def test_blur_hides_the_faces_under_their_labels_and_off_draws_nothing(runtime, redis_url, astronaut_video):
    redis = Redis.from_url(redis_url)
    sid, chunks = _chunks(runtime, astronaut_video)
    keys = previews.preview_keys(database_id(runtime.engine), sid)
    previews.watch(redis, keys, 5.0)
    process_chunk(runtime, chunks[0], pictures=LivePictures(redis, stricter("blur", "on"), 5.0))
    picture = previews.latest(redis, keys).last
    image = cv2.imdecode(np.frombuffer(picture.jpeg, np.uint8), cv2.IMREAD_COLOR)
    frame = chunks[0].frames[-1]
    rows = faces_table(runtime.engine, sid)
    (face,) = rows[rows["frame_index"] == picture.frame_index].itertuples()
    x, y, w, h = (round(v / frame.scale) for v in (face.x, face.y, face.w, face.h))
    inner = (slice(y + h // 3, y + 2 * h // 3), slice(x + w // 4, x + 3 * w // 4))  # eyes to mouth, off the label
    sharp = cv2.Laplacian(frame.image[inner], cv2.CV_64F).var()
    blurred = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[inner], cv2.CV_64F).var()
    assert blurred < sharp / 5, (sharp, blurred)
    assert np.abs(_edge_colour(image, x, y, h) - COLOURS[face.emotion]).max() < 60  # its box still drawn

    redis.delete(keys.pictures, keys.gate)
    process_chunk(runtime, chunks[1], pictures=LivePictures(redis, stricter("on", "off"), 5.0))
    assert previews.latest(redis, keys) is None
    assert previews.turned_off(redis, keys)  # a viewer learns why


def test_the_more_private_mode_wins():
    assert stricter("on", "blur") == "blur" and stricter("blur", "off") == "off" and stricter(None, "on") == "on"
    assert stricter(None, None) == "on"
