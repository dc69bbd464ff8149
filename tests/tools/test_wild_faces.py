"""tools/wild/faces.py: a labelled photo set's faces found and cropped as the worker does, on photos any fresh clone
has (skimage's astronaut, whole and cropped tight to her face), with the photos it cannot use counted."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "wild"))


@pytest.fixture
def photo_set(tmp_path):
    from skimage import data

    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    (tmp_path / "images").mkdir()
    (tmp_path / "data").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "Eileen_Collins_0001.jpg"), image)
    cv2.imwrite(str(tmp_path / "images" / "tight.jpg"), cv2.resize(image[50:200, 150:290], (350, 350)))  # face only
    cv2.imwrite(str(tmp_path / "images" / "wall.jpg"), np.full((200, 200, 3), 90, np.uint8))
    (tmp_path / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    rows = [("1", "Eileen_Collins_0001.jpg", "HAPPINESS"), ("2", "tight.jpg", "happiness"), ("2", "wall.jpg", "neutral"),
            ("2", "broken.jpg", "sadness"), ("3", "Eileen_Collins_0001.jpg", "contempt")]
    with open(tmp_path / "data" / "legend.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user.id", "image", "emotion"])
        writer.writerows(rows)
    return tmp_path


def test_faces_are_cropped_as_the_worker_crops_them_and_the_rest_counted(photo_set, tmp_path, capsys):
    import faces as wild

    from ferstream.emotion_model import EMOTIONS

    out = tmp_path / "out" / "faces.npz"
    assert wild.main(["--set", str(photo_set), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 faces of 5 photos" in printed
    assert "'no face found': 1" in printed and "'unreadable or missing': 1" in printed and "'label contempt': 1" in printed
    with np.load(out) as npz:
        assert npz["faces"].shape == (2, 48, 48) and npz["faces"].dtype == np.uint8
        assert [EMOTIONS[i] for i in npz["labels"]] == ["happy", "happy"]
        assert list(npz["persons"]) == ["Eileen_Collins", "2:tight"]
        assert (str(npz["crop"]), float(npz["zoom"])) == ("box", 1.0)


def test_faces_for_a_model_of_aligned_crops_are_aligned_and_say_so(photo_set, tmp_path):
    import faces as wild

    from ferstream.errors import DataError
    from ferstream.training.data import load_extra

    boxed, aligned = tmp_path / "box.npz", tmp_path / "aligned.npz"
    assert wild.main(["--set", str(photo_set), "--out", str(boxed)]) == 0
    assert wild.main(["--set", str(photo_set), "--out", str(aligned), "--crop", "aligned", "--zoom", "1.1"]) == 0
    faces, labels = load_extra(aligned, "aligned", 1.1)
    assert faces.shape == (2, 48, 48) and len(labels) == 2
    assert not np.array_equal(faces, load_extra(boxed)[0])  # framed otherwise than the box crops
    frontal = tmp_path / "frontal.npz"
    assert wild.main(["--set", str(photo_set), "--out", str(frontal), "--crop", "aligned-frontal", "--zoom", "1.1"]) == 0
    with np.load(frontal) as npz:
        assert (str(npz["crop"]), float(npz["zoom"])) == ("aligned-frontal", 1.1)
    with pytest.raises(DataError, match="its faces are aligned-frontal crops at zoom 1.1"):
        load_extra(frontal, "aligned", 1.1)


def test_a_folder_that_is_not_the_set_is_refused(tmp_path):
    import faces as wild

    with pytest.raises(SystemExit, match="expected data/legend.csv and images/"):
        wild.main(["--set", str(tmp_path)])
