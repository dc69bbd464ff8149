"""Averaging trained models into one: their probabilities, averaged inside one Keras model and one export,
or (``--combine weights``) their weights, averaged into one network of the same cost as each member.

Members are ``.keras`` models this training job produced (same input and labels); the result
keeps the model contract (``.keras``, ``.tflite``, ``.json``) and is scored like a trained model.
Run it as ``ferstream ensemble --models A.keras B.keras --data PATH --out DIR``. Given one model,
it exports that model again with the options given (``--tta``, ``--quantize``): the way to a
faster export of the shipped model, for one.

``--combine weights`` is a "model soup" (Wortsman et al., 2022): networks of one architecture
fine-tuned from a common start (successive runs of one student, say) lie in one basin, and the
mean of their weights often scores above each of them while costing what one costs a face. A
model listed twice counts twice. ``--greedy`` keeps only the members that do not lower the soup's
PublicTest accuracy, tried best first (the paper's "greedy soup"). The members' BatchNormalization
statistics are averaged too; ``--bn-stats plain`` then re-estimates those of the averaged network
(kept only if PublicTest does not drop). ``--class-prior data`` undoes training's class weights in
the output layer (``prior.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

from ferstream.emotion_model import EMOTIONS, FACE_SIZE, ModelMetadata, model_paths  # noqa: E402
from ferstream.errors import ModelError  # noqa: E402
from ferstream.training.batchnorm import reestimate_if_better  # noqa: E402
from ferstream.training.align_faces import framed  # noqa: E402
from ferstream.training.data import load_dataset  # noqa: E402
from ferstream.training.evaluate import evaluate_fer2013, evaluate_splits, keras_accuracy  # noqa: E402
from ferstream.training.export import calibration_faces, export_model  # noqa: E402
from ferstream.training.prior import shift_bias, shift_to_data_prior  # noqa: E402
from ferstream.training.train import epochs_in, record_accuracy  # noqa: E402

log = logging.getLogger(__name__)


def load_member(path: str | os.PathLike, index: int | None) -> keras.Model:
    """A trained model, checked against the contract, renamed (with an ``index``) so that several can nest in one model."""
    source = model_paths(path)["keras"]
    if not source.exists():
        raise ModelError(f"{path}: no .keras model at {source}")
    model = keras.saving.load_model(source, compile=False)
    if tuple(model.input_shape[1:]) != (FACE_SIZE, FACE_SIZE, 1) or model.output_shape[-1] != len(EMOTIONS):
        raise ModelError(f"{source}: input {model.input_shape} and output {model.output_shape} break the model contract "
                         f"(N x {FACE_SIZE} x {FACE_SIZE} x 1 in, N x {len(EMOTIONS)} out)")
    if index is None:
        return model
    return keras.Model(model.input, model.output, name=f"member{index}_{model.name}")


def build_ensemble(members: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' probabilities."""
    if len(members) < 2:
        raise ModelError("an ensemble needs at least two models")
    face = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    probs = keras.layers.Average(name="average")([m(face) for m in members])
    return keras.Model(face, probs, name=f"ensemble{len(members)}")


def average_weights(members: list[keras.Model]) -> keras.Model:
    """The first member with every weight (BatchNormalization statistics included) the mean of the members'."""
    if len(members) < 2:
        raise ModelError("averaging weights needs at least two models")
    check_one_architecture(members)
    members[0].set_weights(_mean([m.get_weights() for m in members]))
    return members[0]


def check_one_architecture(members: list[keras.Model]) -> None:
    shapes = [[w.shape for w in m.get_weights()] for m in members]
    for member, mine in zip(members[1:], shapes[1:]):
        if mine != shapes[0]:
            raise ModelError(f"--combine weights averages networks of one architecture: {member.name} differs from "
                             f"{members[0].name} ({len(mine)} weights against {len(shapes[0])}, or other shapes)")


def greedy_soup(members: list[keras.Model], faces: np.ndarray, labels: np.ndarray,
                names: list[str] | None = None) -> list[int]:
    """The "greedy soup" recipe: the members ranked by their own accuracy on ``faces`` (PublicTest), then each
    added to the average in turn and kept only if the average's accuracy does not drop. Returns the indexes of the
    members kept, best first. Every member must have one architecture (``check_one_architecture``)."""
    weights = [m.get_weights() for m in members]
    probe = keras.Model.from_config(members[0].get_config())

    def accuracy(ws: list[np.ndarray]) -> float:
        probe.set_weights(ws)
        return keras_accuracy(probe, faces, labels)

    names = names or [f"member {i + 1}" for i in range(len(members))]
    alone = [accuracy(w) for w in weights]
    order = sorted(range(len(members)), key=lambda i: -alone[i])
    kept, best = [order[0]], alone[order[0]]
    log.info("greedy soup: %s %.4f alone, the start", names[order[0]], best)
    for i in order[1:]:
        score = accuracy(_mean([weights[j] for j in [*kept, i]]))
        log.info("greedy soup: %s (%.4f alone) %s: %.4f against %.4f", names[i], alone[i],
                 "kept" if score >= best else "left out", score, best)
        if score >= best:
            kept, best = [*kept, i], score
    return kept


def _mean(weight_lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.mean(np.stack(ws), axis=0).astype(ws[0].dtype) for ws in zip(*weight_lists)]


def run(args: argparse.Namespace) -> dict:
    """Build, export and score the ensemble of ``args.models``; returns the metadata written."""
    alone = len(args.models) == 1
    soup = getattr(args, "combine", "probabilities") == "weights"
    if soup and alone:
        raise ModelError("--combine weights averages two or more models; list a model twice to give it twice the weight")
    if getattr(args, "greedy", False) and not soup:
        raise ModelError("--greedy chooses the models of a weight soup: give it with --combine weights")
    members = [load_member(p, None if alone or soup else i) for i, p in enumerate(args.models)]
    data = load_dataset(args.data, getattr(args, "votes", None))
    data.require("Training", "PublicTest")
    data = framed(data, getattr(args, "crop", "box"), getattr(args, "zoom", 1.0))
    if soup and getattr(args, "greedy", False):
        public = data.splits["PublicTest"].scored()
        check_one_architecture(members)
        kept = greedy_soup(members, public.faces, public.labels, list(args.models))
        log.info("greedy soup: %d of %d models kept: %s", len(kept), len(members), " ".join(args.models[i] for i in kept))
        members = [members[i] for i in kept]
        if len(members) == 1:
            members = [members[0], members[0]]  # none helped: the best alone (the mean of one network twice)
    if soup:
        members = [average_weights(members)]
        log.info("weights of %d models averaged into one %s network", len(args.models), members[0].name)
    if args.bn_stats == "plain":
        public = data.splits["PublicTest"].scored()
        for member in members:
            reestimate_if_better(member, data.splits["Training"].faces, public.faces, public.labels)
    if getattr(args, "class_prior", "as-trained") == "data":
        for member in members:
            shift_to_data_prior(member, data.splits["Training"].class_mass())
    for member in members:
        shift_bias(member, getattr(args, "bias_shift", []))
    model = members[0] if alone or soup else build_ensemble(members)
    epochs = max(map(_trained_epochs, args.models)) if alone or soup else 0
    out = Path(args.out)
    command = "ferstream " + " ".join(shlex.quote(a) for a in getattr(args, "argv", None) or ["ensemble"])
    paths = export_model(model, out / args.name, tta=args.tta, quantize=args.quantize,
                         calibration=calibration_faces(data.splits["Training"].faces), data_sha256=data.sha256,
                         epochs=epochs, version=args.version, training_command=command, crop=data.crop,
                         zoom=data.zoom)
    metrics = evaluate_splits(paths["tflite"], data, ("PublicTest", "PrivateTest"), out)
    if getattr(args, "fer2013", None):
        metrics.update(evaluate_fer2013(paths["tflite"], args.fer2013, out))
    meta = record_accuracy(paths["json"], metrics)
    log.info("exported %s: %d model(s), their %s averaged (%s accuracy %.4f)", paths["tflite"], len(args.models),
             "weights" if soup else "probabilities", next(iter(meta["accuracy"]), ""), next(iter(meta["accuracy"].values()), float("nan")))
    return meta


def _trained_epochs(path: str | os.PathLike) -> int:
    """The epochs a model's metadata records, or the epochs in the ``history.csv`` of the run it is the best
    checkpoint of (0 where neither is there): kept when one model is exported again."""
    meta = model_paths(path)["json"]
    if meta.exists():
        return ModelMetadata.read(meta).epochs
    return epochs_in(Path(path).parent / "history.csv")
