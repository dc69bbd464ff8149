"""Photos: a still image costs one frame, so it is searched for the small faces of a group by default (issue 35)."""

from __future__ import annotations

import cv2

import ferstream
from tests.helpers import ferstream as cli


def test_a_group_photo_finds_its_small_faces_by_default(small_faces_photo, tmp_path):
    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    result = cli("analyze", str(small_faces_photo), "--database", url)
    assert "faces 5" in result.stdout, result.stdout
    assert "smallest face searched: 3% of the photo's shorter side" in result.stdout
    # the 13% a video's full scans start from: the discovery scan (issue 46) finds the small faces all the same, so a
    # photo and a video of it give the same answer; with discovery off, the full scan alone misses every one of them
    video_default = cli("analyze", str(small_faces_photo), "--min-face", "0.13", "--database", url)
    assert "faces 5" in video_default.stdout, video_default.stdout
    assert "smallest face searched: 13% of the photo's shorter side" in video_default.stdout
    no_discovery = cli("analyze", str(small_faces_photo), "--min-face", "0.13", "--database", url,
                       env={"FERSTREAM_DISCOVER_SECONDS": "0"})
    assert "faces 0" in no_discovery.stdout, no_discovery.stdout
    shown = " ".join(cli("analyze", "--help").stdout.split())
    assert "default: 0.13 in videos, and in photos, which cost one frame, 0.03 and at least 24 px" in shown


def test_the_python_api_searches_photos_for_small_faces_too(small_faces_photo, monkeypatch):
    monkeypatch.delenv("FERSTREAM_MIN_FACE", raising=False)
    assert len(ferstream.analyze(small_faces_photo)) == 5
    assert len(ferstream.analyze(cv2.imread(str(small_faces_photo)))) == 5
    assert len(ferstream.analyze(small_faces_photo, min_face=0.13)) == 5  # the discovery scan (issue 46) finds them
