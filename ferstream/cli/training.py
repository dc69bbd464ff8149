"""``ferstream train``, ``ferstream ensemble`` and ``ferstream evaluate``: the emotion model (TensorFlow/Keras,
imported only when one runs; their arguments live in ``ferstream.training.cli``)."""

from __future__ import annotations

import argparse

from ferstream.console import run_command
from ferstream.errors import FerstreamError


def register(sub) -> None:
    """train, ensemble and evaluate."""
    from ferstream.training.cli import add_ensemble_arguments, add_evaluate_arguments, add_train_arguments

    p = sub.add_parser("train", help="train the emotion model on FER-2013", description="Train the emotion CNN on FER-2013 and export it (.keras, .tflite, .json).")
    add_train_arguments(p).set_defaults(handler=_train)
    p = sub.add_parser("ensemble", help="average trained models into one exported model, or export one again",
                       description="Average the probabilities of two or more trained .keras models in one model, export it "
                                   "(.keras, .tflite, .json) and score it on FER-2013 like a trained model. Given one model, "
                                   "export it again with other --tta or --quantize options (for example the shipped model "
                                   "with --tta flip: a little over half the inference time).")
    add_ensemble_arguments(p).set_defaults(handler=_ensemble)
    p = sub.add_parser("evaluate", help="score a model on FER-2013", description="Accuracy, per-class precision/recall/F1 and a confusion-matrix PNG of a model on FER-2013 (either layout).")
    add_evaluate_arguments(p).set_defaults(handler=_evaluate)


def training_module(name: str):
    """A module of the training job; a clear error naming the extra to install when TensorFlow/Keras is missing."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in ("keras", "tensorflow"):
            raise FerstreamError(f"training needs TensorFlow and Keras ({exc.name} is not installed): install the "
                                 "training extra, pip install 'ferstream[train]'") from exc
        raise


def _train(args: argparse.Namespace) -> int:
    return run_command(lambda: training_module("ferstream.training.train").run(args))


def _ensemble(args: argparse.Namespace) -> int:
    return run_command(lambda: training_module("ferstream.training.ensemble").run(args))


def _evaluate(args: argparse.Namespace) -> int:
    return run_command(lambda: training_module("ferstream.training.evaluate").evaluate(args.model, args.data, args.split, args.out, args.votes,
                                                                                           args.crop))
