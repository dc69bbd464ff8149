"""The training job: FER-2013 in, a model, its metrics and plots out.

Sections, top to bottom: setup, data, model, train, evaluate, export.
Run it as ``ferstream train --data PATH`` or ``python -m ferstream.training --data PATH``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from ferstream.emotion_model import EMOTIONS  # noqa: E402
from ferstream.errors import ConfigError, DataError  # noqa: E402
from ferstream.training.data import load_dataset  # noqa: E402
from ferstream.training.distill import distilled_targets, load_matching_layers, teacher_probabilities  # noqa: E402
from ferstream.training.evaluate import evaluate_splits  # noqa: E402
from ferstream.training.export import calibration_faces, export_model  # noqa: E402
from ferstream.training.model import build_augmentation, build_model  # noqa: E402

log = logging.getLogger(__name__)

DEFAULT_WARMUP_EPOCHS = 3


def run(args: argparse.Namespace) -> dict:
    """Train, evaluate and export; returns the metadata written."""
    # ---- setup -------------------------------------------------------------
    out = Path(args.out)
    backup = out / "backup"
    if not 0 <= args.distill_weight <= 1:
        raise ConfigError(f"--distill-weight is a share in [0, 1], got {args.distill_weight}")
    if backup.exists() and not args.resume:
        raise DataError(f"{out} holds a checkpoint of an earlier run: pass --resume to continue it, or choose another --out")
    if args.resume and not backup.exists():
        log.warning("--resume: no checkpoint in %s, starting afresh", out)

    # ---- data --------------------------------------------------------------
    t0 = time.time()
    data = load_dataset(args.data)
    data.require("Training", "PublicTest")
    train, public = data.splits["Training"], data.splits["PublicTest"]
    log.info("data: %s (%.1fs) Training %d, PublicTest %d%s", data.source, time.time() - t0, len(train), len(public),
             f", PrivateTest {len(data.splits['PrivateTest'])} (reported, never selected on)" if "PrivateTest" in data.splits else "")

    keras.utils.set_random_seed(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    targets = np.eye(len(EMOTIONS), dtype=np.float32)[train.labels]
    if args.teacher:
        teacher = teacher_probabilities(args.teacher, train.faces, data.sha256, out)
        targets = distilled_targets(train.labels, teacher, args.distill_weight)
        log.info("distilling: targets are %.2f x the teacher's probabilities + %.2f x the true label",
                 args.distill_weight, 1 - args.distill_weight)
    train_ds = _train_dataset(train.faces, train.labels, targets, args.batch_size, args.seed,
                              build_augmentation(args.seed))
    val_ds = _eval_dataset(public.faces, public.labels)

    # ---- model -------------------------------------------------------------
    widths = tuple(int(w) for w in args.widths.split(","))
    depths = tuple(int(d) for d in args.depths.split(","))
    model = build_model(widths=widths, depths=depths)
    if not (args.resume and backup.exists()):
        if args.init:
            _load_initial_weights(model, args.init)
        if args.init_layers:
            load_matching_layers(model, args.init_layers)
    steps = math.ceil(len(train) / args.batch_size)
    warmup = min(DEFAULT_WARMUP_EPOCHS, max(args.epochs - 1, 0)) * steps
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=args.learning_rate / 10,
        decay_steps=max(args.epochs * steps - warmup, 1),
        warmup_target=args.learning_rate,
        warmup_steps=warmup,
        alpha=0.01,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=5e-3),
        # the teacher's probabilities are soft already: label smoothing only for the hard labels
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.0 if args.teacher else 0.1),
        metrics=["accuracy"],
    )
    log.info("model: %s, %d parameters", model.name, model.count_params())

    # ---- train -------------------------------------------------------------
    best_path = out / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(best_path, monitor="val_accuracy", mode="max", save_best_only=True)
    history_path = out / "history.csv"
    previous_best = _best_so_far(history_path) if args.resume else None
    if previous_best is not None and best_path.exists():
        checkpoint.best = previous_best  # a resumed run keeps the best of the killed one
    elif not args.resume and history_path.exists():
        history_path.unlink()
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False),
        checkpoint,
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=args.patience),
        keras.callbacks.CSVLogger(str(history_path), append=True),
        EpochLog(args.epochs),
    ]
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, callbacks=callbacks,
              verbose=1 if sys.stderr.isatty() else 0)

    # ---- evaluate and export ---------------------------------------------
    best = keras.saving.load_model(best_path) if best_path.exists() else model
    epochs_run = _epochs_in(history_path)
    command = "ferstream " + " ".join(shlex.quote(a) for a in getattr(args, "argv", None) or ["train"])
    paths = export_model(best, out / args.name, tta=args.tta, quantize=args.quantize,
                         calibration=calibration_faces(train.faces, seed=args.seed), data_sha256=data.sha256,
                         epochs=epochs_run, version=args.version, training_command=command)
    metrics = evaluate_splits(paths["tflite"], data, ("PublicTest", "PrivateTest"), out)
    meta = record_accuracy(paths["json"], metrics)
    log.info("exported %s (PublicTest accuracy %.4f)", paths["tflite"], meta["accuracy"].get("PublicTest", float("nan")))
    return meta


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch with the metrics, elapsed time and ETA."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_train_begin(self, logs=None):
        self.start = time.time()
        self.first = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first is None:
            self.first = epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.time() - self.start
        eta = elapsed / (epoch + 1 - self.first) * (self.epochs - epoch - 1)
        log.info("epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  elapsed %s  ETA %s",
                 epoch + 1, self.epochs, logs.get("loss", float("nan")), logs.get("accuracy", float("nan")),
                 logs.get("val_loss", float("nan")), logs.get("val_accuracy", float("nan")),
                 _hms(elapsed), _hms(eta))


def _load_initial_weights(model: keras.Model, path: str) -> None:
    from ferstream.emotion_model import model_paths
    from ferstream.errors import ModelError

    source = model_paths(path)["keras"]
    if not source.exists():
        raise ModelError(f"--init {path}: no .keras model at {source}")
    donor = keras.saving.load_model(source, compile=False)
    try:
        model.set_weights(donor.get_weights())
    except ValueError as exc:
        raise ModelError(f"--init {source}: its architecture ({donor.name}) differs from this run's ({model.name}): {exc}") from exc
    log.info("initial weights from %s", source)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _class_weights(labels: np.ndarray) -> np.ndarray:
    """Square-root inverse class frequency, mean 1 over the samples: helps rare classes without wrecking accuracy."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return (weights / (weights[labels].mean())).astype(np.float32)


def _train_dataset(faces, labels, targets, batch_size, seed, augmentation):
    weights = _class_weights(labels)[labels]
    ds = tf.data.Dataset.from_tensor_slices((faces[..., None], targets, weights))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    ds = ds.map(lambda x, y, w: (augmentation(tf.cast(x, tf.float32), training=True), y, w),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _eval_dataset(faces, labels):
    onehot = np.eye(len(EMOTIONS), dtype=np.float32)[labels]
    ds = tf.data.Dataset.from_tensor_slices((faces[..., None].astype(np.float32), onehot))
    return ds.batch(512).prefetch(tf.data.AUTOTUNE)


def _read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _best_so_far(path: Path) -> float | None:
    values = [float(r["val_accuracy"]) for r in _read_history(path) if r.get("val_accuracy")]
    return max(values) if values else None


def _epochs_in(path: Path) -> int:
    return len({r["epoch"] for r in _read_history(path)})


def record_accuracy(json_path: Path, metrics: dict) -> dict:
    """Write the measured accuracy per split into the model's metadata; returns the metadata."""
    meta = json.loads(json_path.read_text())
    meta["accuracy"] = {split: round(m["accuracy"], 4) for split, m in metrics.items()}
    json_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta
