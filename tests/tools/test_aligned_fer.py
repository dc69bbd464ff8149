"""tools/levers/aligned_fer.py (training on aligned FER-2013 faces, issues 33 and 34) on faces any fresh clone has."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

import aligned_fer  # tools/levers, on the path from conftest.py


def _astronaut_face() -> np.ndarray:
    """skimage's astronaut as FER-2013 frames a face: 48x48 grey, her face filling it."""
    from skimage import data

    from ferstream.worker.detectors import make_detector

    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    (x, y, w, h), = make_detector("blazeface", 0.1).detect(grey)
    return cv2.resize(grey[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA)


def test_a_real_face_is_aligned_and_a_blank_one_kept_as_it_is():
    face = _astronaut_face()
    tilted = cv2.warpAffine(face, cv2.getRotationMatrix2D((24, 24), 20, 1.0), (48, 48), borderMode=cv2.BORDER_REPLICATE)
    blank = np.full((48, 48), 128, np.uint8)
    out, found = aligned_fer.align_fer(np.stack([face, tilted, blank]), zoom=1.0)
    assert out.shape == (3, 48, 48) and out.dtype == np.uint8
    assert found.tolist() == [True, True, False]
    assert np.array_equal(out[2], blank)
    # the tilted face comes back nearer level (keypoints on a 48-pixel face are a few degrees off), the upright level
    assert abs(_eye_angle(tilted)) > 12
    assert abs(_eye_angle(out[1])) < abs(_eye_angle(tilted)) / 2
    assert abs(_eye_angle(out[0])) < 3


def _eye_angle(face: np.ndarray) -> float:
    """The angle of the line between the eyes (degrees), by BlazeFace on the face scaled up in a padded canvas."""
    from ferstream.worker.blazeface import BlazeFaceDetector

    canvas = cv2.copyMakeBorder(cv2.resize(face, (192, 192), interpolation=cv2.INTER_CUBIC), 96, 96, 96, 96,
                                cv2.BORDER_REPLICATE)
    points = BlazeFaceDetector(min_face=0.1).detect_near_keypoints(canvas, np.array([[96, 96, 192, 192]]))[1]
    assert len(points) == 1
    dx, dy = points[0][1] - points[0][0]
    return float(np.degrees(np.arctan2(dy, dx)))


@pytest.mark.long
def test_the_lever_runs_the_shipped_rows_the_control_and_the_aligned(tune_set, tmp_path, capsys):
    cache = tmp_path / "aligned.npz"
    args = [*tune_set, "--steps", "2", "--cache", str(cache)]
    assert aligned_fer.main(args) == 0
    out = capsys.readouterr().out
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| setting")]
    assert [r[0] for r in rows] == ["shipped, box crops", "shipped, aligned crops (zoom 1)",
                                    "2 steps on FER-2013 (control), box crops, seed 0",
                                    "2 steps on aligned FER-2013, aligned crops, seed 0"]
    assert all(re.fullmatch(r"\d+\.\d%", c) for r in rows for c in r[1:4])
    assert rows[0][3] == "100.0%"  # the shipped model calls the astronaut happy
    assert cache.exists()
    assert aligned_fer.main(args) == 0  # the second run reads the aligned faces from the cache
    assert "faces aligned" not in capsys.readouterr().out


def test_no_tune_faces_here_is_a_clear_error(tune_set, tmp_path):
    import shutil

    shutil.rmtree(tmp_path / "one")
    shutil.rmtree(tmp_path / "two")
    with pytest.raises(SystemExit, match="none of the real set's tune part's files are in"):
        aligned_fer.main(tune_set)
