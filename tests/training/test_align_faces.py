"""Models of aligned crops (issue 44): FER faces aligned as the worker aligns real ones, the framing kept in the
model's metadata, and every reader (worker, evaluation, training's extra faces) framing faces as the model says."""

from __future__ import annotations

import argparse
import json
import shutil

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from ferstream.emotion_model import DEFAULT_MODEL, EmotionModel, ModelMetadata, model_paths
from ferstream.errors import DataError, ModelError
from ferstream.results import Frame
from ferstream.training.align_faces import align_faces, framed
from ferstream.training.cli import add_train_arguments
from ferstream.training.data import Dataset, Split, load_dataset, load_extra
from ferstream.worker import quality
from ferstream.worker.align import aligned_crops, to_align
from ferstream.worker.analysis import Analyzer
from ferstream.worker.blazeface import BlazeFaceDetector
from ferstream.worker.detector import crop_faces

from tests.training.conftest import write_csv

ANGLES = (-15, -5, 0, 5, 15)


def fer_like_faces() -> np.ndarray:
    """The astronaut's face framed as FER-2013 frames its faces, 48x48, with its head turned in the picture's plane
    by each of ``ANGLES`` degrees; and a plain grey square (no face)."""
    grey = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2GRAY)
    faces = []
    for angle in ANGLES:
        turned = cv2.warpAffine(grey, cv2.getRotationMatrix2D((240, 130), angle, 1.0), grey.shape[::-1],
                                borderMode=cv2.BORDER_REPLICATE)
        faces.append(cv2.resize(turned[40:220, 150:330], (48, 48), interpolation=cv2.INTER_AREA))
    return np.stack(faces + [np.full((48, 48), 128, np.uint8)])


@pytest.fixture(scope="module")
def faces():
    return fer_like_faces()


def test_a_tilted_face_is_turned_upright_and_a_faceless_square_kept(faces):
    aligned, found = align_faces(faces, 1.0)
    assert found.tolist() == [True] * len(ANGLES) + [False]
    np.testing.assert_array_equal(aligned[-1], faces[-1])
    # the heads tilted 30 degrees apart look alike once aligned: the tilt is undone
    apart = np.abs(faces[0].astype(int) - faces[len(ANGLES) - 1]).mean()
    aligned_apart = np.abs(aligned[0].astype(int) - aligned[len(ANGLES) - 1]).mean()
    assert aligned_apart < apart / 2, (aligned_apart, apart)


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
    out, found = align_faces(np.stack([face, tilted, blank]), zoom=1.0)
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


def test_a_data_set_is_framed_once_and_never_again(faces):
    labels = np.full(len(faces), 3)
    data = Dataset({"Training": Split(faces, labels), "PublicTest": Split(faces[:2], labels[:2])}, "sha", "faces")
    assert framed(data, "box", 1.0) is data
    aligned = framed(data, "aligned", 1.0, ["PublicTest"])
    assert (aligned.crop, aligned.zoom, list(aligned.splits)) == ("aligned", 1.0, ["PublicTest"])
    assert not np.array_equal(aligned.splits["PublicTest"].faces, faces[:2])
    np.testing.assert_array_equal(aligned.splits["PublicTest"].labels, labels[:2])
    assert framed(aligned, "aligned", 1.0) is aligned
    for crop, zoom in (("box", 1.0), ("aligned", 1.2)):
        with pytest.raises(DataError, match="cannot be framed again"):
            framed(aligned, crop, zoom)


def test_the_model_metadata_says_how_its_faces_are_cropped(tmp_path):
    assert ModelMetadata().crop == "box"  # a model from before this field: box crops
    ModelMetadata(crop="aligned", zoom=1.1).write(tmp_path / "m.json")
    read = ModelMetadata.read(tmp_path / "m.json")
    assert (read.crop, read.zoom) == ("aligned", 1.1)
    with pytest.raises(ModelError, match="crop must be one of box, aligned"):
        ModelMetadata(crop="tight")
    with pytest.raises(ModelError, match="zoom must be a number from 0.5 to 2"):
        ModelMetadata(crop="aligned", zoom=5)


def aligned_copy(folder, zoom: float = 1.0, crop: str = "aligned"):
    """The shipped model's files in ``folder``, its metadata saying ``crop`` crops at ``zoom``."""
    for path in model_paths(DEFAULT_MODEL).values():
        if path.exists():
            shutil.copy(path, folder / path.name)
    meta = folder / model_paths(DEFAULT_MODEL)["json"].name
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "crop": crop, "zoom": zoom}))
    return folder / model_paths(DEFAULT_MODEL)["tflite"].name


def test_the_worker_crops_faces_as_the_model_says(tmp_path):
    grey = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2GRAY)
    frame = [Frame(0, 0.0, grey)]
    detector = BlazeFaceDetector(min_face=0.05)
    aligned_model = EmotionModel(aligned_copy(tmp_path, zoom=1.1))
    analyzer = Analyzer(aligned_model, detector, keep_crops=True)
    assert (analyzer.crop, analyzer.zoom) == ("aligned", 1.1)
    (tmp_path / "box").mkdir()
    box_model = EmotionModel(aligned_copy(tmp_path / "box", crop="box"))
    box = Analyzer(box_model, detector, keep_crops=True)
    assert box.crop == "box" and Analyzer(box_model, detector, align=True).crop == "aligned"
    assert Analyzer(EmotionModel(), detector).crop == EmotionModel().metadata.crop  # the shipped model's own
    crops = [a.analyze(frame)[0].crops[0] for a in (analyzer, box, Analyzer(aligned_model, detector, keep_crops=True,
                                                                            align=False))]
    assert not np.array_equal(crops[0], crops[1])  # aligned, not the box
    np.testing.assert_array_equal(crops[1], crops[2])  # told otherwise, the box crop


def test_a_model_of_aligned_frontal_crops_reads_turned_faces_as_box_crops(tmp_path):
    grey = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2GRAY)
    detector = BlazeFaceDetector(min_face=0.05)
    boxes, points = detector.detect_many_keypoints([grey])[0]
    turned = points.copy()  # the same face with its nose a half eye distance to the side: turned, as quality reads it
    turned[0, 2, 0] += 0.5 * np.linalg.norm(points[0, 1] - points[0, 0])
    both = np.concatenate([points, turned])
    assert quality.frontal(both).tolist() == [True, False]
    angle = np.radians(20)  # tilted in the picture's plane is not turned
    tilt = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert quality.frontal((both - points[0, 2]) @ tilt.T).tolist() == [True, False]
    assert to_align(both, "aligned").tolist() == [True, True] and not to_align(both, "box").any()
    analyzer = Analyzer(EmotionModel(aligned_copy(tmp_path, 1.0, "aligned-frontal")), detector, keep_crops=True)
    assert (analyzer.crop, analyzer.zoom) == ("aligned-frontal", 1.0)
    crops = analyzer._crops(grey, np.concatenate([boxes, boxes]), both)
    np.testing.assert_array_equal(crops[0], aligned_crops(grey, points, 1.0)[0])  # frontal: aligned
    np.testing.assert_array_equal(crops[1], crop_faces(grey, boxes, detector.crop_margin)[0])  # turned: the box
    # the worker's own path: the astronaut is frontal, so her crop is the one a model of aligned crops reads
    (tmp_path / "aligned").mkdir()
    every = Analyzer(EmotionModel(aligned_copy(tmp_path / "aligned", 1.0)), detector, keep_crops=True)
    frame = [Frame(0, 0.0, grey)]
    np.testing.assert_array_equal(analyzer.analyze(frame)[0].crops[0], every.analyze(frame)[0].crops[0])


def test_aligned_frontal_framing_aligns_frontal_faces_once(faces):
    data = Dataset({"PublicTest": Split(faces, np.full(len(faces), 3))}, "sha", "faces")
    frontal = framed(data, "aligned-frontal", 1.0)
    assert (frontal.crop, frontal.zoom) == ("aligned-frontal", 1.0)
    # the tilted astronauts are frontal (tilt is not turn): aligned as for a model of aligned crops
    np.testing.assert_array_equal(frontal.splits["PublicTest"].faces, align_faces(faces, 1.0)[0])
    with pytest.raises(DataError, match="aligned-frontal at zoom 1; they cannot be framed again as aligned"):
        framed(frontal, "aligned", 1.0)
    parser = add_train_arguments(argparse.ArgumentParser())
    assert parser.parse_args(["--data", "x", "--crop", "aligned-frontal"]).crop == "aligned-frontal"
    assert ModelMetadata(crop="aligned-frontal").crop == "aligned-frontal"


def test_evaluation_aligns_the_faces_for_a_model_of_aligned_crops(tmp_path, faces, caplog):
    from ferstream.training.evaluate import evaluate

    path = tmp_path / "faces.csv"
    labels = np.full(len(faces), 3)
    write_csv(path, {"Training": (faces, labels), "PublicTest": (faces, labels)})
    model = aligned_copy(tmp_path)
    caplog.set_level("INFO")
    evaluate(str(model), str(path), ["PublicTest"], str(tmp_path))
    assert f"PublicTest: {len(ANGLES)} of {len(faces)} faces aligned at zoom 1" in caplog.text
    caplog.clear()
    evaluate(str(model), str(path), ["PublicTest"], str(tmp_path), crop="box")
    assert "aligned" not in caplog.text


def test_extra_faces_must_be_framed_as_the_training(tmp_path, faces):
    np.savez(tmp_path / "box.npz", faces=faces, labels=np.zeros(len(faces), int))
    np.savez(tmp_path / "aligned.npz", faces=faces, labels=np.zeros(len(faces), int), crop="aligned", zoom=1.0)
    assert len(load_extra(tmp_path / "box.npz")[0]) == len(faces)  # no framing stored: box crops
    assert len(load_extra(tmp_path / "aligned.npz", "aligned", 1.0)[0]) == len(faces)
    with pytest.raises(DataError, match="its faces are box crops, this training's are aligned crops at zoom 1"):
        load_extra(tmp_path / "box.npz", "aligned", 1.0)
    with pytest.raises(DataError, match="tools/wild/faces.py --crop aligned --zoom 1.2"):
        load_extra(tmp_path / "aligned.npz", "aligned", 1.2)


def test_crop_options_are_checked_before_training():
    parser = add_train_arguments(argparse.ArgumentParser())
    assert (parser.parse_args(["--data", "x"]).crop, parser.parse_args(["--data", "x"]).zoom) == ("box", 1.0)
    for bad in (["--crop", "tight"], ["--crop", "aligned", "--zoom", "3"], ["--zoom", "wide"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--data", "x", *bad])


@pytest.mark.long
def test_training_on_aligned_faces_exports_a_model_that_says_so(tmp_path, faces):
    from ferstream.training.train import run

    rng = np.random.default_rng(0)
    train = np.concatenate([faces[:-1]] * 8)
    train = np.clip(train.astype(int) + rng.integers(-8, 9, train.shape), 0, 255).astype(np.uint8)
    labels = np.arange(len(train)) % 7
    path = tmp_path / "faces.csv.gz"
    write_csv(path, {"Training": (train, labels), "PublicTest": (faces[:-1], np.arange(len(ANGLES)))})
    args = add_train_arguments(argparse.ArgumentParser()).parse_args(
        ["--data", str(path), "--crop", "aligned", "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size",
         "16", "--widths", "8,16", "--depths", "1,1", "--tta", "none"])
    args.argv = ["train"]
    run(args)
    meta = ModelMetadata.read(tmp_path / "run" / "ferstream-emotion.json")
    assert (meta.crop, meta.zoom) == ("aligned", 1.0)
    assert load_dataset(path).crop == "box"  # the file itself is never changed
