"""Loading FER-2013 in both layouts, and a clear error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ferstream.errors import DataError
from tests.training.conftest import make_faces, write_csv
from ferstream.training.data import load_dataset


def test_csv_gz_layout_gives_the_three_splits(tiny_csv):
    data = load_dataset(tiny_csv)
    assert set(data.splits) == {"Training", "PublicTest", "PrivateTest"}
    train = data.splits["Training"]
    assert train.faces.shape == (70, 48, 48) and train.faces.dtype == np.uint8
    assert train.counts() == [10] * 7
    faces, labels = make_faces(10, 0)
    np.testing.assert_array_equal(train.faces, faces)  # pixels survive the round trip exactly
    assert len(data.sha256) == 64


def test_plain_csv_layout(tmp_path):
    path = tmp_path / "fer2013.csv"
    write_csv(path, {"Training": make_faces(2, 0), "PublicTest": make_faces(1, 1)})
    data = load_dataset(path)
    assert len(data.splits["Training"]) == 14 and len(data.splits["PublicTest"]) == 7
    assert "PrivateTest" not in data.splits


def test_image_folder_layout_any_size_colour_or_grey(tiny_folder):
    data = load_dataset(tiny_folder)
    assert len(data.splits["Training"]) == 42 and len(data.splits["PublicTest"]) == 14
    assert data.splits["Training"].faces.shape[1:] == (48, 48)
    assert data.splits["PublicTest"].counts() == [2] * 7


def _csv(tmp_path, text: str):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


def _row(label="3", n=2304, usage="Training"):
    return f"{label},{' '.join(['7'] * n)},{usage}\n"


@pytest.mark.parametrize(
    "content, message",
    [
        ("emotion,pixels\n3,1 2 3\n", "missing column(s) Usage"),
        ("label,image,split\n", "missing column(s) emotion, pixels, Usage"),
        ("emotion,pixels,Usage\n" + _row() + _row(n=2303), "line 3: 2303 pixel values, expected 2304"),
        ("emotion,pixels,Usage\n" + _row(label="7"), "line 2: emotion '7' is outside 0-6"),
        ("emotion,pixels,Usage\n" + _row(label="x"), "emotion 'x' is outside 0-6"),
        ("emotion,pixels,Usage\n" + _row(usage="Validation"), "Usage 'Validation' is not one of"),
        ("emotion,pixels,Usage\n", "no rows"),
        ("", "not a readable CSV file"),
    ],
)
def test_bad_csv_gets_a_clear_error(tmp_path, content, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(_csv(tmp_path, content))


def test_pixel_out_of_range(tmp_path):
    path = _csv(tmp_path, "emotion,pixels,Usage\n" + f"3,{' '.join(['300'] * 2304)},Training\n")
    with pytest.raises(DataError, match="line 2: pixel values must be grey levels 0-255"):
        load_dataset(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")


def test_empty_split_is_named(tmp_path):
    path = tmp_path / "only_train.csv"
    write_csv(path, {"Training": make_faces(1, 0)})
    with pytest.raises(DataError, match="the PublicTest split is empty"):
        load_dataset(path).require("Training", "PublicTest")


def test_unreadable_image(tmp_path, tiny_folder):
    import shutil

    root = tmp_path / "fer"
    shutil.copytree(tiny_folder, root)
    (root / "train" / "happy" / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError, match="broken.jpg: unreadable image"):
        load_dataset(root)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a FER-2013 image folder"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "fer" / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load_dataset(tmp_path / "fer")


def test_unknown_emotion_folder(tmp_path):
    (tmp_path / "fer" / "train" / "bored").mkdir(parents=True)
    with pytest.raises(DataError, match="bored: folder name is not an emotion"):
        load_dataset(tmp_path / "fer")
