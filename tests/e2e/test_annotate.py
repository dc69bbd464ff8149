"""``ferstream annotate``: the analysed video with its faces drawn, and annotated PNGs of moments."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ferstream import db
from ferstream.db.queries import faces_table
from tests.helpers import ferstream


@pytest.fixture
def analysed(astronaut_video, sqlite_url):
    ferstream("analyze", str(astronaut_video), "--database", sqlite_url, "--sample-fps", "5")
    return sqlite_url


def frames_of(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_the_annotated_video_has_every_frame_of_the_source(analysed, astronaut_video, tmp_path):
    out = tmp_path / "annotated.mp4"
    result = ferstream("annotate", "--source", "1", "-o", str(out), "--database", analysed)
    assert f"wrote {out}: 60 frames" in result.stdout
    original, annotated = frames_of(astronaut_video), frames_of(out)
    assert len(annotated) == len(original) == 60 and annotated[0].shape == original[0].shape
    if __import__("shutil").which("ffmpeg"):
        codec = int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FOURCC))
        assert codec.to_bytes(4, "little") in (b"avc1", b"h264", b"H264")  # browser-playable H.264


def test_annotated_pixels_differ_in_the_boxes_and_their_labels_only(analysed, astronaut_video, tmp_path):
    ferstream("annotate", "--source", "1", "--images", str(tmp_path / "png"), "--at", "1.0", "--at", "2.0",
              "--database", analysed)
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == 2
    original = frames_of(astronaut_video)
    faces = faces_table(db.connect(analysed), 1)
    for png, index in zip(pngs, (15, 30)):  # 15 fps, 5 analysed a second: frames that were not all analysed
        drawn = cv2.imread(str(png)).astype(int)
        changed = np.abs(drawn - original[index].astype(int)).sum(axis=2) > 0
        nearest = faces.iloc[(faces["frame_index"] - index).abs().argsort()[:1]]
        inside = np.zeros(changed.shape, bool)
        label = np.zeros(changed.shape, bool)
        for f in nearest.itertuples():
            inside[f.y:f.y + f.h, f.x:f.x + f.w] = True
            label[max(0, f.y - 30):f.y + f.h + 30, max(0, f.x - 10):f.x + 260] = True  # its tag, when it does not fit
        assert changed[inside].sum() > 100  # the box (and its label) are drawn
        assert not changed[~(inside | label)].any()  # nothing else


def test_sources_that_cannot_be_annotated_say_why(analysed, astronaut_video, tmp_path):
    import shutil

    from ferstream.db import writes

    live = writes.create_source(db.connect(analysed), name="cam", kind="live", uri="rtsp://cam/stream")
    result = ferstream("annotate", "--source", str(live), "--database", analysed, check=False)
    assert result.returncode == 2 and "is a live stream: its frames were not kept" in result.stderr
    moved = tmp_path / "elsewhere.mp4"
    shutil.copy(astronaut_video, moved)
    url = f"sqlite:///{tmp_path / 'moved.db'}"
    ferstream("analyze", str(moved), "--database", url)
    moved.unlink()
    result = ferstream("annotate", "--source", "1", "--database", url, check=False)
    assert result.returncode == 2 and "its original file" in result.stderr and "is gone" in result.stderr
    result = ferstream("annotate", "--source", "nope", "--database", url, check=False)
    assert result.returncode == 2 and "no source with id or name 'nope'" in result.stderr
    result = ferstream("annotate", "--source", "1", "-o", str(tmp_path / "no" / "x.mp4"), "--database", analysed,
                       check=False)
    assert result.returncode == 2 and "cannot write" in result.stderr


def test_moments_out_of_range_are_named_and_the_others_written(analysed, tmp_path):
    """Issue 32: one moment out of range reported all of them missing and wrote nothing."""
    moments = ["-1", "1.0", "2.0", "99"]  # the clip runs 4 s
    args = [a for t in moments for a in ("--at", t)]
    result = ferstream("annotate", "--source", "1", "--images", str(tmp_path / "png"), *args, "--database", analysed,
                       check=False)
    assert result.returncode == 2 and "wrote 2 annotated frame(s)" in result.stdout
    assert "no frame at -1.00, 99.00 s (the video runs from 0 to" in result.stderr, result.stderr
    assert [p.name.split("-")[-1] for p in sorted((tmp_path / "png").glob("*.png"))] == ["00001.00s.png", "00002.00s.png"]

    strict = ferstream("annotate", "--source", "1", "--images", str(tmp_path / "strict"), *args, "--strict",
                       "--database", analysed, check=False)
    assert strict.returncode == 2 and "nothing written (--strict)" in strict.stderr
    assert not list((tmp_path / "strict").glob("*.png"))


def test_labels_of_small_faces_stay_readable():
    """Issue 35: labels shrank to fit inside the box, a few pixels high on faces under about 70 px."""
    import pandas as pd

    from ferstream.annotate import COLOURS, MIN_LABEL_PX, draw_faces

    frame = np.full((360, 640, 3), 60, np.uint8)  # an audience at 640x360: faces of 28-40 px
    faces = pd.DataFrame([dict(x=100, y=150, w=32, h=32, track_id=1, smoothed_emotion="happy", smooth_happy=0.91),
                          dict(x=300, y=2, w=40, h=40, track_id=2, smoothed_emotion="sad", smooth_sad=0.55),
                          dict(x=620, y=200, w=28, h=28, track_id=3, smoothed_emotion="neutral", smooth_neutral=0.7)])
    drawn = draw_faces(frame, faces)
    for face, where in zip(faces.itertuples(), ("above", "below", "above")):
        colour = np.array(COLOURS[face.smoothed_emotion])
        tag = (drawn == colour).all(axis=2)
        rows = np.flatnonzero(tag[:, max(0, face.x - 40):face.x + face.w + 40].any(axis=1))
        outside = rows[(rows < face.y) if where == "above" else (rows >= face.y + face.h)]
        assert len(outside) >= MIN_LABEL_PX, (face.smoothed_emotion, where, len(outside))  # a filled tag that tall
        band = drawn[outside.min():outside.max() + 1]
        assert ((band != colour).any(axis=2) & tag[outside.min():outside.max() + 1].any(axis=1)[:, None]).sum() > 30
    assert drawn[:, :, :].shape == frame.shape and (drawn[200:230, 620:639] != 60).any()  # the tag fits the frame
    big = pd.DataFrame([dict(x=100, y=50, w=240, h=240, track_id=1, smoothed_emotion="happy", smooth_happy=0.9)])
    inside = draw_faces(frame, big)
    assert (inside[:50] == 60).all()  # a large face keeps its label inside its box


def test_a_face_without_a_smoothed_emotion_is_labelled_uncertain():
    """Issue 34: an uncertain face with no certain face of its track near it has no smoothed emotion."""
    import pandas as pd

    from ferstream.annotate import draw_faces

    frame = np.full((360, 640, 3), 60, np.uint8)
    faces = pd.DataFrame([dict(x=100, y=100, w=200, h=200, track_id=1, smoothed_emotion=float("nan"))])
    drawn = draw_faces(frame, faces)
    assert (drawn[101:103, 120:280] == 255).all()  # a white box: no emotion's colour
    label = (drawn[104:140, 104:296] != 60).any(axis=2)  # its label ("#1 uncertain") inside the box
    assert label.sum() > 300 and np.ptp(np.flatnonzero(label.any(axis=0))) > 80  # a word that long
