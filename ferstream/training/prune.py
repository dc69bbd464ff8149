"""A narrower network cut from a trained one: the start of a pruned student (``ferstream train --prune-from``).

Each convolution keeps its filters with the largest L1 norms (Li et al., "Pruning Filters for Efficient
ConvNets", 2017), its BatchNormalization keeps the same channels, and the next convolution (or the classifier)
keeps the matching input channels. Dropping whole convolutions of this plain (non-residual) network instead
leaves it near chance, whichever are dropped; narrowing it keeps much of what it learned.
"""

from __future__ import annotations

import logging

import numpy as np

from ferstream.errors import ModelError

log = logging.getLogger(__name__)


def _convolutions(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def narrow(donor, student) -> None:
    """Set ``student``'s weights to ``donor``'s most important channels; both built by ``model.build_model``
    with the same depths, ``student`` no wider than ``donor`` anywhere."""
    import keras

    mine, theirs = _convolutions(student), _convolutions(donor)
    if [c.name for c in mine] != [c.name for c in theirs]:
        raise ModelError(f"--prune-from: {donor.name} and this run's {student.name} differ in depth: "
                         "a narrower student keeps its teacher's --depths")
    wider = [(c.name, c.filters, t.filters) for c, t in zip(mine, theirs) if c.filters > t.filters]
    if wider:
        name, want, have = wider[0]
        raise ModelError(f"--prune-from: {name} would need {want} channels, {donor.name} has {have}: --widths can only narrow it")
    kept_in = np.arange(theirs[0].get_weights()[0].shape[2])
    for conv, source in zip(mine, theirs):
        kernel = source.get_weights()[0][:, :, kept_in]  # 3 x 3 x in x out
        kept = np.sort(np.argsort(-np.abs(kernel).sum(axis=(0, 1, 2)), kind="stable")[: conv.filters])
        conv.set_weights([kernel[..., kept]])
        norm = conv.name.replace("_conv", "_bn")
        student.get_layer(norm).set_weights([w[kept] for w in donor.get_layer(norm).get_weights()])
        kept_in = kept
    classifier = [layer for layer in student.layers if isinstance(layer, keras.layers.Dense)][-1]
    kernel, bias = donor.get_layer(classifier.name).get_weights()
    classifier.set_weights([kernel[kept_in], bias])
    log.info("initial weights: %s narrowed to %s (the filters with the largest L1 norms)", donor.name, student.name)
