"""The levers' tests: a tune part any fresh clone has (skimage's astronaut) and a tiny generated FER-2013."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import pytest

from bench.realset import COLUMNS
from tests.training.conftest import make_faces, write_csv

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "levers"))


@pytest.fixture
def tune_set(tmp_path):
    """Two sources of ten astronaut faces each (her box shifted a few pixels), one judging face that is not there."""
    from skimage import data

    from ferstream.worker.detectors import make_detector

    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    (x, y, w, h), = make_detector("blazeface", 0.1).detect(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    rows = []
    for source in ("one", "two"):
        (tmp_path / source).mkdir()
        cv2.imwrite(str(tmp_path / source / "astronaut.png"), image)
        rows += [dict(source=source, file="astronaut.png", frame=0, x=x + d, y=y + d, w=w, h=h, person=f"{source}{d}",
                      emotion="happy", accept="", tags="", split="tune") for d in range(10)]
    rows.append(dict(source="gone", file="x.jpg", frame=0, x=1, y=1, w=30, h=30, person="p", emotion="sad", accept="",
                     tags="", split="judge"))
    labels = tmp_path / "emotions.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    fer = tmp_path / "tiny.csv"
    write_csv(fer, {"Training": make_faces(6, 0), "PublicTest": make_faces(3, 1)})
    return ["--labels", str(labels), "--realset", str(tmp_path), "--data", str(fer)]
