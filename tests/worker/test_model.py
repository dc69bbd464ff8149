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


def test_batched_prediction_equals_one_by_one():
    model = EmotionModel()
    faces = np.random.default_rng(0).integers(0, 256, (9, 48, 48)).astype(np.float32)
    batched = model.predict(faces)
    single = np.concatenate([model.predict(faces[i:i + 1]) for i in range(len(faces))])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_a_crowded_chunk_is_classified_in_bounded_slices():
    faces = np.random.default_rng(1).integers(0, 256, (11, 48, 48)).astype(np.float32)
    whole = EmotionModel().predict(faces)
    model = EmotionModel(max_batch=4)
    sliced = model.predict(faces)
    np.testing.assert_allclose(sliced, whole, atol=1e-5)
    assert model._interpreter.get_input_details()[0]["shape"][0] <= 4  # never resized past the bound
