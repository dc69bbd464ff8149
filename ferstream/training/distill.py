"""Knowledge distillation: a smaller student learns from a trained teacher's probabilities.

The teacher is any exported model of this job (its ``.tflite``, with the views built into
that export, run through the worker's own ``EmotionModel``). Its probabilities for every
training face are computed once and stored beside the run (``teacher-<hash>.npy``, keyed by
the teacher file and the data), never in the repository; a resumed run reads them back.
The student's target for each face is ``weight * teacher + (1 - weight) * true label``.

With ``--distill online`` the teacher is its ``.keras`` network instead (with the views of
``--teacher-tta`` averaged), run inside each training step on the same augmented faces the
student sees ("consistent" teaching: the teacher's answer fits the picture the student gets).
It costs a teacher forward pass per step, cheap on a GPU, and needs no stored probabilities.

A student can start from its teacher's weights with ``--init-layers``: every layer of the
student with the same name and shape as one of the teacher's takes its weights. A student
made by dropping convolutions from the teacher's stages (``--depths 1,1,2,3`` under
``2,2,3,3``) so starts close to the teacher instead of from nothing.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ferstream.emotion_model import EmotionModel, model_paths
from ferstream.errors import ModelError

log = logging.getLogger(__name__)

#: faces per teacher call while its probabilities are computed
TEACHER_BATCH = 64


def teacher_probabilities(teacher: str | Path, faces: np.ndarray, data_sha256: str, out: Path) -> np.ndarray:
    """The teacher's probabilities (N x labels) for ``faces``, computed once and cached in ``out``."""
    path = model_paths(teacher)["tflite"]
    if not path.exists():
        raise ModelError(f"--teacher {teacher}: no exported model at {path}")
    key = hashlib.sha256(path.read_bytes() + data_sha256.encode() + str(len(faces)).encode()).hexdigest()[:16]
    cache = out / f"teacher-{key}.npy"
    if cache.exists():
        probs = np.load(cache)
        if probs.shape[0] == len(faces):
            log.info("teacher probabilities read from %s", cache)
            return probs
    from tqdm import tqdm

    model = EmotionModel(path, max_batch=TEACHER_BATCH)
    log.info("teacher %s (%s): computing its probabilities for %d training faces", path, model.metadata.architecture,
             len(faces))
    chunks = []
    for i in tqdm(range(0, len(faces), TEACHER_BATCH), desc="teacher", unit="batch", disable=None):
        chunks.append(model.predict(faces[i:i + TEACHER_BATCH]))
    probs = np.concatenate(chunks).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    np.save(cache, probs)
    return probs


def distilled_targets(labels: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` of the teacher's probabilities plus the rest on the true label; each row sums to 1."""
    if not 0 <= weight <= 1:
        raise ValueError(f"the distillation weight is in [0, 1], got {weight}")
    onehot = np.eye(teacher.shape[1], dtype=np.float32)[labels]
    return (weight * teacher + (1 - weight) * onehot).astype(np.float32)


def load_donor(source: str | Path, option: str):
    """The ``.keras`` network of the model at ``source`` (named by ``option`` in the error if there is none)."""
    import keras

    path = model_paths(source)["keras"]
    if not path.exists():
        raise ModelError(f"{option} {source}: no .keras model at {path}")
    return keras.saving.load_model(path, compile=False)


def load_matching_layers(model, source: str | Path) -> int:
    """Copy the weights of every layer of ``model`` whose name and weight shapes match a layer of ``source``."""
    path = model_paths(source)["keras"]
    donor = {layer.name: layer for layer in load_donor(source, "--init-layers").layers}
    copied = []
    for layer in model.layers:
        other = donor.get(layer.name)
        if other is None or not layer.weights:
            continue
        mine, theirs = layer.get_weights(), other.get_weights()
        if [w.shape for w in mine] == [w.shape for w in theirs]:
            layer.set_weights(theirs)
            copied.append(layer.name)
    if not copied:
        raise ModelError(f"--init-layers {path}: no layer of this run's network matches one of its layers by name and shape")
    log.info("initial weights of %d layers from %s: %s", len(copied), path, ", ".join(copied))
    return len(copied)


def teacher_network(teacher: str | Path, views: str):
    """The teacher's ``.keras`` network averaging ``views`` (``export.TTA_VIEWS``), frozen, for online distillation."""
    import keras

    from ferstream.training.export import with_tta

    path = model_paths(teacher)["keras"]
    if not path.exists():
        raise ModelError(f"--teacher {teacher}: online distillation runs the teacher's .keras network; none at {path}")
    wrapped = with_tta(keras.saving.load_model(path, compile=False), views)
    wrapped.trainable = False
    return wrapped


def distillation_loss(weight: float, n_labels: int):
    """Loss for a trainer whose output is [student | teacher] probabilities: ``weight`` x cross-entropy against
    the teacher's probabilities + (1 - ``weight``) x cross-entropy against the true label (``y_true``)."""
    from keras import ops

    def distillation(y_true, y_pred):
        student = ops.clip(y_pred[:, :n_labels], 1e-7, 1.0)
        teacher = ops.stop_gradient(y_pred[:, n_labels:])
        soft = -ops.sum(teacher * ops.log(student), axis=-1)
        hard = -ops.sum(y_true * ops.log(student), axis=-1)
        return weight * soft + (1 - weight) * hard

    return distillation


def StudentAccuracy(n_labels: int):  # noqa: N802 (a metric, named as Keras names its own)
    """Accuracy of the student's probabilities: the first ``n_labels`` columns of the output (all of them without
    an online teacher); reported as ``accuracy`` so that checkpoints and logs read the same either way."""
    import keras
    from keras import ops

    def accuracy(y_true, y_pred):
        return ops.cast(ops.argmax(y_true, axis=-1) == ops.argmax(y_pred[:, :n_labels], axis=-1), "float32")

    return keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")
