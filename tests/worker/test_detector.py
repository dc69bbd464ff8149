"""Face detection over a chunk: full scans every rescan interval, the faces followed between them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ferstream.demo import astronaut_frames
from ferstream.tracks import box_iou
from tests.videos import multi_face_frame
from ferstream.worker.detector import FaceDetector, FrameSequenceDetector


def greys(frames):
    return [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]


def test_a_moving_face_is_followed_between_full_scans_where_a_full_scan_finds_it():
    detector = FaceDetector()
    frames = greys(astronaut_frames(30))
    sequence = FrameSequenceDetector(detector, rescan_s=0.25)
    for i, grey in enumerate(frames):
        followed = sequence.detect(grey, i / 15)  # 15 frames/s: a full scan every 4th frame
        full = detector.detect(grey)
        # Eileen Collins' face in every frame, where a full scan puts it
        assert max(box_iou(a, b) for a in followed for b in full) > 0.6, i
    assert 8 <= sequence.full_scans <= 12  # 30 frames at 15 fps: a full scan each 0.25 s, and when a face is lost


def test_a_face_that_appears_is_found_at_the_next_full_scan():
    detector = FaceDetector()
    two = cv2.cvtColor(multi_face_frame(2), cv2.COLOR_BGR2GRAY)
    one = two.copy()
    one[:, 320:] = 40  # the second head is not there yet
    sequence = FrameSequenceDetector(detector, rescan_s=0.25)
    counts = [len(sequence.detect(grey, i / 10)) for i, grey in enumerate([one, one, two, two, two, two])]
    assert counts[0] == 1
    assert counts[-1] == 2  # found by the scan at 0.3 s at the latest
    assert counts.index(2) <= 3


def test_a_lost_face_triggers_a_full_scan_at_once():
    detector = FaceDetector()
    one = cv2.cvtColor(multi_face_frame(2), cv2.COLOR_BGR2GRAY)
    one[:, 320:] = 40
    moved = np.roll(one, 300, axis=1)  # the face jumps further than the followed neighbourhood
    sequence = FrameSequenceDetector(detector, rescan_s=10)
    assert len(sequence.detect(one, 0.0)) == 1
    boxes = sequence.detect(moved, 0.1)
    assert len(boxes) == 1 and boxes[0][0] > 300 and sequence.full_scans == 2


def test_rescan_zero_scans_every_frame_in_full():
    detector = FaceDetector()
    frames = greys(astronaut_frames(6))
    sequence = FrameSequenceDetector(detector, rescan_s=0)
    for i, grey in enumerate(frames):
        sequence.detect(grey, i / 15)
    assert sequence.full_scans == 6


@pytest.mark.parametrize("size", [(640, 360), (1920, 1080)])
def test_detection_runs_at_the_same_scale_whatever_the_resolution(size):
    detector = FaceDetector(min_face=0.13)
    grey = cv2.cvtColor(astronaut_frames(1, size)[0], cv2.COLOR_BGR2GRAY)
    scale = detector.detection_scale(grey.shape)
    assert round(min(grey.shape) / scale) == round(24 / 0.13)
    assert len(detector.detect(grey)) == 1


def test_min_face_must_be_a_fraction():
    with pytest.raises(ValueError, match="fraction"):
        FaceDetector(min_face=40)
