"""The Python API on real frames: ferstream.analyze (videos, images, arrays) and ferstream.Analyzer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import ferstream
from ferstream.db.queries import EXPORT_COLUMNS
from ferstream.errors import ConfigError, FrameError, VideoError


@pytest.fixture(scope="module")
def astronaut_bgr():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def test_a_video_gives_the_export_rows_without_a_database(astronaut_video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # never queued: the API analyses in this process
    faces = ferstream.analyze(astronaut_video)
    assert list(faces.columns) == EXPORT_COLUMNS
    assert len(faces) >= 57 and faces["frame_index"].nunique() >= 57
    assert faces["emotion"].value_counts().idxmax() == "happy"
    assert faces["track_id"].nunique() >= 1 and faces["smoothed_emotion"].notna().all()
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran


def test_a_video_into_a_database_like_the_cli(astronaut_video, sqlite_url):
    faces = ferstream.analyze(str(astronaut_video), database=sqlite_url, sample_fps=5, detector="haar", name="astro")
    assert faces["frame_index"].nunique() <= 20 and (faces["source"] == "astro").all()
    from ferstream import db
    from ferstream.db.queries import faces_table

    assert len(faces_table(db.connect(sqlite_url), 1)) == len(faces)


def test_an_image_array_or_file(astronaut_bgr, tmp_path):
    for source in (astronaut_bgr, cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)):
        faces = ferstream.analyze(source)
        assert len(faces) == 1 and faces.loc[0, "emotion"] == "happy"
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr)
    faces = ferstream.analyze(path)
    assert len(faces) == 1 and faces.loc[0, "source"] == "astronaut.png"
    assert ferstream.analyze(np.full((240, 320, 3), 90, np.uint8)).empty  # no face: no rows, the same columns


def test_the_analyzer_reuses_its_model_for_your_frames(astronaut_bgr):
    from ferstream.demo import astronaut_frames

    analyzer = ferstream.Analyzer(detector="blazeface")
    results = analyzer.analyze_frames(astronaut_frames(10), fps=15)
    assert [len(r) for r in results] == [1] * 10
    assert all(r.emotions == ["happy"] for r in results)
    assert {int(r.track_ids[0]) for r in results} == {0}  # one person, one track
    assert results[0].probabilities.shape == (1, 7) and results[0].labels == analyzer.labels
    again = analyzer.analyze_frames([astronaut_bgr])
    assert len(again) == 1 and 0.5 < again[0].confidences[0] <= 1


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((100, 100, 3), np.float32), FrameError, "expected uint8 pixels"),
    (np.zeros((100,), np.uint8), FrameError, "got shape (100,)"),
    (np.zeros((100, 100, 5), np.uint8), FrameError, "got shape (100, 100, 5)"),
    ([[1, 2], [3, 4]], VideoError, "no such file"),
])
def test_bad_input_raises_the_projects_errors(bad, error, message, tmp_path):
    if isinstance(bad, list):
        bad = tmp_path / "missing.mp4"
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        ferstream.analyze(bad)


def test_files_that_are_not_images_or_videos(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(VideoError, match="not an image OpenCV can read"):
        ferstream.analyze(text)
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n" * 50)
    with pytest.raises(VideoError, match="not a video"):
        ferstream.analyze(fake)
    with pytest.raises(ConfigError, match="sample_fps"):
        ferstream.analyze(fake, sample_fps=float("nan"))
    with pytest.raises(ConfigError, match="unknown detector"):
        ferstream.Analyzer(detector="nope")
