"""Exporting a trained model in the contract of ``ferstream.emotion_model``."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import warnings
from pathlib import Path

import keras
import numpy as np

from ferstream import __version__
from ferstream.emotion_model import EMOTIONS, FACE_SIZE, ModelMetadata, model_paths
from ferstream.training.unsure_mirror import with_unsure_mirror

log = logging.getLogger(__name__)


#: how the TFLite export stores numbers: "int8" weights and activations (calibrated on training faces),
#: "dynamic" int8 weights with float activations, or "none" (float32)
QUANTIZATIONS = ("int8", "dynamic", "none")
DEFAULT_QUANTIZATION = "dynamic"
#: training faces the int8 export calibrates its activation ranges on
CALIBRATION_FACES = 500
_QUANTIZATION_NAMES = {"int8": ", int8 weights and activations", "dynamic": ", int8 dynamic-range weights", "none": ""}

#: test-time augmentation built into the export: the views of each face whose predictions are averaged.
#: "flip-zoom" adds the centre 44x44 pixels scaled back to 48x48, and its mirror image. "flip-unsure" adds the
#: mirror image only for the least sure face in every 8 of a batch (``unsure_mirror``): 1.125 runs a face.
TTA_VIEWS = {"none": ("face",), "flip": ("face", "mirror"), "flip-zoom": ("face", "mirror", "zoom", "zoom mirror"),
             "flip-unsure": ("face", "mirror of the least sure face in 8")}
DEFAULT_TTA = "flip"
#: pixels cut from each side of the face for the "zoom" view
ZOOM_MARGIN = 2
_TTA_NAMES = {"none": "", "flip": " + flip TTA", "flip-zoom": " + flip/zoom TTA (4 views)",
              "flip-unsure": " + flip TTA for the least sure face in 8"}


def export_model(model: keras.Model, stem: Path, *, tta: str = DEFAULT_TTA, quantize: str = DEFAULT_QUANTIZATION,
                 calibration: np.ndarray | None = None, data_sha256: str = "", epochs: int = 0,
                 version: str | None = None, training_command: str = "", crop: str = "box",
                 zoom: float = 1.0) -> dict[str, Path]:
    """Write ``<stem>.keras``, ``<stem>.tflite`` and ``<stem>.json``; returns their paths.

    ``calibration``: N x 48 x 48 grey training faces for ``quantize="int8"``.
    """
    paths = model_paths(stem)
    paths["keras"].parent.mkdir(parents=True, exist_ok=True)
    inference = keras.Model.from_config(model.get_config())  # uncompiled: no optimizer state in the shipped file
    inference.set_weights(model.get_weights())
    inference.save(paths["keras"])
    paths["tflite"].write_bytes(to_tflite(inference, tta=tta, quantize=quantize, calibration=calibration))
    today = dt.date.today().isoformat()
    ModelMetadata(
        labels=list(EMOTIONS),
        input_shape=[FACE_SIZE, FACE_SIZE, 1],
        version=version or today,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        data_sha256=data_sha256,
        epochs=epochs,
        architecture=(f"{model.name}{_TTA_NAMES[tta]}"
                      f"{_QUANTIZATION_NAMES[quantize]} (ferstream {__version__})"),
        parameters=int(model.count_params()),
        training_command=training_command,
        crop=crop,
        zoom=zoom,
    ).write(paths["json"])
    return paths


def to_tflite(model: keras.Model, tta: str = DEFAULT_TTA, quantize: str = DEFAULT_QUANTIZATION,
              calibration: np.ndarray | None = None) -> bytes:
    """The TFLite flatbuffer of ``model``; input and output stay float32 (the model contract).

    ``tta`` names the views of each face whose predictions are averaged (``TTA_VIEWS``). ``quantize``: measured on the
    first shipped model (2 cores, batch 32), "dynamic" (int8 weights) is about 3x faster than
    "none" with the same PublicTest accuracy (66.56% against 66.51%), and "int8" (weights and
    activations, calibrated on ``calibration`` faces) another 15% faster at 66.51%, but its
    probabilities come in steps of 1/256 and sum to 1 only within about 0.5%.
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if quantize == "int8" and (calibration is None or len(calibration) == 0):
        raise ValueError("an int8 export needs calibration faces (a sample of the training faces)")
    import tensorflow as tf  # here, not at the top: training on another Keras backend uses with_tta without it

    model = with_tta(model, tta)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "int8":
        faces = np.asarray(calibration, dtype=np.float32).reshape(-1, FACE_SIZE, FACE_SIZE, 1)
        converter.representative_dataset = lambda: ([face[None]] for face in faces)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the converter prints its graph
        warnings.simplefilter("ignore")
        return converter.convert()


def with_tta(model: keras.Model, tta: str) -> keras.Model:
    """``model`` averaging its predictions over the ``TTA_VIEWS[tta]`` of each face, in one batched call."""
    if tta not in TTA_VIEWS:
        raise ValueError(f"tta must be one of {', '.join(TTA_VIEWS)}, got {tta!r}")
    if tta == "none":
        return model
    face = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    if tta == "flip-unsure":  # not one batched call: the second runs only on the faces the first was least sure of
        return keras.Model(face, with_unsure_mirror(model, face), name=f"{model.name}_{tta}_tta")
    views = [face, keras.ops.flip(face, axis=2)]
    if tta == "flip-zoom":
        m = ZOOM_MARGIN
        zoom = keras.ops.image.resize(face[:, m:FACE_SIZE - m, m:FACE_SIZE - m, :], (FACE_SIZE, FACE_SIZE),
                                      interpolation="bilinear")
        views += [zoom, keras.ops.flip(zoom, axis=2)]
    probs = model(keras.ops.concatenate(views, axis=0))  # one call: the views of the batch, one after another
    probs = keras.ops.mean(keras.ops.reshape(probs, (len(views), -1, probs.shape[-1])), axis=0)
    return keras.Model(face, probs, name=f"{model.name}_{tta}_tta")


def calibration_faces(faces: np.ndarray, n: int = CALIBRATION_FACES, seed: int = 0) -> np.ndarray:
    """A fixed random sample of ``n`` training faces for the int8 export's calibration."""
    rng = np.random.default_rng(seed)
    return faces[rng.choice(len(faces), size=min(n, len(faces)), replace=False)]
