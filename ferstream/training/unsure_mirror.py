"""The "flip-unsure" views of an export: a second look, the mirror image, only at the faces the network is least sure of.

Averaging each face with its mirror image (``--tta flip``) is worth about half a point on PublicTest but doubles the
cost. Most faces do not need it: where the network is sure, the mirror image rarely changes its answer. This export
runs the network once on the batch, picks the ``ceil(n / FACES_PER_MIRROR)`` faces whose highest probability is the
lowest, runs the network again on their mirror images, and averages those faces' two predictions. At the worker's
batch of 8 faces (``emotion_model.MAX_BATCH``) that is one face in 8: 1.125 network runs a face, whatever the faces,
so the cost is fixed and known. A batch of one face gets both views.

The picking runs inside the TFLite file (TensorFlow operations: the export is TensorFlow's converter), so the
worker's one-file contract holds: it calls the model as it calls any other.
"""

from __future__ import annotations

import keras

from ferstream.emotion_model import MAX_BATCH

#: one mirror view per this many faces in a model call: at the worker's batch, one face in each call
FACES_PER_MIRROR = MAX_BATCH


class LeastSure(keras.layers.Layer):
    """Indices of the ``ceil(n / FACES_PER_MIRROR)`` faces of the batch whose highest probability is the lowest."""

    def call(self, probs):
        import tensorflow as tf

        n = tf.shape(probs)[0]
        k = (n + FACES_PER_MIRROR - 1) // FACES_PER_MIRROR
        return tf.math.top_k(-tf.reduce_max(probs, axis=1), k=k).indices


class MirrorOf(keras.layers.Layer):
    """The mirror images of the faces at ``indices``."""

    def call(self, faces, indices):
        import tensorflow as tf

        return tf.reverse(tf.gather(faces, indices), axis=[2])


class AverageIn(keras.layers.Layer):
    """``probs`` with the rows at ``indices`` replaced by their mean with ``mirror_probs`` (one row per index)."""

    def call(self, probs, mirror_probs, indices):
        import tensorflow as tf

        picked = tf.one_hot(indices, depth=tf.shape(probs)[0], dtype=probs.dtype)  # k x n
        mirrored = tf.matmul(picked, mirror_probs, transpose_a=True)  # n x labels, zero where no mirror ran
        has_mirror = tf.reduce_sum(picked, axis=0)[:, None]
        return probs * (1 - 0.5 * has_mirror) + 0.5 * mirrored


def with_unsure_mirror(model: keras.Model, face: keras.KerasTensor) -> keras.KerasTensor:
    """The probabilities of ``model`` on ``face``, with the mirror view averaged in for the least sure faces."""
    probs = model(face)
    unsure = LeastSure(name="least_sure")(probs)
    mirror_probs = model(MirrorOf(name="mirror_of_least_sure")(face, unsure))
    return AverageIn(name="average_in_mirror")(probs, mirror_probs, unsure)
