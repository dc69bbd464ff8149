"""Face tracks within a chunk, and the rule that links the tracks of neighbouring chunks."""

from __future__ import annotations

import cv2
import numpy as np

from ferstream.demo import astronaut_frames
from ferstream.tracks import link_tracks
from tests.videos import multi_face_frame
from ferstream.worker.detectors import make_detector
from ferstream.worker.tracker import track_chunk


def FaceDetector():  # noqa: N802 - the default detector, as the worker runs it
    return make_detector("blazeface", 0.13)


def test_one_moving_face_is_one_track():
    detector = FaceDetector()
    greys = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in astronaut_frames(30)]
    boxes = [detector.detect(g) for g in greys]
    result = track_chunk(boxes, list(range(30)), [i / 15 for i in range(30)])
    assert len(result.tracks) == 1
    assert all((ids == 0).all() for ids in result.local_ids)
    assert result.tracks[0].first_frame == 0 and result.tracks[0].last_frame == 29


def test_people_side_by_side_keep_their_tracks_as_they_move():
    frame = cv2.cvtColor(multi_face_frame(3), cv2.COLOR_BGR2GRAY)
    boxes = [FaceDetector().detect(np.roll(frame, 2 * i, axis=1)) for i in range(10)]
    result = track_chunk(boxes, list(range(10)), [i / 10 for i in range(10)])
    assert len(result.tracks) == 3
    left_to_right = list(result.local_ids[0][np.argsort(boxes[0][:, 0])])
    for frame_boxes, ids in zip(boxes, result.local_ids):  # the same person, left to right, keeps the same id
        assert list(ids[np.argsort(frame_boxes[:, 0])]) == left_to_right


def test_a_face_missed_briefly_keeps_its_track_and_one_gone_long_gets_a_new_one():
    face = np.array([[100, 100, 80, 80]])
    none = np.zeros((0, 4))
    boxes = [face, none, none, face + [4, 0, 0, 0]] + [none] * 20 + [face]
    times = [i / 10 for i in range(len(boxes))]
    result = track_chunk(boxes, list(range(len(boxes))), times)
    assert result.local_ids[0][0] == result.local_ids[3][0]  # 0.3 s gone: the same track
    assert result.local_ids[-1][0] != result.local_ids[0][0]  # 2 s gone: a new track
    assert len(result.tracks) == 2


def test_tracks_of_neighbouring_chunks_link_where_one_continues_the_other():
    left, right = np.array([[100, 100, 80, 80]]), np.array([[400, 100, 80, 80]])
    first = track_chunk([np.vstack([left, right])] * 3, [0, 1, 2], [0.0, 0.1, 0.2])
    second = track_chunk([np.vstack([right + [3, 0, 0, 0], left + [3, 0, 0, 0]])] * 3, [3, 4, 5], [0.3, 0.4, 0.5])
    links = dict(link_tracks(first.tracks, second.tracks))
    assert links == {0: 1, 1: 0}  # left continues left, right continues right
    far = track_chunk([left], [50], [5.0])
    assert link_tracks(first.tracks, far.tracks) == []  # seconds later: not continued
