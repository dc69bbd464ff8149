"""Small faces at default settings (issue 46): a meeting's gallery view through the real video path, faces touching
each other, the discovery scan's schedule."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.data import write_video
from bench.gallery import FPS, gallery, matched
from ferstream.worker.blazeface import BlazeFaceDetector, non_max_suppression
from ferstream.worker.detector import FrameSequenceDetector


def skimage_portraits() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """16:9 head-and-shoulders photos any fresh clone has: skimage's astronaut, mirrored and in other light (the one
    photo of skimage.data with a face a detector sees), and each one's face box."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[10:280, 20:500]  # 480x270: her head, the flag, the shuttle
    face = np.array([155.0, 62.0, 104.0, 104.0])  # x, y, w, h in that crop (as BlazeFace and Haar box it)
    mirrored = photo[:, ::-1].copy()
    mirrored_face = np.array([photo.shape[1] - face[0] - face[2], *face[1:]])
    photos, faces = [], []
    for gain in (1.0, 0.8, 1.15, 0.65):
        for image, box in ((photo, face), (mirrored, mirrored_face)):
            photos.append(cv2.convertScaleAbs(image, alpha=gain))
            faces.append(box)
    return photos, faces


@pytest.fixture(scope="module")
def gallery_4x4(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A 4x4 gallery view at 1280x720 as a video file (2 seconds at 24 fps: two chunks), and its 16 faces."""
    photos, faces = skimage_portraits()
    frame, truth = gallery(photos * 2, faces * 2, 4, 4, 1280, 720)
    return write_video(tmp_path_factory.mktemp("gallery") / "gallery.mp4", [frame] * 48, FPS), truth


def faces_per_frame(path: Path, truth: np.ndarray, monkeypatch, **env: str) -> list[int]:
    import ferstream

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rows = ferstream.analyze(path)
    return [matched(truth, group[["x", "y", "w", "h"]].to_numpy(float)) for _, group in rows.groupby("frame_index")]


def test_every_face_of_a_gallery_view_is_found_at_default_settings(gallery_4x4, monkeypatch):
    path, truth = gallery_4x4
    monkeypatch.delenv("FERSTREAM_MIN_FACE", raising=False)
    found = faces_per_frame(path, truth, monkeypatch)
    assert len(found) == 48
    assert min(found) == 16, found  # every frame: the discovery scan's faces followed between scans, in both chunks


@pytest.fixture(scope="module")
def gallery_8x8_1080p(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """An 8x8 gallery view at 1920x1080 (one second at 24 fps: one chunk), and its 64 faces: 49 px each, 4.6% of the
    frame's height, 16 px of the 640 px analysis frame."""
    photos, faces = skimage_portraits()
    frame, truth = gallery(photos * 8, faces * 8, 8, 8, 1920, 1080)
    return write_video(tmp_path_factory.mktemp("gallery") / "gallery-8x8.mp4", [frame] * 24, FPS), truth


def test_a_dense_full_hd_gallery_is_found_on_the_chunks_higher_resolution_copy(gallery_8x8_1080p, monkeypatch):
    path, truth = gallery_8x8_1080p
    monkeypatch.delenv("FERSTREAM_MIN_FACE", raising=False)
    found = faces_per_frame(path, truth, monkeypatch)
    assert len(found) == 24
    assert min(found) >= 63, found  # of 64, in every frame: found on the copy, followed on the analysis frames


def test_the_analysis_frame_alone_misses_a_dense_full_hd_gallery(gallery_8x8_1080p):
    """What the test above would see without the copy ingest sends (``Frame.detail``): the discovery scan on the
    640 px analysis frame alone."""
    from ferstream.codec import decode_chunk, encode_chunk
    from ferstream.ingest.chunks import chunk_frames
    from ferstream.ingest.video import VideoReader

    path, truth = gallery_8x8_1080p
    reader = VideoReader(path, None, 640)
    reader.add_detail(24)
    first = decode_chunk(encode_chunk(next(chunk_frames(reader, 1, 24)))).frames[0]  # as queued
    detector = BlazeFaceDetector()
    alone = detector.detect_many_keypoints([first.image], [True])[0][0]
    copy = detector.detect_many_keypoints([first.image], [True], [first.detailed()])[0][0]
    assert matched(truth / first.scale, alone) < 56 <= matched(truth / first.scale, copy)


def test_the_same_picture_as_a_photo_gives_the_same_faces(gallery_4x4, tmp_path, monkeypatch):
    import ferstream

    path, truth = gallery_4x4
    monkeypatch.delenv("FERSTREAM_MIN_FACE", raising=False)
    photo = tmp_path / "gallery.jpg"
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok and cv2.imwrite(str(photo), frame)
    rows = ferstream.analyze(photo)
    assert matched(truth, rows[["x", "y", "w", "h"]].to_numpy(float)) == 16 and len(rows) == 16


def test_without_discovery_scans_the_default_full_scans_miss_them(gallery_4x4, monkeypatch):
    path, truth = gallery_4x4
    monkeypatch.delenv("FERSTREAM_MIN_FACE", raising=False)
    found = faces_per_frame(path, truth, monkeypatch, FERSTREAM_DISCOVER_SECONDS="0")
    assert max(found, default=0) < 8  # what the test above would see if discovery broke


def test_touching_faces_are_not_merged():
    photos, faces = skimage_portraits()
    # tiles touching with no border, each face filling its tile's height: each face touches the ones above and below
    side = 104 + 2 * 40
    crops = [p[int(f[1]) - 4:int(f[1]) - 4 + side * 9 // 16, int(f[0]) - 40:int(f[0]) - 40 + side]
             for p, f in zip(photos, faces)]
    boxes = [np.array([40.0, 4.0, f[2], f[3]]) for f in faces]
    frame, truth = gallery(crops * 2, boxes * 2, 4, 4, 1280, 720, border=0)
    grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (640, 360), interpolation=cv2.INTER_AREA)
    found = BlazeFaceDetector().detect_many_keypoints([grey], [True])[0][0]
    assert matched(truth / 2, found) == 16 and len(found) == 16


def test_suppression_keeps_boxes_that_touch_and_drops_the_same_face_seen_twice():
    touching = np.array([[0, 0, 40, 40], [40, 0, 80, 40], [0, 40, 40, 80], [2, 1, 41, 41]], float)
    kept = non_max_suppression(touching, np.array([0.9, 0.8, 0.7, 0.6]))
    assert sorted(kept.tolist()) == [0, 1, 2]


def test_discovery_runs_once_a_second_and_its_faces_survive_the_full_scans_between():
    photos, faces = skimage_portraits()
    frame, truth = gallery(photos * 2, faces * 2, 4, 4, 640, 360)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    sequence = FrameSequenceDetector(BlazeFaceDetector())
    found = sequence.detect_all([grey] * 48, [i / 24 for i in range(48)])
    assert sequence.discoveries == 2 and sequence.full_scans >= 8
    assert [matched(truth, b) for b in found] == [16] * 48
    assert sequence.small_faces


def test_a_still_face_is_read_once_a_chunk_not_once_a_frame(gallery_4x4):
    from ferstream.codec import decode_chunk, encode_chunk
    from ferstream.ingest.video import VideoReader
    from ferstream.results import Chunk
    from ferstream.settings import Settings
    from ferstream.worker.runtime import Runtime

    path, truth = gallery_4x4
    settings = Settings(database_url="sqlite://")
    frames = list(VideoReader(path, None, settings.analysis_width, settings.min_face))[:24]
    frames = decode_chunk(encode_chunk(Chunk(1, 0, frames), settings.jpeg_quality)).frames  # as queued
    analyzer = Runtime(settings).analyzer
    read = []
    predict = analyzer.model.predict
    analyzer.model.predict = lambda crops: read.append(len(crops)) or predict(crops)
    try:
        results = analyzer.analyze(frames)
    finally:
        del analyzer.model.predict
    assert [len(r) for r in results] == [16] * 24
    assert read[0] < 16 * 6  # the model read each still face in a few frames, not in all 24 (384 crops)
    kept = 0
    for before, now in zip(results, results[1:]):
        earlier = {tuple(b): p for b, p in zip(before.boxes, before.probabilities)}
        kept += sum(tuple(b) in earlier and np.array_equal(earlier[tuple(b)], p) for b, p in zip(now.boxes, now.probabilities))
    assert kept > 16 * 23 // 2  # most faces: the same box and the same probabilities as in the frame before
