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


def build_model(
    num_classes: int = len(EMOTIONS),
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    depths: tuple[int, ...] = DEFAULT_DEPTHS,
    dropout: float = 0.4,
) -> keras.Model:
    """The classifier: 48x48x1 grey levels in 0..255 in, class probabilities out."""
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


def build_augmentation(seed: int = 0) -> keras.Sequential:
    """Training-time augmentation on batches of 0..255 grey faces."""
    return keras.Sequential(
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
