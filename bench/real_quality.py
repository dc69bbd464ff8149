"""Which real faces does the model get wrong? Accuracy of the real-footage set's faces in the lowest fifth of each
candidate face-quality measure against the rest (the start of issue 34's quality gate).

Measures per face: its size (the box's side, source pixels), brightness and contrast (mean and standard deviation
of its grey pixels), sharpness (variance of the Laplacian at 64x64) and the model's own confidence (its top
probability). A measure that marks where the errors are has a low accuracy in its lowest fifth.

    python bench/real_quality.py [--realset DIR] [--media DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Report, base_parser, markdown_table, run_main
from bench.real_emotions import REALSET_ROOTS, SPLITS, Frames, ferstream_crops, read_labels


def measures(frames: Frames, faces, crops: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    found = {"size": [], "brightness": [], "contrast": [], "sharpness": []}
    for face in faces:
        x, y, w, h = face.box
        grey = cv2.cvtColor(frames(face), cv2.COLOR_BGR2GRAY)[max(0, y):y + h, max(0, x):x + w]
        small = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
        found["size"].append(min(w, h))
        found["brightness"].append(float(grey.mean()))
        found["contrast"].append(float(grey.std()))
        found["sharpness"].append(float(cv2.Laplacian(small, cv2.CV_32F).var()))
    out = {k: np.array(v, np.float64) for k, v in found.items()}
    out["model confidence"] = probabilities.max(axis=1)
    return out


def build_parser():
    parser = base_parser(__doc__, frames_help=None)
    parser.add_argument("--realset", type=Path, default=next((p for p in REALSET_ROOTS if p.is_dir()), REALSET_ROOTS[-1]))
    return parser


def measure(args, _folder: Path) -> Report:
    from ferstream.emotion_model import EmotionModel

    model = EmotionModel()
    everything = read_labels()
    frames = Frames({**{f.source: args.realset / f.source for f in everything}, "media": args.media})
    rows = []
    for split in SPLITS:
        faces = [f for f in everything if f.split == split and frames.available(f)]
        crops = ferstream_crops(frames, faces)
        probabilities = model.predict(crops.astype(np.float32))
        right = np.array([model.labels[i] in f.accept for f, i in zip(faces, probabilities.argmax(axis=1))])
        for name, values in measures(frames, faces, crops, probabilities).items():
            low = values <= np.percentile(values, 20)
            rows.append([split, len(faces), name, f"{100 * right[low].mean():.1f}% of {low.sum()}",
                         f"{100 * right[~low].mean():.1f}% of {(~low).sum()}"])
    table = markdown_table(["part", "faces", "measure", "right, its lowest fifth", "right, the rest"], rows)
    return Report("Which real faces are wrong", [table], [])


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
