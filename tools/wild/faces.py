"""Real faces in the wild for training: a labelled photo set's faces found and cropped as the worker does.

The set is muxspace/facial_expressions (Apache-2.0; about 13,700 photos labelled by students: mostly neutral and
happy, a few hundred each of surprise, sadness, anger and disgust, hardly any fear). Its photos are never committed:
give a checkout of it (``git clone`` of the public repository, or any copy laid out as ``data/legend.csv`` beside
``images/``). Each photo's largest face is found by ferstream's default detector (BlazeFace) on the grey, scaled
frame the worker sees, and cropped as the worker crops it for the model to be trained: the box grown by the
detector's margin (``--crop box``, ``worker.detector.crop_faces``) or aligned on its keypoints (``--crop aligned``,
``worker.align``), so the faces are the crops the emotion model reads in production. Photos with no face found are
counted and left out. ``contempt`` is dropped as FER+'s contempt is (``ferstream.training.votes``).

The result is one ``.npz`` (``faces`` N x 48 x 48 uint8, ``labels`` in the FER-2013 order, ``persons``, ``files``,
the framing in ``crop`` and ``zoom``)
that ``ferstream train --extra`` adds to the Training split. ``persons``: the name in an LFW-style file name
(``First_Last_0001.jpg`` -> ``First_Last``), else the contributor's id and the file name.

    python tools/wild/faces.py --set CHECKOUT [--out runs/wild/faces.npz] [--crop aligned --zoom 1.0]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ferstream.emotion_model import EMOTIONS  # noqa: E402

#: the set's labels (any case) -> FER-2013's; contempt is dropped
LABELS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy", "sadness": "sad",
          "surprise": "surprise", "neutral": "neutral"}
#: photos are small portraits: faces down to this share of the shorter side are searched
MIN_FACE = 0.1
#: a photo with no face found is searched again with this share of its side added around it (tight face crops)
PAD = 0.3
LFW_NAME = re.compile(r"^(?P<person>.+)_\d{4}$")


def person_of(row: dict) -> str:
    stem = Path(row["image"]).stem
    match = LFW_NAME.match(stem)
    return match["person"] if match else f"{row.get('user.id', '')}:{stem}"


def read_legend(root: Path) -> list[dict]:
    legend = root / "data" / "legend.csv"
    if not legend.is_file() or not (root / "images").is_dir():
        raise SystemExit(f"{root}: expected data/legend.csv and images/ (a checkout of muxspace/facial_expressions)")
    with open(legend, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"image", "emotion"} <= set(rows[0]):
        raise SystemExit(f"{legend}: expected the columns image and emotion")
    return rows


def crop_largest_face(detector, image: np.ndarray, crop: str = "box", zoom: float = 1.0) -> np.ndarray | None:
    """The largest face of a decoded photo as the worker crops it for a model of ``crop`` (aligned at ``zoom`` on
    its keypoints where that model reads it aligned, ``worker.align.to_align``), or None where none is found."""
    import cv2

    from ferstream.ingest.video import analysis_scale, to_analysis_frame
    from ferstream.settings import DEFAULT_ANALYSIS_WIDTH
    from ferstream.worker.align import aligned_crops, to_align
    from ferstream.worker.detector import crop_faces

    h, w = image.shape[:2]
    grey = to_analysis_frame(image, analysis_scale(w, DEFAULT_ANALYSIS_WIDTH, h, MIN_FACE))
    boxes, points = detector.detect_many_keypoints([grey])[0]
    if not len(boxes):  # a face cropped tight to the photo's edges: the detector wants some of its surroundings
        pad = int(PAD * max(grey.shape))
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        boxes, points = detector.detect_many_keypoints([grey])[0]
    if not len(boxes):
        return None
    largest = int(np.argmax(boxes[:, 2] * boxes[:, 3]))
    if to_align(points[largest][None], crop)[0]:
        return aligned_crops(grey, points[largest][None], zoom)[0]
    return crop_faces(grey, boxes[largest][None], detector.crop_margin)[0]


def build(root: Path, limit: int | None = None, crop: str = "box", zoom: float = 1.0) -> dict[str, np.ndarray]:
    import cv2
    from tqdm import tqdm

    from ferstream.worker.detectors import make_detector

    detector = make_detector("blazeface", MIN_FACE)  # keypoints for aligned crops; the worker's default
    faces, labels, persons, files = [], [], [], []
    skipped = Counter()
    rows = read_legend(root)[:limit]
    for row in tqdm(rows, desc="photos", unit="photo", disable=None):
        label = LABELS.get(row["emotion"].strip().lower())
        if label is None:
            skipped[f"label {row['emotion'].strip().lower()}"] += 1
            continue
        image = cv2.imread(str(root / "images" / row["image"]), cv2.IMREAD_COLOR)
        if image is None:
            skipped["unreadable or missing"] += 1
            continue
        face = crop_largest_face(detector, image, crop, zoom)
        if face is None:
            skipped["no face found"] += 1
            continue
        faces.append(face)
        labels.append(EMOTIONS.index(label))
        persons.append(person_of(row))
        files.append(row["image"])
    print(f"{len(faces)} faces of {len(rows)} photos; left out: {dict(skipped) or 'none'}")
    print("per emotion: " + ", ".join(f"{e} {n}" for e, n in zip(EMOTIONS, np.bincount(labels, minlength=7))))
    return {"faces": np.stack(faces) if faces else np.zeros((0, 48, 48), np.uint8),
            "labels": np.asarray(labels, np.int64), "persons": np.asarray(persons), "files": np.asarray(files),
            "crop": np.asarray(crop), "zoom": np.asarray(zoom)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, required=True, help="a checkout of muxspace/facial_expressions")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "wild" / "faces.npz", help="default: %(default)s")
    parser.add_argument("--limit", type=int, help="only the first N photos (a quick look)")
    parser.add_argument("--crop", choices=("box", "aligned", "aligned-frontal"), default="box",
                        help="crop each face as the worker does for a model of this crop (`ferstream train --crop`; "
                             "the faces' framing is stored with them, and training refuses a mismatch) "
                             "(default: %(default)s)")
    parser.add_argument("--zoom", type=float, default=1.0, help="with aligned crops (default: %(default)s)")
    args = parser.parse_args(argv)
    result = build(args.set, args.limit, args.crop, args.zoom)
    if not len(result["faces"]):
        raise SystemExit("no face found: nothing written")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **result)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
