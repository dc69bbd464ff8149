"""FER+'s votes: both layouts read, the targets and the scored faces as the model card says, training on them end to
end, and a clear error for each kind of bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from ferstream.emotion_model import EMOTIONS
from ferstream.errors import DataError
from ferstream.training.data import load_dataset
from ferstream.training.votes import VOTE_COLUMNS, class_weights, majority_accuracy, targets
from tests.training.conftest import make_faces, write_csv
from tests.training.test_train import train_args

#: FER+'s column of each FER-2013 label, in the Kaggle order (angry ... neutral)
FERPLUS_OF = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]


def votes_for(label: int, i: int) -> dict[str, int]:
    """Ten votes for a face of FER-2013 class ``label``: mostly that class; every 5th face a tie with neutral, every
    7th face mostly 'unknown', every 11th with one stray contempt vote."""
    v = dict.fromkeys(VOTE_COLUMNS, 0)
    if i % 7 == 6:
        v["unknown"], v[FERPLUS_OF[label]] = 7, 3
    elif i % 5 == 4 and FERPLUS_OF[label] != "neutral":
        v[FERPLUS_OF[label]], v["neutral"] = 5, 5
    else:
        v[FERPLUS_OF[label]], v["neutral" if FERPLUS_OF[label] != "neutral" else "happiness"] = 8, 2
        if i % 11 == 10:
            v[FERPLUS_OF[label]], v["contempt"] = 7, 1
    return v


def ferplus_frame(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for usage, (faces, labels) in splits.items():
        for i, (face, label) in enumerate(zip(faces, labels)):
            rows.append({"Usage": usage, "image": f"fer{len(rows):07d}.png", **votes_for(int(label), i),
                         "pixels": " ".join(map(str, face.ravel()))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def ferplus_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("ferplus") / "ferplus.csv.gz"
    ferplus_frame({"Training": make_faces(10, 0), "PublicTest": make_faces(4, 1)}).to_csv(path, index=False)
    return path


def test_targets_drop_single_votes_and_the_classes_that_are_no_emotion():
    counts = np.zeros((4, len(VOTE_COLUMNS)))
    counts[0, [VOTE_COLUMNS.index("neutral"), VOTE_COLUMNS.index("sadness"), VOTE_COLUMNS.index("contempt")]] = 6, 3, 1
    counts[1, [VOTE_COLUMNS.index("happiness"), VOTE_COLUMNS.index("surprise")]] = 5, 5  # a tie: trained, not scored
    counts[2, [VOTE_COLUMNS.index("NF"), VOTE_COLUMNS.index("fear")]] = 6, 4  # mostly not a face: left out
    counts[3, [VOTE_COLUMNS.index("anger"), VOTE_COLUMNS.index("disgust")]] = 9, 1  # the stray vote is a slip
    dist, keep, clear = targets(counts)
    np.testing.assert_allclose(dist[0], np.eye(7)[EMOTIONS.index("neutral")] * 6 / 9 + np.eye(7)[EMOTIONS.index("sad")] * 3 / 9)
    np.testing.assert_allclose(dist[1], (np.eye(7)[EMOTIONS.index("happy")] + np.eye(7)[EMOTIONS.index("surprise")]) / 2)
    np.testing.assert_allclose(dist[3], np.eye(7)[EMOTIONS.index("angry")])
    assert keep.tolist() == [True, True, False, True]
    assert clear.tolist() == [True, False, False, True]


def test_the_ferplus_file_gives_vote_distributions_and_the_clear_majorities(ferplus_csv):
    data = load_dataset(ferplus_csv)
    train, public = data.splits["Training"], data.splits["PublicTest"]
    assert len(train) == 70 - 10 and len(public) == 28 - 4  # the mostly-'unknown' faces are left out
    np.testing.assert_allclose(train.votes.sum(axis=1), 1, rtol=1e-6)
    assert public.votes.shape == (24, 7)
    scored = public.scored()
    assert len(scored) < len(public) and scored.clear.all()  # ties are trained on but not scored
    assert train.class_mass().sum() == pytest.approx(len(train))
    perfect = np.eye(7)[scored.labels]
    assert majority_accuracy(perfect, scored) == 1.0


def test_kaggle_csv_joined_with_fer2013new_row_by_row(tmp_path):
    kaggle = tmp_path / "fer2013.csv"
    splits = {"Training": make_faces(6, 0), "PublicTest": make_faces(3, 1), "PrivateTest": make_faces(2, 2)}
    write_csv(kaggle, splits)
    new = ferplus_frame(splits).drop(columns=["pixels"]).rename(columns={"image": "Image name"})
    new.loc[3, "Image name"] = ""  # FER+ dropped this face
    new.to_csv(tmp_path / "fer2013new.csv", index=False)
    data = load_dataset(kaggle, votes=tmp_path / "fer2013new.csv")
    assert set(data.splits) == {"Training", "PublicTest", "PrivateTest"}
    train = data.splits["Training"]
    assert train.fer2013_labels is not None and len(train.fer2013_labels) == len(train)
    # the face of row 3 is gone: the first kept faces after it are rows 4, 5, 7 ... of the Kaggle file
    np.testing.assert_array_equal(train.faces[3], splits["Training"][0][4])


@pytest.mark.parametrize("change, message", [
    (lambda df: df.iloc[:-1], "rows, but"),
    (lambda df: df.assign(Usage=df["Usage"].where(df.index != 2, "PublicTest")), "line 4: Usage 'PublicTest' differs"),
    (lambda df: df.assign(neutral="x"), "vote counts must be whole numbers"),
    (lambda df: df.drop(columns=["NF"]), "missing FER+ vote column(s) NF"),
])
def test_a_mismatched_or_broken_votes_file_is_refused(tmp_path, change, message):
    kaggle = tmp_path / "fer2013.csv"
    splits = {"Training": make_faces(2, 0), "PublicTest": make_faces(1, 1)}
    write_csv(kaggle, splits)
    new = ferplus_frame(splits).drop(columns=["pixels"]).rename(columns={"image": "Image name"})
    change(new).to_csv(tmp_path / "fer2013new.csv", index=False)
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(kaggle, votes=tmp_path / "fer2013new.csv")


def test_votes_need_the_kaggle_csv_and_must_exist(tmp_path, tiny_folder, tiny_csv):
    with pytest.raises(DataError, match="not an image folder"):
        load_dataset(tiny_folder, votes=tmp_path / "x.csv")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tiny_csv, votes=tmp_path / "missing.csv")


def test_class_weights_lift_the_rare_classes_with_mean_one():
    votes = np.zeros((100, 7), np.float32)
    votes[:90, EMOTIONS.index("happy")] = 1
    votes[90:, EMOTIONS.index("disgust")] = 1
    w = class_weights(votes)
    assert w.mean() == pytest.approx(1.0)
    assert w[95] == pytest.approx(3 * w[0])  # 1/sqrt(10) against 1/sqrt(90)


def test_training_on_votes_and_extra_faces_reports_ferplus_majority_beside_fer2013(ferplus_csv, tiny_csv, tmp_path, caplog):
    from ferstream.training.train import run

    faces, labels = make_faces(3, 5)
    np.savez(tmp_path / "extra.npz", faces=faces, labels=labels)
    caplog.set_level("INFO")
    meta = run(train_args("--data", str(ferplus_csv), "--fer2013", str(tiny_csv), "--extra", str(tmp_path / "extra.npz"),
                          "--out", str(tmp_path), "--epochs", "1", "--batch-size", "16", "--widths", "8,16",
                          "--depths", "1,1", "--class-prior", "data"))
    assert "extra: 21 labelled faces" in caplog.text
    assert set(meta["accuracy"]) == {"FER+ PublicTest majority", "FER-2013 PublicTest"}
    written = json.loads((tmp_path / "ferstream-emotion.json").read_text())
    assert written["accuracy"] == meta["accuracy"]
    assert (tmp_path / "confusion_FERplus_PublicTest_majority.png").exists()


def test_fer2013_report_needs_single_labels(ferplus_csv, tmp_path):
    from ferstream.training.evaluate import evaluate_fer2013

    with pytest.raises(DataError, match="single labels"):
        evaluate_fer2013("unused.tflite", ferplus_csv, tmp_path)


def test_extra_faces_join_the_training_split_with_smoothed_targets(ferplus_csv, tmp_path):
    from ferstream.training.data import load_extra

    faces, labels = make_faces(2, 6)
    np.savez(tmp_path / "extra.npz", faces=faces, labels=labels)
    train = load_dataset(ferplus_csv).splits["Training"]
    more = train.extended(*load_extra(tmp_path / "extra.npz"))
    assert len(more) == len(train) + 14
    np.testing.assert_array_equal(more.faces[-14:], faces)
    assert more.votes[-1].argmax() == labels[-1] and 0.85 < more.votes[-1].max() < 1  # one person's label, smoothed


@pytest.mark.parametrize("arrays, message", [
    (None, "no such file"),
    ({"faces": np.zeros((2, 48, 48), np.uint8)}, "not an .npz with 'faces' and 'labels'"),
    ({"faces": np.zeros((2, 32, 32), np.uint8), "labels": np.zeros(2, int)}, "faces must be N x 48 x 48 uint8"),
    ({"faces": np.zeros((2, 48, 48), np.uint8), "labels": np.array([0, 9])}, "one label in 0-6 per face"),
])
def test_a_bad_extra_file_is_refused(tmp_path, arrays, message):
    from ferstream.training.data import load_extra

    path = tmp_path / "extra.npz"
    if arrays is not None:
        np.savez(path, **arrays)
    with pytest.raises(DataError, match=re.escape(message)):
        load_extra(path)
