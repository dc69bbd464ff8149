"""Command-line arguments of ``ferstream train`` and ``ferstream evaluate``.

Kept apart from the job modules so that ``--help`` answers without importing
TensorFlow.
"""

from __future__ import annotations

import argparse
import sys

#: epochs of the cosine learning-rate schedule
DEFAULT_EPOCHS = 60
#: faces per training step
DEFAULT_BATCH_SIZE = 128
#: peak learning rate of AdamW, reached after the warm-up
DEFAULT_LEARNING_RATE = 2e-3
#: epochs without a better PublicTest accuracy before training stops
DEFAULT_PATIENCE = 20
#: with --teacher: share of the teacher's probabilities in each training target (the rest is the true label)
DEFAULT_DISTILL_WEIGHT = 0.7
#: file stem of the exported model
DEFAULT_NAME = "ferstream-emotion"


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data", required=True, help="FER-2013: the Kaggle CSV (emotion,pixels,Usage; .csv or .csv.gz) or an image folder with train/<emotion>/ and test/<emotion>/; "
                        "or FER+: a CSV with FER+'s ten vote columns, Usage and pixels (learns the vote distributions)")
    add_votes_arguments(parser)
    parser.add_argument("--fer2013-weight", type=float, default=0.0, metavar="W",
                        help="with FER+ votes: each Training face whose FER-2013 label is known learns (1 - W) x its "
                             "votes + W x that label (FER-2013's one annotator beside FER+'s ten; from --votes' row "
                             "join, or from --fer2013 matched face by face); 0 learns the votes alone (default: %(default)s)")
    parser.add_argument("--extra", metavar="NPZ",
                        help="more labelled faces for the Training split: an .npz of 48x48 crops and labels, as "
                             "tools/wild/faces.py makes from real photos (never the faces that judge the model)")
    parser.add_argument("--out", default="runs/train", help="output folder: checkpoints, history, the exported model and its plots (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs of the cosine schedule (default: %(default)s)")
    parser.add_argument("--time-budget", type=_duration, default=None, metavar="DURATION",
                        help="train for this long (90s, 25m, 2h): the warm-up and cosine decay follow the clock, training "
                             "stops before an epoch would overrun it, --epochs is then the most (for a lent GPU, or a "
                             "night); a --resume continues the clock (default: the schedule runs over --epochs)")
    parser.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out (after a kill or a reboot); on a finished run, export its best checkpoint again (with other --tta or --quantize options)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="default: %(default)s")
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE, help="peak learning rate (default: %(default)s)")
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE, help="stop after this many epochs without a better PublicTest accuracy (default: %(default)s)")
    parser.add_argument("--init", metavar="MODEL", help="start from the weights of this .keras model (same architecture): fine-tuning, or a new schedule after a finished run")
    parser.add_argument("--init-layers", metavar="MODEL", help="start from the weights of every layer of this .keras model with the same name and "
                        "shape as one of this run's (a student made by dropping convolutions of its teacher: --depths 1,1,2,3)")
    parser.add_argument("--prune-from", metavar="MODEL", help="start from this trained .keras model (same --depths) narrowed to --widths: each "
                        "convolution keeps its filters with the largest L1 norms, and their BatchNormalization statistics are "
                        "re-estimated on plain training faces (a pruned student: --widths 24,48,112,208)")
    parser.add_argument("--teacher", metavar="MODEL", help="distil: learn from this exported model's probabilities (its .tflite, with its views) "
                        "as well as the labels; computed once for the training faces and kept in --out")
    parser.add_argument("--distill-weight", type=float, default=DEFAULT_DISTILL_WEIGHT, metavar="W",
                        help="with --teacher: share of the teacher's probabilities in each target, the rest the true label (default: %(default)s)")
    parser.add_argument("--distill", choices=("stored", "online"), default="stored",
                        help="with --teacher: stored: its probabilities for the plain training faces, computed once with its "
                             ".tflite (default); online: its .keras network runs in every step on the same augmented faces "
                             "as the student (consistent teaching; best on a GPU) (default: %(default)s)")
    parser.add_argument("--teacher-tta", choices=("none", "flip", "flip-zoom"), default="flip-zoom",
                        help="with --distill online: the views the teacher averages (default: %(default)s)")
    parser.add_argument("--widths", default="32,64,128,256", help="channels per stage (default: %(default)s)")
    parser.add_argument("--depths", default="2,2,3,3", help="convolutions per stage (default: %(default)s)")
    parser.add_argument("--ema", type=float, default=None, metavar="MOMENTUM",
                        help="keep an exponential moving average of the weights (Polyak averaging, e.g. 0.999: about "
                             "the last 1,000 steps); PublicTest is scored, and checkpoints saved, with the average "
                             "(default: off)")
    parser.add_argument("--class-weights", choices=("sqrt", "none"), default="sqrt",
                        help="sqrt: each training face weighted by 1/sqrt of its class's count (lifts disgust and fear "
                             "recall, costs some accuracy); none: every face counts the same, for the most accuracy "
                             "(default: %(default)s)")
    parser.add_argument("--keep-epochs", action="store_true",
                        help="also save the network after every epoch (averaged, with --ema) as epochs/epoch-NNN.keras "
                             "in --out: ingredients for `ferstream ensemble --combine weights` (about 4 MB each at "
                             "1 M parameters; default: only best.keras)")
    parser.add_argument("--precision", choices=("float32", "mixed-bfloat16"), default="float32",
                        help="arithmetic while training: mixed-bfloat16 computes in bfloat16 with float32 weights; a step "
                             "took 0.78x the time on 2 cores of a CPU with AMX (lscpu flag amx_bf16): time both "
                             "on yours with bench/train_step.py. Checkpoints and the export are float32 either way "
                             "(default: %(default)s)")
    parser.add_argument("--name", default=DEFAULT_NAME, help="file stem of the exported model (default: %(default)s)")
    parser.add_argument("--version", default=None, help="model version written to the metadata (default: today's date)")
    parser.add_argument("--quantize", choices=("dynamic", "int8", "none"), default="dynamic",
                        help="numbers in the TFLite export: dynamic: int8 weights, float activations (default); int8: weights and "
                             "activations, calibrated on 500 training faces, about 15%% faster, probabilities in steps of 1/256; "
                             "none: float32, about 3x slower than dynamic, same accuracy (default: %(default)s)")
    parser.add_argument("--no-quantize", dest="quantize", action="store_const", const="none", help="the same as --quantize none")
    add_crop_arguments(parser)
    add_tta_arguments(parser)
    add_adjustment_arguments(parser)
    return parser


def add_crop_arguments(parser: argparse.ArgumentParser, default: str | None = "box") -> None:
    """How the faces are framed for the model (``ModelMetadata.crop``): as given, or aligned as the worker aligns."""
    parser.add_argument("--crop", choices=CROP_CHOICES, default=default,
                        help="box: the faces as the data gives them, the worker cropping the detector's box grown by its "
                             "margin; aligned: every face aligned as the worker aligns a real one (eyes level, eyes and "
                             "mouth where FER-2013 has them, from BlazeFace's keypoints; about a minute for FER+), the "
                             "export's metadata telling the worker to align real faces so; aligned-frontal: only frontal "
                             "faces aligned (pose 1 in the quality score), turned ones kept as box crops"
                             + (" (default: %(default)s)" if default else " (default: as the model's metadata says)"))
    parser.add_argument("--zoom", type=_zoom, default=1.0,
                        help="with aligned crops: how much around the face the aligned crop shows, against FER-2013's "
                             "own framing (default: %(default)s)")


def _zoom(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.5 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a zoom from 0.5 to 2 (1: FER-2013's framing)")
    return value


def add_votes_arguments(parser: argparse.ArgumentParser) -> None:
    """FER+'s votes (``ferstream.training.votes``) and FER-2013's own labels reported beside them."""
    parser.add_argument("--votes", metavar="FER2013NEW_CSV",
                        help="FER+'s fer2013new.csv (Microsoft's FERPlus repository), joined row by row to --data, Kaggle's "
                             "complete fer2013.csv: train on the ten annotators' vote distributions instead of FER-2013's "
                             "single labels, score PublicTest on the majority votes (contempt, unknown and not-a-face "
                             "votes are dropped; the model card says why)")
    parser.add_argument("--fer2013", metavar="CSV",
                        help="with FER+ data: also score FER-2013's own PublicTest labels from this Kaggle-layout file, "
                             "reported as 'FER-2013 PublicTest' beside 'FER+ PublicTest majority'")


def _bias_shift(text: str) -> tuple[str, float]:
    from ferstream.emotion_model import EMOTIONS

    name, _, value = text.partition("=")
    if name.strip() not in EMOTIONS:
        raise argparse.ArgumentTypeError(f"{text!r}: expected EMOTION=VALUE with EMOTION one of {', '.join(EMOTIONS)}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the value after '=' must be a number (a logit: +0.3, -0.5)") from None


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: a number of seconds, or 90s, 25m, 2h") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a time budget must be positive")
    return value


#: ``emotion_model.CROPS``, named here so that ``--help`` needs no model code
CROP_CHOICES = ("box", "aligned", "aligned-frontal")
#: the keys of ``export.TTA_VIEWS``, named here so that ``--help`` needs no Keras
TTA_CHOICES = ("none", "flip", "flip-zoom", "flip-unsure")


def add_tta_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tta", choices=TTA_CHOICES, default="flip",
                        help="test-time augmentation inside the export, each view one more model run per face: flip: the "
                             "face and its mirror image (default); flip-zoom: also the face zoomed 10%% and its mirror "
                             "image (4 runs); flip-unsure: the mirror image only for the least sure face in every 8 of a "
                             "model call (1.125 runs a face at the worker's batch of 8); none: one run "
                             "(default: %(default)s)")
    parser.add_argument("--no-flip-tta", dest="tta", action="store_const", const="none", help="the same as --tta none")


def add_adjustment_arguments(parser: argparse.ArgumentParser) -> None:
    """The export's adjustments of a trained network: its BatchNormalization statistics and its class prior."""
    parser.add_argument("--class-prior", choices=("as-trained", "data"), default="as-trained",
                        help="as-trained: the outputs as training's class weights (1/sqrt of each class's count) left "
                             "them, tilted towards rare classes; data: those weights undone in the output layer's bias, "
                             "so the network predicts at the Training split's class frequencies (more accuracy, less "
                             "recall for disgust and fear; free at inference). Give it once: a model exported with it "
                             "is shifted again if exported again with it (default: %(default)s)")
    parser.add_argument("--bias-shift", action="append", default=[], type=_bias_shift, metavar="EMOTION=VALUE",
                        help="add VALUE to EMOTION's output logit in the export (after --class-prior), repeatable: the "
                             "class prior chosen on real faces (tools/levers/real_prior.py; the shipped model's is in "
                             "its card). +0.3 makes EMOTION about 1.35x as likely before renormalising")
    parser.add_argument("--bn-stats", choices=("plain", "as-trained"), default="plain",
                        help="BatchNormalization statistics of the exported network: plain: re-estimated on 4,096 plain "
                             "(not augmented) training faces, the kind the worker sees, kept only if PublicTest accuracy does "
                             "not drop (about +1 point for the shipped network); as-trained: the moving averages over "
                             "augmented faces that training left (default: %(default)s)")


def add_ensemble_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--models", nargs="+", required=True, metavar="MODEL", help="two or more .keras models this job trained (same labels and input); "
                        "one model is exported again with the --tta and --quantize given")
    parser.add_argument("--combine", choices=("probabilities", "weights"), default="probabilities",
                        help="probabilities: one model running every member, their outputs averaged (costs the sum of "
                             "theirs); weights: one network whose weights are the mean of the members' (a model soup, "
                             "for networks of one architecture fine-tuned from a common start; costs one member's time; "
                             "a model listed twice counts twice) (default: %(default)s)")
    parser.add_argument("--greedy", action="store_true",
                        help="with --combine weights: rank the models by their PublicTest accuracy, then add each to the "
                             "average only if the average's accuracy does not drop (a greedy soup; the models kept are "
                             "logged). Useful with a run's epochs/ folder (`ferstream train --keep-epochs`)")
    parser.add_argument("--data", required=True, help="FER-2013 in either layout, or FER+ (see `ferstream train --help`): PublicTest scores the ensemble; Training calibrates an int8 export")
    add_votes_arguments(parser)
    parser.add_argument("--out", default="runs/ensemble", help="output folder for the exported ensemble and its plots (default: %(default)s)")
    parser.add_argument("--name", default=DEFAULT_NAME, help="file stem of the exported model (default: %(default)s)")
    parser.add_argument("--version", default=None, help="model version written to the metadata (default: today's date)")
    parser.add_argument("--quantize", choices=("dynamic", "int8", "none"), default="dynamic", help="as for `ferstream train` (default: %(default)s)")
    add_crop_arguments(parser)
    add_tta_arguments(parser)
    add_adjustment_arguments(parser)
    return parser


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", default=None, help="model file (.tflite, .keras or the stem; default: the shipped model)")
    parser.add_argument("--data", required=True, help="FER-2013 in either layout, or FER+ (see `ferstream train --help`)")
    parser.add_argument("--votes", metavar="FER2013NEW_CSV", help="FER+'s fer2013new.csv joined to --data (see `ferstream train --help`)")
    parser.add_argument("--split", action="append", default=None, help="split(s) to evaluate (default: PublicTest and PrivateTest where present, else every split)")
    parser.add_argument("--out", default=".", help="folder for the confusion-matrix PNGs (default: %(default)s)")
    parser.add_argument("--crop", choices=CROP_CHOICES, default=None,
                        help="box: score the faces as the data gives them; aligned: align them first, at the model's "
                             "zoom; aligned-frontal: align the frontal ones (default: as the model's metadata says, i.e. "
                             "as the worker crops real faces for it)")
    return parser


def train_main(argv: list[str] | None = None) -> int:
    parser = add_train_arguments(argparse.ArgumentParser(prog="python -m ferstream.training", description="Train the emotion CNN on FER-2013."))
    args = parser.parse_args(argv)
    from ferstream.console import run_command
    from ferstream.training.train import run

    args.argv = ["train", *(argv if argv is not None else sys.argv[1:])]
    return run_command(lambda: run(args))
