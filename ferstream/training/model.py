"""The emotion CNN and its training-time augmentation.

A VGG-style network sized for fast batched inference on two CPU cores:
conv-BN-ReLU blocks at 48, 24, 12 and 6 pixels, global average pooling and a
softmax. Rescaling lives inside the model so the worker feeds raw grey levels.
"""

from __future__ import annotations

import keras
from keras import layers

from ferstream.emotion_model import EMOTIONS, FACE_SIZE

#: channels per stage and convolutions per stage of the default network
DEFAULT_WIDTHS = (32, 64, 128, 256)
DEFAULT_DEPTHS = (2, 2, 3, 3)
#: --precision choices and their Keras dtype policies
PRECISIONS = {"float32": "float32", "mixed-bfloat16": "mixed_bfloat16"}


def build_model(
    num_classes: int = len(EMOTIONS),
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    depths: tuple[int, ...] = DEFAULT_DEPTHS,
    dropout: float = 0.4,
    precision: str = "float32",
) -> keras.Model:
    """The classifier: 48x48x1 grey levels in 0..255 in, class probabilities out.

    ``precision="mixed-bfloat16"`` computes in bfloat16 with float32 weights (Keras's ``mixed_bfloat16`` policy): on
    2 cores of a CPU with AMX (lscpu flag ``amx_bf16``) a training step of 128 faces of the 105 M multiply-add
    student took 592 ms against 758 ms in float32 (``bench/train_step.py``). The probabilities stay float32;
    ``float32_copy`` gives the network to save and export.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision is one of {', '.join(PRECISIONS)}, got {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        return _build(num_classes, widths, depths, dropout)
    finally:
        keras.config.set_dtype_policy(previous)


def _build(num_classes, widths, depths, dropout) -> keras.Model:
    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        for i in range(depth):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"s{stage}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{i}")(x)
            x = layers.Activation("relu", name=f"s{stage}_relu{i}")(x)
        if stage < len(widths) - 1:
            x = layers.MaxPooling2D(name=f"s{stage}_pool")(x)
            x = layers.SpatialDropout2D(0.1 * (stage + 1) / len(widths), name=f"s{stage}_drop")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    name = "vgg" + "-".join(f"{w}x{d}" for w, d in zip(widths, depths))
    return keras.Model(inputs, outputs, name=name)


def multiply_adds(widths: tuple[int, ...] = DEFAULT_WIDTHS, depths: tuple[int, ...] = DEFAULT_DEPTHS) -> int:
    """Multiply-adds per face and view of ``build_model(widths=..., depths=...)``: its convolutions and classifier.

    On a CPU without AVX-512 the inference time follows this count (model card, "Smaller models").
    """
    total, channels = 0, 1
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        side = FACE_SIZE // 2**stage
        for _ in range(depth):
            total += side * side * 9 * channels * width
            channels = width
    return total + channels * len(EMOTIONS)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` with every layer computing in float32 and the same weights: what a mixed-precision run saves,
    so that checkpoints, BN re-estimation and the TFLite export see the plain float32 network."""
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def plain(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=plain)
    copy.set_weights(model.get_weights())
    return copy


def build_augmentation(seed: int = 0) -> keras.Sequential:
    """Training-time augmentation on batches of 0..255 grey faces."""
    augmentation = keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.03, fill_mode="reflect", seed=seed + 1),  # about +-11 degrees
            layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed + 2),
            layers.RandomZoom((-0.12, 0.12), fill_mode="reflect", seed=seed + 3),
            layers.RandomContrast(0.3, value_range=(0, 255), seed=seed + 4),
            layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(0, 255), seed=seed + 5),
        ],
        name="augmentation",
    )
    if keras.backend.backend() == "jax":
        # Keras marks its affine-transform layers as not XLA-compilable (true of TensorFlow's kernel), and one such
        # layer keeps the whole training step out of jit, op by op: 167 against 94 ms a step of 128 faces on 2 CPU
        # cores, and minutes an epoch on a GPU. JAX's own implementation compiles
        # (test_training_on_jax_compiles_one_step_and_its_checkpoint_exports_here).
        for layer in augmentation.layers:
            layer.supports_jit = True
    return augmentation


def build_trainer(model: keras.Model, augmentation: keras.Sequential, teacher: keras.Model | None = None) -> keras.Model:
    """The model that is fitted: faces -> augmentation -> ``model``, the augmentation active in training only.

    With an online ``teacher``, the output is the student's probabilities and then the teacher's for the same
    augmented faces (N x 2 labels), the teacher frozen and in inference mode. Its weights are ``model``'s own:
    training the trainer trains ``model``, which is what gets saved and exported.
    """
    face = keras.Input(model.input_shape[1:], name="face")
    seen = augmentation(face)
    student = model(seen)
    if teacher is None:
        return keras.Model(face, student, name=f"{model.name}_trainer")
    taught = InferenceOnly(teacher, name="teacher")(seen)
    return keras.Model(face, keras.layers.Concatenate(name="student_teacher")([student, taught]),
                       name=f"{model.name}_distiller")


class InferenceOnly(keras.layers.Layer):
    """A frozen network that always runs in inference mode (no dropout, BN statistics as trained), also inside a
    model that is training: a functional graph would otherwise hand it the trainer's ``training=True``."""

    def __init__(self, network: keras.Model, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.network = network

    def call(self, inputs):
        return self.network(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.network.compute_output_shape(input_shape)
