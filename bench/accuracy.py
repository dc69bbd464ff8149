"""Classification: accuracy on FER-2013 PublicTest of ferstream's shipped model and of fer's, and time per face.

ferstream: ferstream.emotion_model.EmotionModel, the TFLite export the worker runs, on the
48x48 crops as they are. fer: its bundled model as FER(mtcnn=False) runs it (TFLite,
64x64 input): each crop resized to 64x64 with cv2.resize as its detect_emotions does,
scaled by its own preprocessing ((x / 255 - 0.5) * 2), classified by its
_classify_emotions, which calls the model one face at a time. With --fer-keras, fer's
Keras model (use_tflite=False) too. The data are read with training.data.load_dataset.
Time per face: batches of --batch faces through each model's own batch call, for
--seconds seconds each, in this process with the libraries' default threads.

    python bench/accuracy.py [--data fer2013.csv.gz|ferplus.csv.gz] [--split PublicTest] [--faces N] [--batch 32] [--quick]

With FER+'s file (votes and pixels) the faces a clear majority labels are scored against that majority.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/accuracy.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_FER2013, Report, Row, base_parser, fmt, load_fer, markdown_table, run_main

#: fer's model input side
FER_SIZE = 64
#: faces per model call when scoring a whole split
SCORE_BATCH = 256


def build_parser():
    parser = base_parser(__doc__, frames_help=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_FER2013,
                        help="FER-2013, Kaggle CSV or image folders (default: $FERSTREAM_FER2013 or ../shared/datasets/...)")
    parser.add_argument("--split", default="PublicTest", help="split to score (default: PublicTest)")
    parser.add_argument("--model", type=Path, help="ferstream model (default: the shipped ferstream/models/ferstream-emotion.tflite)")
    parser.add_argument("--faces", type=int, metavar="N", help="score only the first N faces of the split (default: all; 64 with --quick)")
    parser.add_argument("--batch", type=int, default=32, help="faces per call when timing (default: 32)")
    parser.add_argument("--seconds", type=float, help="seconds of timing per model (default: 3; 0.3 with --quick)")
    parser.add_argument("--fer-keras", action="store_true", help="also fer's Keras model (use_tflite=False)")
    return parser


def fer_inputs(faces48: np.ndarray, preprocess: Callable) -> np.ndarray:
    """48x48 crops as fer feeds its model: resized to 64x64 (cv2.resize, as detect_emotions), its scaling."""
    resized = np.stack([cv2.resize(f, (FER_SIZE, FER_SIZE)) for f in faces48]) if len(faces48) else \
        np.zeros((0, FER_SIZE, FER_SIZE), np.uint8)
    return preprocess(resized, True)


def in_batches(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(call(x[i:i + SCORE_BATCH])) for i in range(0, len(x), SCORE_BATCH)])


def per_face_ms(call: Callable[[np.ndarray], object], batch: np.ndarray, seconds: float) -> float:
    """Milliseconds per face of ``call(batch)``, after two warm-up calls, over at least three calls."""
    for _ in range(2):
        call(batch)
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        call(batch)
        n += 1
    return (time.perf_counter() - start) / (n * len(batch)) * 1000


def measure(args, folder: Path) -> Report:
    from ferstream.emotion_model import DEFAULT_MODEL, EMOTIONS, EmotionModel
    from ferstream.training.data import load_dataset
    from ferstream.training.evaluate import scores

    faces_limit = args.faces or (64 if args.quick else None)
    seconds = args.seconds if args.seconds is not None else (0.3 if args.quick else 3.0)
    data = load_dataset(args.data)
    data.require(args.split)
    split = data.splits[args.split]
    scored_on = f"FER+ {args.split} majority votes" if split.votes is not None else args.split
    split = split.scored()  # FER+: the faces a clear majority labels
    faces, labels = split.faces[:faces_limit], split.labels[:faces_limit]
    timing_batch = np.resize(faces, (args.batch, *faces.shape[1:]))

    model = EmotionModel(args.model or DEFAULT_MODEL)
    order = np.array([EMOTIONS.index(label) for label in model.labels])  # the model's label order -> FER-2013's
    ours = order[in_batches(model.predict, faces).argmax(axis=1)]
    results = [("ferstream", f"{model.path.name} (version {model.version}, 48x48)", scores(labels, ours, len(EMOTIONS)),
                per_face_ms(model.predict, timing_batch.astype(np.float32), seconds))]

    fer = load_fer(args)
    if fer is not None:
        preprocess = fer._FER__preprocess_input  # fer's own scaling (name-mangled static method)
        x = fer_inputs(faces, preprocess)
        theirs = in_batches(fer._classify_emotions, x).argmax(axis=1)  # fer's labels are FER-2013's order
        results.append(("fer", "emotion_model_quantized.tflite (fer's default, 64x64)", scores(labels, theirs, len(EMOTIONS)),
                        per_face_ms(fer._classify_emotions, fer_inputs(timing_batch, preprocess), seconds)))
        if args.fer_keras:
            from fer.fer import FER

            keras_fer = FER(mtcnn=False, use_tflite=False)
            theirs = in_batches(keras_fer._classify_emotions, x).argmax(axis=1)
            results.append(("fer", "emotion_model.hdf5 (Keras, use_tflite=False, 64x64)",
                            scores(labels, theirs, len(EMOTIONS)),
                            per_face_ms(keras_fer._classify_emotions, fer_inputs(timing_batch, preprocess), seconds)))

    n = len(labels)
    table = markdown_table(
        ["side", "model", f"accuracy ({scored_on}, {n} faces)", *[f"recall {e}" for e in EMOTIONS],
         f"ms per face (batch {args.batch})"],
        [[side, name, fmt(100 * s["accuracy"], 2, "%"), *[fmt(r, 3) for r in s["recall"]], fmt(ms, 3)]
         for side, name, s, ms in results])
    note = f"{args.data.name}, split {args.split}; ferstream's architecture: {model.metadata.architecture or 'n/a'}."
    acc, ms = {}, {}
    for side, _, s, m in results:  # the first row of each side: fer's default (TFLite) model
        acc.setdefault(side, s["accuracy"])
        ms.setdefault(side, m)
    summary = [
        Row("accuracy", f"{scored_on} accuracy ({n} faces)", fmt(100 * acc["ferstream"], 2, "%"),
            fmt(100 * acc["fer"], 2, "%") if "fer" in acc else "n/a", "above fer",
            acc["ferstream"] > acc["fer"] if "fer" in acc else None),
        Row("accuracy", f"ms per face, batches of {args.batch}", fmt(ms["ferstream"], 3),
            fmt(ms["fer"], 3) if "fer" in ms else "n/a"),
    ]
    return Report("Classification", [table, note], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
