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
    assert faces["uncertain"].dtype == bool and faces["quality"].dtype == np.float64
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
    assert ferstream.analyze(path, include_uncertain=True)[["emotion", "uncertain"]].equals(faces[["emotion", "uncertain"]])
    assert ferstream.analyze(np.full((240, 320, 3), 90, np.uint8)).empty  # no face: no rows, the same columns


def test_the_analyzer_reuses_its_model_for_your_frames(astronaut_bgr):
    from ferstream.demo import astronaut_frames

    analyzer = ferstream.Analyzer(detector="blazeface")
    results = list(analyzer.analyze_frames(astronaut_frames(10), fps=15))
    assert [len(r) for r in results] == [1] * 10 and [r.frame_index for r in results] == list(range(10))
    assert all(r.emotions == ["happy"] for r in results)
    assert {int(r.track_ids[0]) for r in results} == {1}  # one person, one track, numbered from 1 as in exports
    assert results[0].probabilities.shape == (1, 7) and results[0].labels == analyzer.labels
    assert results[0].quality.shape == (1,) and results[0].uncertain.dtype == bool  # per face, as the worker stores
    analyzer.reset()
    (again,) = analyzer.analyze_frames([astronaut_bgr])
    assert again.frame_index == 0 and list(again.track_ids) == [1] and 0.5 < again.confidences[0] <= 1


def test_the_analyzer_streams_an_endless_camera_frame_by_frame():
    """Issue 32: analyze_frames read the whole iterable first, so a camera generator never returned."""
    from ferstream.demo import astronaut_frames

    frames = astronaut_frames(8)
    taken = []

    def camera():  # never ends, like a webcam loop
        i = 0
        while True:
            taken.append(i)
            yield frames[i % len(frames)]
            i += 1

    analyzer = ferstream.Analyzer()
    results = analyzer.analyze_frames(camera(), fps=10)
    first = next(results)
    assert first.frame_index == 0 and len(first) == 1 and taken == [0]  # the first answer before the second frame
    for result in results:
        if result.frame_index == 29:
            break
    assert len(taken) == 30
    # one call per frame, as a fer user's loop does: the frames, their times and the track go on across calls
    scans = analyzer._sequence.full_scans
    later = [next(analyzer.analyze_frames([frames[i % 8]], fps=10)) for i in range(30, 40)]
    assert [r.frame_index for r in later] == list(range(30, 40))
    assert {int(r.track_ids[0]) for r in later} == {int(first.track_ids[0])} == {1}
    assert analyzer._sequence.full_scans - scans <= 4  # a full scan every 0.25 s at most, not one per call
    analyzer.reset()
    assert next(analyzer.analyze_frames([frames[0]])).frame_index == 0


@pytest.mark.parametrize("call, message", [
    (lambda a, img: list(a.analyze_frames([img], fps=0)), "fps: must be a finite number above 0, got 0"),
    (lambda a, img: list(a.analyze_frames([img], fps=-1)), "fps: must be a finite number above 0, got -1"),
    (lambda a, img: list(a.analyze_frames([img], fps=float("nan"))), "fps: must be a finite number above 0, got nan"),
    (lambda a, img: list(a.analyze_frames([img], fps="x")), "fps: not a number: 'x'"),
    (lambda a, img: ferstream.analyze(img, min_face="big"), "min face"),
])
def test_the_api_checks_its_numbers_at_the_entry(astronaut_bgr, call, message):
    """Issue 32: fps=0 raised ZeroDivisionError, -1 and nan were taken, 'x' raised a TypeError from deep inside."""
    analyzer = ferstream.Analyzer()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        call(analyzer, astronaut_bgr)


def test_a_video_checks_sample_fps_before_anything(astronaut_video, sqlite_url):
    for bad, message in (("5", "sample_fps: not a number: '5'"), (0, "sample_fps: must be a finite number above 0"),
                         (float("inf"), "sample_fps: must be a finite number above 0")):
        with pytest.raises(ConfigError, match=message):
            ferstream.analyze(astronaut_video, sample_fps=bad, database=sqlite_url)
    from ferstream import db
    from ferstream.db.queries import sources

    assert sources(db.connect(sqlite_url)).empty  # refused before a source was recorded


def test_an_image_is_kept_in_the_database_asked_for(astronaut_bgr, tmp_path, sqlite_url):
    """Issue 32: analyze(image, database=URL) ignored the database, even one that could not exist."""
    from ferstream import db
    from ferstream.db.queries import faces_table, sources
    from ferstream.errors import ServiceError

    faces = ferstream.analyze(astronaut_bgr, database=sqlite_url, name="portrait")
    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), astronaut_bgr)
    from_file = ferstream.analyze(path, database=sqlite_url)
    rows = sources(db.connect(sqlite_url))
    assert rows["name"].tolist() == ["portrait", "astronaut.jpg"] and rows["status"].tolist() == ["done", "done"]
    assert rows["frames_analysed"].tolist() == [1, 1] and rows["faces"].tolist() == [1, 1]
    assert faces_table(db.connect(sqlite_url), 1).equals(faces) and len(from_file) == 1
    with pytest.raises(ServiceError, match="foo://x"):
        ferstream.analyze(astronaut_bgr, database="foo://x")


def test_a_file_that_is_not_a_model_says_what_is_wrong_with_it(tmp_path):
    """Issue 32: model=README.md reported "README.md.tflite: model file not found", a path never given."""
    from ferstream.errors import ModelError

    readme = tmp_path / "README.md"
    readme.write_text("# not a model\n")
    with pytest.raises(ModelError, match=r"README.md: not an emotion model") as caught:
        ferstream.Analyzer(model=readme)
    assert "README.md.tflite" not in str(caught.value)
    with pytest.raises(ModelError, match="a folder, not an emotion model"):
        ferstream.analyze(np.zeros((64, 64), np.uint8), model=tmp_path)
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"not a flatbuffer")
    fake.with_suffix(".json").write_text("{}")
    with pytest.raises(ModelError, match="fake.tflite: not a readable TFLite model"):
        ferstream.Analyzer(model=fake)


def test_a_source_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="a path .* or an image as a NumPy array; got int"):
        ferstream.analyze(42)


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
