"""Exporting a trained model in the contract of ``ferstream.emotion_model``."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from ferstream import __version__
from ferstream.emotion_model import EMOTIONS, FACE_SIZE, ModelMetadata, model_paths

log = logging.getLogger(__name__)


def export_model(model: keras.Model, stem: Path, *, flip_tta: bool = True, quantize: bool = True, data_sha256: str = "",
                 epochs: int = 0, version: str | None = None, training_command: str = "") -> dict[str, Path]:
    """Write ``<stem>.keras``, ``<stem>.tflite`` and ``<stem>.json``; returns their paths."""
    paths = model_paths(stem)
    paths["keras"].parent.mkdir(parents=True, exist_ok=True)
    inference = keras.Model.from_config(model.get_config())  # uncompiled: no optimizer state in the shipped file
    inference.set_weights(model.get_weights())
    inference.save(paths["keras"])
    paths["tflite"].write_bytes(to_tflite(inference, flip_tta=flip_tta, quantize=quantize))
    today = dt.date.today().isoformat()
    ModelMetadata(
        labels=list(EMOTIONS),
        input_shape=[FACE_SIZE, FACE_SIZE, 1],
        version=version or today,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        data_sha256=data_sha256,
        epochs=epochs,
        architecture=(f"{model.name}{' + flip TTA' if flip_tta else ''}"
                      f"{', int8 dynamic-range weights' if quantize else ''} (ferstream {__version__})"),
        parameters=int(model.count_params()),
        training_command=training_command,
    ).write(paths["json"])
    return paths


def to_tflite(model: keras.Model, flip_tta: bool = True, quantize: bool = True) -> bytes:
    """The TFLite flatbuffer of ``model``.

    ``flip_tta`` averages each face with its mirror image; ``quantize`` stores the
    weights as int8 (dynamic-range quantization): measured on the first shipped
    model, a quarter of the size and about 3x faster on the CPU, with the same
    PublicTest accuracy (66.56% against 66.51%).
    """

    if flip_tta:
        face = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
        probs = (model(face) + model(keras.ops.flip(face, axis=2))) / 2
        model = keras.Model(face, probs, name=f"{model.name}_flip_tta")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the converter prints its graph
        warnings.simplefilter("ignore")
        return converter.convert()
