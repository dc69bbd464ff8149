"""Undoing the class weights of training in the exported network (``--class-prior data``).

Training weights each face by the inverse square root of its class's share of the Training split
(``train._class_weights``), which lifts the rare classes' recall (disgust, fear) at some cost in accuracy: the
network learns probabilities tilted by those weights. Adding half the log of each class's count to the final
layer's bias tilts them back (Bayes' rule with the weights divided out): the network then predicts at the data's
own class frequencies, one add per class, free at inference. Accuracy goes up, the rare classes' recall down.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from ferstream.emotion_model import EMOTIONS
from ferstream.errors import ModelError

log = logging.getLogger(__name__)

#: the final Dense layer (softmax) of every network the training job builds
OUTPUT_LAYER = "probabilities"


def prior_shift(counts: np.ndarray) -> np.ndarray:
    """What the output's bias gains per class: half the log of each class's count (``Split.class_mass``: faces, or
    votes; training's weights are 1/sqrt(count)), centred on zero. A class with no faces keeps its bias."""
    counts = np.asarray(counts, dtype=np.float64)
    shift = np.where(counts > 0, 0.5 * np.log(np.maximum(counts, 1)), 0.0)
    return (shift - shift[counts > 0].mean()) * (counts > 0)


def shift_bias(model: keras.Model, shifts: list[tuple[str, float]]) -> None:
    """Adds each (emotion, value) of ``shifts`` to that class's output bias, in place: the class prior chosen on real
    faces (``tools/levers/real_prior.py``), free at inference."""
    if not shifts:
        return
    layer = _output_layer(model, "--bias-shift")
    kernel, bias = layer.get_weights()
    for name, value in shifts:
        bias[EMOTIONS.index(name)] += value
    layer.set_weights([kernel, bias])
    log.info("output bias shifted: %s", ", ".join(f"{n} {v:+.2f}" for n, v in shifts))


def _output_layer(model: keras.Model, option: str):
    try:
        return model.get_layer(OUTPUT_LAYER)
    except ValueError as exc:
        raise ModelError(f"{option}: {model.name} has no {OUTPUT_LAYER!r} layer to shift") from exc


def shift_to_data_prior(model: keras.Model, counts: np.ndarray) -> np.ndarray:
    """Adds ``prior_shift(counts)`` to the bias of ``model``'s output layer in place; returns the shift."""
    layer = _output_layer(model, "--class-prior data")
    kernel, bias = layer.get_weights()
    shift = prior_shift(counts)
    layer.set_weights([kernel, (bias + shift).astype(bias.dtype)])
    log.info("output bias shifted to the Training split's class frequencies (+0.5 log count): %s",
             ", ".join(f"{e} {s:+.2f}" for e, s in zip(EMOTIONS, shift)))
    return shift
