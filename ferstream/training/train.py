"""The training job: FER-2013 in, a model, its metrics and plots out.

Sections, top to bottom: setup, data, model, train, evaluate, export.
Run it as ``ferstream train --data PATH`` or ``python -m ferstream.training --data PATH``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
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

from ferstream.emotion_model import EMOTIONS  # noqa: E402
from ferstream.errors import ConfigError, DataError, ModelError  # noqa: E402
from ferstream.training.align_faces import framed  # noqa: E402
from ferstream.training.batchnorm import reestimate, reestimate_if_better  # noqa: E402
from ferstream.training.data import Split, load_dataset, load_extra  # noqa: E402
from ferstream.training.distill import (  # noqa: E402
    StudentAccuracy,
    distillation_loss,
    distilled_targets,
    load_donor,
    load_matching_layers,
    teacher_network,
    teacher_probabilities,
)
from ferstream.training.evaluate import evaluate_fer2013, evaluate_splits  # noqa: E402
from ferstream.training.export import calibration_faces, export_model  # noqa: E402
from ferstream.training.face_join import labels_by_face  # noqa: E402
from ferstream.training.model import build_augmentation, build_model, build_trainer, float32_copy, multiply_adds  # noqa: E402
from ferstream.training.prune import narrow  # noqa: E402
from ferstream.training.prior import shift_bias, shift_to_data_prior  # noqa: E402
from ferstream.training.votes import class_weights  # noqa: E402

log = logging.getLogger(__name__)

DEFAULT_WARMUP_EPOCHS = 3


def run(args: argparse.Namespace) -> dict:
    """Train, evaluate and export; returns the metadata written."""
    # ---- setup -------------------------------------------------------------
    out = Path(args.out)
    backup = out / "backup"
    if not 0 <= args.distill_weight <= 1:
        raise ConfigError(f"--distill-weight is a share in [0, 1], got {args.distill_weight}")
    if args.prune_from and (args.init or args.init_layers):
        raise ConfigError("--prune-from sets every initial weight: leave out --init and --init-layers")
    if args.distill == "online" and not args.teacher:
        raise ConfigError("--distill online runs a teacher in every step: name it with --teacher MODEL")
    if args.ema is not None and not 0 < args.ema < 1:
        raise ConfigError(f"--ema is a momentum in (0, 1), e.g. 0.999, got {args.ema}")
    if getattr(args, "class_weights", "sqrt") == "none" and getattr(args, "class_prior", "as-trained") == "data":
        raise ConfigError("--class-prior data undoes the class weights of training: with --class-weights none there "
                          "are none to undo")
    fer2013_weight = getattr(args, "fer2013_weight", 0.0) or 0.0
    if not 0 <= fer2013_weight < 1:
        raise ConfigError(f"--fer2013-weight is a share in [0, 1), got {fer2013_weight}")
    if fer2013_weight and args.teacher:
        raise ConfigError("--fer2013-weight mixes FER-2013's labels into FER+'s votes; with --teacher the targets are "
                          "the teacher's: leave one of them out")
    if backup.exists() and not args.resume:
        raise DataError(f"{out} holds a checkpoint of an earlier run: pass --resume to continue it, or choose another --out")
    if args.resume and not backup.exists():
        log.warning("--resume: no checkpoint in %s, starting afresh", out)

    # ---- data --------------------------------------------------------------
    t0 = time.time()
    data = load_dataset(args.data, getattr(args, "votes", None))
    data.require("Training", "PublicTest")
    if fer2013_weight:  # matched to FER-2013's faces by their own pixels, before any alignment
        data = dataclasses.replace(data, splits={**data.splits, "Training": with_fer2013_labels(data.splits["Training"], args)})
    data = framed(data, getattr(args, "crop", "box"), getattr(args, "zoom", 1.0))
    # with votes, PublicTest is scored (and checkpoints chosen) on the faces a clear majority labels
    train, public = data.splits["Training"], data.splits["PublicTest"].scored()
    if getattr(args, "extra", None):
        extra_faces, extra_labels = load_extra(args.extra, data.crop, data.zoom)
        train = train.extended(extra_faces, extra_labels)
        log.info("extra: %d labelled faces from %s added to Training (%s)", len(extra_labels), args.extra,
                 ", ".join(f"{e} {n}" for e, n in zip(EMOTIONS, np.bincount(extra_labels, minlength=len(EMOTIONS)))))
    voted = train.votes is not None
    log.info("data: %s (%.1fs) Training %d, PublicTest %d%s%s", data.source, time.time() - t0, len(train), len(public),
             f", PrivateTest {len(data.splits['PrivateTest'])} (reported, never selected on)" if "PrivateTest" in data.splits else "",
             "; learning FER+'s vote distributions, PublicTest scored on its majority votes" if voted else "")

    keras.utils.set_random_seed(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    targets = train.targets(fer2013_weight)
    online = bool(args.teacher) and args.distill == "online"
    if args.teacher and not online:
        teacher = teacher_probabilities(args.teacher, train.faces, data.sha256, out)
        targets = distilled_targets(train.labels, teacher, args.distill_weight)
        log.info("distilling: targets are %.2f x the teacher's probabilities + %.2f x the true label",
                 args.distill_weight, 1 - args.distill_weight)

    # ---- model -------------------------------------------------------------
    widths = tuple(int(w) for w in args.widths.split(","))
    depths = tuple(int(d) for d in args.depths.split(","))
    model = build_model(widths=widths, depths=depths, precision=args.precision)
    if not (args.resume and backup.exists()):
        if args.init:
            _load_initial_weights(model, args.init)
        if args.init_layers:
            load_matching_layers(model, args.init_layers)
        if args.prune_from:
            narrow(load_donor(args.prune_from, "--prune-from"), model)
            reestimate(model, train.faces, seed=args.seed)
    teacher_net = teacher_network(args.teacher, args.teacher_tta) if online else None
    if online:
        log.info("distilling online: each step, the teacher (%s, %s views) sees the same augmented faces as the "
                 "student; loss %.2f x its probabilities + %.2f x the true label", teacher_net.name, args.teacher_tta,
                 args.distill_weight, 1 - args.distill_weight)
    # the augmentation (and an online teacher) inside the model that is fitted: one compiled step on any Keras backend
    trainer = build_trainer(model, build_augmentation(args.seed), teacher_net)
    if args.time_budget:  # the same warm-up and cosine decay, run on the clock (ClockSchedule), one rate per epoch
        schedule = args.learning_rate / 10
    else:
        steps = math.ceil(len(train) / args.batch_size)
        warmup = min(DEFAULT_WARMUP_EPOCHS, max(args.epochs - 1, 0)) * steps
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=args.learning_rate / 10,
            decay_steps=max(args.epochs * steps - warmup, 1),
            warmup_target=args.learning_rate,
            warmup_steps=warmup,
            alpha=0.01,
        )
    trainer.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=5e-3, use_ema=args.ema is not None,
                                         ema_momentum=args.ema or 0.99),
        # the teacher's probabilities and the votes are soft already: label smoothing only for the hard labels
        loss=(distillation_loss(args.distill_weight, len(EMOTIONS)) if online
              else keras.losses.CategoricalCrossentropy(label_smoothing=0.0 if args.teacher or voted else 0.1)),
        metrics=[StudentAccuracy(len(EMOTIONS))],
    )
    log.info("model: %s, %d parameters, %.1f M multiply-adds a face and view (%s backend, %s, %s)", model.name,
             model.count_params(), multiply_adds(widths, depths) / 1e6, keras.backend.backend(),
             "one XLA-compiled step" if trainer.jit_compile else "steps not XLA-compiled", args.precision)

    # ---- train -------------------------------------------------------------
    best_path = out / "best.keras"
    checkpoint = SaveBest(model, best_path, every_epoch=out / "epochs" if getattr(args, "keep_epochs", False) else None)
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
        EpochLog(args.epochs, args.time_budget),
    ]
    if args.ema is not None:
        # after the backup, which keeps the weights being trained (a resumed run carries on with them), and before
        # the checkpoint: the average is in the network for validation and for SaveBest, then swapped out again
        callbacks.insert(1, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
        log.info("weights averaged (EMA, momentum %s): PublicTest scored and checkpoints saved with the average", args.ema)
    if args.time_budget:
        clock = ClockSchedule(args.learning_rate, args.time_budget, _elapsed_so_far(history_path) if args.resume else 0.0)
        callbacks.insert(0, clock)  # first: its elapsed_s reaches the history
        log.info("time budget %s: the learning rate follows the clock; at most %d epochs", _hms(args.time_budget), args.epochs)
    onehot_public = np.eye(len(EMOTIONS), dtype=np.float32)[public.labels]  # FER+: the majority of a clear vote
    weights = None
    if getattr(args, "class_weights", "sqrt") == "sqrt":
        weights = class_weights(train.votes) if voted else _class_weights(train.labels)[train.labels]
    trainer.fit(train.faces[..., None].astype(np.float32), targets, sample_weight=weights,
                batch_size=args.batch_size, shuffle=True, epochs=args.epochs, callbacks=callbacks,
                validation_data=(public.faces[..., None].astype(np.float32), onehot_public), validation_batch_size=512,
                verbose=1 if sys.stderr.isatty() else 0)

    # ---- evaluate and export ---------------------------------------------
    best = keras.saving.load_model(best_path) if best_path.exists() else float32_copy(model)
    if args.bn_stats == "plain":
        reestimate_if_better(best, train.faces, public.faces, public.labels)
    if getattr(args, "class_prior", "as-trained") == "data":
        shift_to_data_prior(best, train.class_mass())
    shift_bias(best, getattr(args, "bias_shift", []))
    epochs_run = epochs_in(history_path)
    if keras.backend.backend() != "tensorflow":  # the TFLite converter is TensorFlow's
        log.info("trained with the %s backend; the TFLite export needs TensorFlow. On a machine with it, export and "
                 "score the best checkpoint: ferstream ensemble --models %s --data %s --tta %s --class-prior %s --out %s%s",
                 keras.backend.backend(), best_path, args.data, args.tta, getattr(args, "class_prior", "as-trained"),
                 out / "export", f" --crop {data.crop} --zoom {data.zoom:g}" if data.crop != "box" else "")
        return {"best": str(best_path), "epochs": epochs_run, "best_val_accuracy": checkpoint.best}
    command = "ferstream " + " ".join(shlex.quote(a) for a in getattr(args, "argv", None) or ["train"])
    paths = export_model(best, out / args.name, tta=args.tta, quantize=args.quantize,
                         calibration=calibration_faces(train.faces, seed=args.seed), data_sha256=data.sha256,
                         epochs=epochs_run, version=args.version, training_command=command, crop=data.crop,
                         zoom=data.zoom)
    metrics = evaluate_splits(paths["tflite"], data, ("PublicTest", "PrivateTest"), out)
    if getattr(args, "fer2013", None):  # FER-2013's own single labels beside FER+'s votes
        metrics.update(evaluate_fer2013(paths["tflite"], args.fer2013, out))
    meta = record_accuracy(paths["json"], metrics)
    log.info("exported %s (%s accuracy %.4f)", paths["tflite"], next(iter(meta["accuracy"]), ""), next(iter(meta["accuracy"].values()), float("nan")))
    return meta


def with_fer2013_labels(train: Split, args: argparse.Namespace) -> Split:
    """``train`` (FER+ votes) with FER-2013's own label of each face where it is known: from ``--votes``' row join,
    or else from the ``--fer2013`` file, matched face by face (``face_join``)."""
    if train.votes is None:
        raise ConfigError("--fer2013-weight mixes FER-2013's labels into FER+'s votes: --data must hold FER+ votes "
                          "(or pass --votes)")
    if train.fer2013_labels is None:
        if not getattr(args, "fer2013", None):
            raise ConfigError("--fer2013-weight needs FER-2013's labels for the FER+ faces: pass --fer2013 CSV (its "
                              "faces are matched to FER+'s), or join Kaggle's fer2013.csv with --votes")
        reference = load_dataset(args.fer2013)
        if "Training" not in reference.splits or reference.splits["Training"].votes is not None:
            raise DataError(f"--fer2013 {args.fer2013}: expected FER-2013's single labels with a Training split")
        t0 = time.time()
        known = labels_by_face(train.faces, reference.splits["Training"].faces, reference.splits["Training"].labels)
        train = dataclasses.replace(train, fer2013_labels=known)
        log.info("--fer2013-weight: matched %d of %d Training faces to %s face by face (%.1fs)", (known >= 0).sum(),
                 len(known), args.fer2013, time.time() - t0)
    known = train.fer2013_labels >= 0
    agree = float((train.fer2013_labels[known] == train.labels[known]).mean()) if known.any() else float("nan")
    log.info("--fer2013-weight %.2f: %d Training faces learn their FER-2013 label beside the votes (it is FER+'s most "
             "voted emotion for %.1f%% of them)", args.fer2013_weight, known.sum(), 100 * agree)
    return train


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch with the metrics, elapsed time and ETA."""

    def __init__(self, epochs: int, budget_s: float | None = None):
        super().__init__()
        self.epochs, self.budget = epochs, budget_s

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
        if self.budget:
            eta = min(eta, max(self.budget - float(logs.get("elapsed_s", elapsed)), 0.0))
        log.info("epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  elapsed %s  ETA %s",
                 epoch + 1, self.epochs, logs.get("loss", float("nan")), logs.get("accuracy", float("nan")),
                 logs.get("val_loss", float("nan")), logs.get("val_accuracy", float("nan")),
                 _hms(elapsed), _hms(eta))


class ClockSchedule(keras.callbacks.Callback):
    """Warm-up and cosine decay over a time budget instead of a number of epochs (``--time-budget``).

    Before each epoch the learning rate is set from the share of the budget spent: a warm-up from a tenth of the
    peak over the first 5%, then cosine decay to 1% of the peak. Training stops when another epoch as long as the
    last would overrun the budget, so the schedule ends near its end whatever the machine's speed. The seconds spent are
    written to the history (``elapsed_s``), and a resumed run continues the clock from there.
    """

    WARMUP = 0.05

    def __init__(self, peak: float, budget_s: float, spent_s: float = 0.0):
        super().__init__()
        self.peak, self.budget, self.spent = peak, float(budget_s), float(spent_s)

    def rate(self, share: float) -> float:
        share = min(max(share, 0.0), 1.0)
        if share < self.WARMUP:
            return self.peak * (0.1 + 0.9 * share / self.WARMUP)
        progress = (share - self.WARMUP) / (1 - self.WARMUP)
        return self.peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

    def on_train_begin(self, logs=None):
        self.start = time.time() - self.spent

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.first_step_done = time.time()
        self.model.optimizer.learning_rate = self.rate((self.epoch_start - self.start) / self.budget)

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:  # the first step of a run compiles it (minutes on a GPU): not a measure of the next epoch
            self.first_step_done = time.time()

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        last = now - self.first_step_done
        if logs is not None:
            logs["elapsed_s"] = round(now - self.start, 1)
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if now - self.start + last > self.budget:
            log.info("time budget: %s spent, another epoch would overrun %s; stopping", _hms(now - self.start),
                     _hms(self.budget))
            self.model.stop_training = True


class SaveBest(keras.callbacks.Callback):
    """Saves ``model`` (the network alone, not the trainer around it, in float32) whenever PublicTest accuracy is the
    best yet; with ``every_epoch`` (a folder) also after every epoch, as ``epoch-NNN.keras`` (1-based)."""

    def __init__(self, model: keras.Model, path: Path, every_epoch: Path | None = None):
        super().__init__()
        self.network, self.path, self.best, self.every_epoch = model, path, -math.inf, every_epoch

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_accuracy")
        better = value is not None and value > self.best
        if not (better or self.every_epoch):
            return
        network = float32_copy(self.network)
        if better:
            self.best = float(value)
            network.save(self.path)
        if self.every_epoch:
            self.every_epoch.mkdir(parents=True, exist_ok=True)
            network.save(self.every_epoch / f"epoch-{epoch + 1:03d}.keras")


def _load_initial_weights(model: keras.Model, path: str) -> None:
    donor = load_donor(path, "--init")
    try:
        model.set_weights(donor.get_weights())
    except ValueError as exc:
        raise ModelError(f"--init {path}: its architecture ({donor.name}) differs from this run's ({model.name}): {exc}") from exc
    log.info("initial weights from %s", path)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _class_weights(labels: np.ndarray) -> np.ndarray:
    """Square-root inverse class frequency, mean 1 over the samples: helps rare classes without wrecking accuracy."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return (weights / (weights[labels].mean())).astype(np.float32)


def _read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _best_so_far(path: Path) -> float | None:
    values = [float(r["val_accuracy"]) for r in _read_history(path) if r.get("val_accuracy")]
    return max(values) if values else None


def _elapsed_so_far(path: Path) -> float:
    values = [float(r["elapsed_s"]) for r in _read_history(path) if r.get("elapsed_s")]
    return max(values) if values else 0.0


def epochs_in(path: Path) -> int:
    """The epochs a run's ``history.csv`` records (0 where there is none)."""
    return len({r["epoch"] for r in _read_history(path)})


def record_accuracy(json_path: Path, metrics: dict) -> dict:
    """Write the measured accuracy per split into the model's metadata; returns the metadata."""
    meta = json.loads(json_path.read_text())
    meta["accuracy"] = {split: round(m["accuracy"], 4) for split, m in metrics.items()}
    json_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta
