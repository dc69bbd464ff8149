"""The shipped model: it loads through the worker's code and reads a real smile."""

from __future__ import annotations

import cv2
import numpy as np

from ferstream.emotion_model import DEFAULT_MODEL, EMOTIONS, EmotionModel, ModelMetadata, model_paths
from ferstream.worker.detector import FaceDetector, crop_faces


def astronaut_grey() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


def test_shipped_model_files_and_metadata():
    paths = model_paths(DEFAULT_MODEL)
    assert paths["tflite"].exists() and paths["json"].exists()
    meta = ModelMetadata.read(paths["json"])
    assert meta.labels == list(EMOTIONS)
    assert meta.input_shape == [48, 48, 1]


def test_shipped_model_reads_the_astronaut_smile_as_happy():
    grey = astronaut_grey()
    boxes = FaceDetector().detect(grey)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 150 < x + w / 2 < 260 and 80 < y + h / 2 < 160  # Eileen Collins' face
    model = EmotionModel()
    probs = model.predict(crop_faces(grey, boxes))
    assert model.labels[int(probs[0].argmax())] == "happy"
    assert probs[0].max() > 0.5


def test_one_face_in_each_call_of_8_gets_the_mirror_view_as_a_lone_face_does():
    """The shipped views (``--tta flip-unsure``): a lone face gets its mirror image too; in a call of 8 only the
    least sure face does, so exactly one face of each full call answers as it would alone."""
    model = EmotionModel()
    faces = np.random.default_rng(0).integers(0, 256, (9, 48, 48)).astype(np.float32)
    batched = model.predict(faces)  # two calls: 8 faces, then 1
    single = np.concatenate([model.predict(faces[i:i + 1]) for i in range(len(faces))])
    alike = np.isclose(batched, single, atol=1e-5).all(axis=1)
    assert alike[:8].sum() == 1 and alike[8]
    np.testing.assert_allclose(batched.sum(axis=1), 1, atol=1e-4)


def test_the_same_faces_get_the_same_answers_whatever_their_order_in_a_call():
    model = EmotionModel()
    faces = np.random.default_rng(2).integers(0, 256, (8, 48, 48)).astype(np.float32)
    order = np.random.default_rng(3).permutation(8)
    first = model.predict(faces)
    np.testing.assert_array_equal(model.predict(faces), first)
    np.testing.assert_allclose(model.predict(faces[order]), first[order], atol=1e-5)


def test_a_crowded_chunk_is_classified_in_bounded_slices():
    faces = np.random.default_rng(1).integers(0, 256, (11, 48, 48)).astype(np.float32)
    model = EmotionModel(max_batch=4)
    sliced = model.predict(faces)
    whole = EmotionModel()
    expected = np.concatenate([whole.predict(faces[i:i + 4]) for i in range(0, len(faces), 4)])  # calls of 4, 4, 3
    np.testing.assert_allclose(sliced, expected, atol=1e-5)
    assert model._interpreter.get_input_details()[0]["shape"][0] <= 4  # never resized past the bound
