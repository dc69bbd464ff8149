"""FER-2013's own labels found for FER+'s faces face by face (``training.face_join``), and mixed into the vote
targets with ``ferstream train --fer2013-weight``: real image content, re-encoded as JPEG at another grey scale."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from ferstream.emotion_model import EMOTIONS
from ferstream.errors import ConfigError, DataError
from ferstream.training.data import Split, load_dataset
from ferstream.training.face_join import labels_by_face, match_faces
from tests.training.conftest import make_faces, write_csv
from tests.training.test_train import train_args
from tests.training.test_votes import ferplus_frame


def photo_tiles() -> np.ndarray:
    """100 48x48 tiles of a real photo (skimage's astronaut, in grey): real grey-level content."""
    grey = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2GRAY)[:480, :480]
    return grey.reshape(10, 48, 10, 48).transpose(0, 2, 1, 3).reshape(100, 48, 48)


def as_the_other_edition(faces: np.ndarray) -> np.ndarray:
    """The faces as the other file holds them: another grey scale, then JPEG-encoded (as FER-2013's image edition)."""
    out = []
    for face in faces:
        rescaled = np.clip(0.7 * face.astype(np.float32) + 40, 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", rescaled, [cv2.IMWRITE_JPEG_QUALITY, 75])
        out.append(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE))
    return np.stack(out)


def test_each_face_finds_itself_through_jpeg_and_another_grey_scale():
    faces = photo_tiles()
    busy = faces.reshape(len(faces), -1).std(axis=1) > 15  # flat patches are like each other: no sure match there
    order = np.random.default_rng(0).permutation(len(faces))
    reference = as_the_other_edition(faces[order])
    index = match_faces(faces, reference)
    found = index >= 0
    assert found[busy].mean() > 0.95
    np.testing.assert_array_equal(order[index[found]], np.flatnonzero(found))  # each to itself, never to another


def test_a_face_missing_from_the_reference_or_there_twice_gets_no_label():
    faces = photo_tiles()
    reference = as_the_other_edition(faces)
    labels = np.arange(len(faces)) % len(EMOTIONS)
    busy = int(np.argmax(faces.reshape(len(faces), -1).std(axis=1)))
    missing = np.delete(np.arange(len(faces)), busy)
    assert labels_by_face(faces[[busy]], reference[missing], labels[missing])[0] == -1
    doubled = np.concatenate([reference, reference[[busy]]])
    assert labels_by_face(faces[[busy]], doubled, np.append(labels, 0))[0] == -1
    assert labels_by_face(faces[[busy]], reference, labels)[0] == labels[busy]
    assert labels_by_face(faces[[busy, busy]], reference, labels).tolist() == [-1, -1]  # two faces, one twin: neither


def test_mixed_targets_count_fer2013s_label_beside_the_votes_and_extra_faces_have_none():
    votes = np.zeros((3, len(EMOTIONS)), np.float32)
    votes[:, EMOTIONS.index("neutral")] = 0.7
    votes[:, EMOTIONS.index("sad")] = 0.3
    split = Split(np.zeros((3, 48, 48), np.uint8), np.full(3, EMOTIONS.index("neutral")), votes, np.ones(3, bool),
                  np.array([EMOTIONS.index("sad"), -1, EMOTIONS.index("angry")]))
    mixed = split.targets(0.2)
    np.testing.assert_allclose(mixed[0][[EMOTIONS.index("neutral"), EMOTIONS.index("sad")]], [0.56, 0.44])
    np.testing.assert_allclose(mixed[1], votes[1])  # no FER-2013 label known: the votes alone
    assert mixed[2][EMOTIONS.index("angry")] == pytest.approx(0.2) and mixed.sum(axis=1) == pytest.approx(1)
    np.testing.assert_array_equal(split.targets(), votes)  # weight 0: the votes
    more = split.extended(np.zeros((2, 48, 48), np.uint8), np.array([3, 4]))
    assert more.fer2013_labels.tolist() == [EMOTIONS.index("sad"), -1, EMOTIONS.index("angry"), -1, -1]


@pytest.fixture(scope="module")
def shuffled_fer2013(tmp_path_factory):
    """The FER-2013 edition of ``ferplus_csv``'s Training faces: shuffled, JPEG-encoded, at another grey scale, with
    FER-2013's own (here: other) labels; and the FER+ file itself."""
    folder = tmp_path_factory.mktemp("joined")
    faces, labels = make_faces(10, 0)
    ferplus = folder / "ferplus.csv.gz"
    ferplus_frame({"Training": (faces, labels), "PublicTest": make_faces(4, 1)}).to_csv(ferplus, index=False)
    order = np.random.default_rng(1).permutation(len(faces))
    other_labels = (labels + 1) % len(EMOTIONS)
    fer2013 = folder / "fer2013.csv.gz"
    write_csv(fer2013, {"Training": (as_the_other_edition(faces[order]), other_labels[order]),
                        "PublicTest": make_faces(3, 1)})
    return ferplus, fer2013, other_labels


def test_fer2013_labels_are_found_for_the_ferplus_faces_of_a_file_in_another_order(shuffled_fer2013):
    ferplus, fer2013, other_labels = shuffled_fer2013
    train = load_dataset(ferplus).splits["Training"]
    reference = load_dataset(fer2013).splits["Training"]
    found = labels_by_face(train.faces, reference.faces, reference.labels)
    assert (found >= 0).mean() > 0.9
    # the FER+ file leaves out the faces whose votes name no emotion: the labels found are still each face's own
    kept = np.array([not (i % 7 == 6) for i in range(len(other_labels))])
    np.testing.assert_array_equal(found[found >= 0], other_labels[kept][found >= 0])


@pytest.mark.long
def test_training_with_fer2013_weight_mixes_the_matched_labels_in(shuffled_fer2013, tmp_path, caplog):
    from ferstream.training.train import run

    ferplus, fer2013, _ = shuffled_fer2013
    caplog.set_level("INFO")
    meta = run(train_args("--data", str(ferplus), "--fer2013", str(fer2013), "--fer2013-weight", "0.2",
                          "--out", str(tmp_path), "--epochs", "1", "--batch-size", "16", "--widths", "8,16",
                          "--depths", "1,1"))
    matched = re.search(r"matched (\d+) of (\d+) Training faces", caplog.text)
    assert matched and int(matched[1]) > 0.9 * int(matched[2])
    assert "it is FER+'s most voted emotion for 0.0% of them" in caplog.text  # the other labels, found as they are
    assert set(meta["accuracy"]) == {"FER+ PublicTest majority", "FER-2013 PublicTest"}


@pytest.mark.parametrize("argv, message", [
    (["--fer2013-weight", "0.2"], "pass --fer2013 CSV"),
    (["--fer2013-weight", "1"], r"share in \[0, 1\)"),
    (["--fer2013-weight", "-0.1"], r"share in \[0, 1\)"),
    (["--fer2013-weight", "0.2", "--teacher", "t.tflite"], "leave one of them out"),
])
def test_a_fer2013_weight_without_what_it_needs_is_refused(shuffled_fer2013, tmp_path, argv, message):
    from ferstream.training.train import run

    ferplus, _, _ = shuffled_fer2013
    with pytest.raises(ConfigError, match=message):
        run(train_args("--data", str(ferplus), "--out", str(tmp_path), *argv))


def test_a_fer2013_file_with_votes_is_no_fer2013_file(shuffled_fer2013, tmp_path):
    from ferstream.training.train import run

    ferplus, _, _ = shuffled_fer2013
    with pytest.raises(DataError, match="expected FER-2013's single labels"):
        run(train_args("--data", str(ferplus), "--fer2013", str(ferplus), "--fer2013-weight", "0.2",
                       "--out", str(tmp_path)))


def test_a_fer2013_weight_needs_votes(tiny_csv, tmp_path):
    from ferstream.training.train import run

    with pytest.raises(ConfigError, match="must hold FER\\+ votes"):
        run(train_args("--data", str(tiny_csv), "--fer2013", str(tiny_csv), "--fer2013-weight", "0.2",
                       "--out", str(tmp_path)))
