"""The hand-checked face boxes of the shared footage (``bench/labels/faces.csv``: boxes only, checked by eye) and
the frames with no face.

The labelled set holds the faces of the photos and of frames of the real clips in --media: frontal, turned, tilted,
laughing and partly hidden faces. Each labelled photo also gives three more images made at run time: rotated by +30
and -30 degrees, and shrunk onto a 1920x1080 canvas (small faces, 2-5% of its height); their labels follow the
transform. A label of kind ``ignore`` marks a region where a detection counts neither way (a face too unclear to
call).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bench.data import LABELS as LABELS_FOLDER, read_frame

LABELS = LABELS_FOLDER / "faces.csv"
#: kinds of label that are hard: the faces a frontal detector misses
HARD = ("turned", "tilted", "small", "hidden")
#: footage -> frame ranges (inclusive) with no face, checked by eye (as bench/parity.py)
NO_FACE = {"no_face.mp4": ((0, 10**9),), "noface_face.mov": ((0, 95),), "face_noface.mov": ((72, 167),),
           "free-mountain-vector-01.jpg": ((0, 0),)}


@dataclass
class Item:
    name: str
    image: np.ndarray  # BGR
    boxes: list[tuple[np.ndarray, str]] = field(default_factory=list)  # (x, y, w, h), kind


def _frame(path: Path, index: int) -> np.ndarray:
    frame = read_frame(path, index)
    if frame is None:
        raise SystemExit(f"bench: frame {index} of {path} cannot be read")
    return frame


def labelled_items(media: Path) -> list[Item]:
    """The labelled frames, and the rotated and shrunk versions of the labelled photos."""
    items: dict[tuple[str, int], Item] = {}
    with open(LABELS, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["image"], int(row["frame"]))
            if key not in items:
                items[key] = Item(f"{row['image']}#{row['frame']}", _frame(media / row["image"], int(row["frame"])))
            box = np.array([int(row[k]) for k in ("x", "y", "w", "h")], dtype=np.float64)
            items[key].boxes.append((box, row["kind"]))
    made = []
    for (image, _), item in items.items():
        if Path(image).suffix.lower() == ".jpg":
            made += [rotated(item, 30), rotated(item, -30), shrunk(item)]
    return list(items.values()) + made


def rotated(item: Item, degrees: float) -> Item:
    """``item`` rotated about its centre; a face keeps its size, its centre moves (a face cut by an edge is ignored)."""
    h, w = item.image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    out = Item(f"{item.name} rotated {degrees:+g}", cv2.warpAffine(item.image, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    for box, kind in item.boxes:
        cx, cy = m @ np.array([box[0] + box[2] / 2, box[1] + box[3] / 2, 1.0])
        side = box[2]
        inside = side / 2 <= cx <= w - side / 2 and side / 2 <= cy <= h - side / 2
        out.boxes.append((np.array([cx - side / 2, cy - side / 2, side, side]),
                          ("tilted" if kind != "ignore" else kind) if inside else "ignore"))
    return out


def shrunk(item: Item, height: int = 300, canvas: tuple[int, int] = (1920, 1080)) -> Item:
    """``item`` shrunk to ``height`` pixels on a grey 1920x1080 canvas: small faces."""
    h, w = item.image.shape[:2]
    s = height / h
    small = cv2.resize(item.image, (round(w * s), height), interpolation=cv2.INTER_AREA)
    frame = np.full((canvas[1], canvas[0], 3), 110, np.uint8)
    x0, y0 = 200, 500
    frame[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    out = Item(f"{item.name} small", frame)
    for box, kind in item.boxes:
        out.boxes.append((box * s + (x0, y0, 0, 0), "small" if kind != "ignore" else kind))
    return out


def no_face_frames(media: Path, limit: int | None = None) -> list[np.ndarray]:
    frames = []
    for name, ranges in NO_FACE.items():
        path = media / name
        if path.suffix == ".jpg":
            frames.append(cv2.imread(str(path)))
            continue
        cap = cv2.VideoCapture(str(path))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if any(a <= i <= b for a, b in ranges):
                frames.append(frame)
            i += 1
        cap.release()
    return frames[:limit] if limit else frames


def photo_boxes(media: Path) -> dict[Path, list[np.ndarray]]:
    """The labelled faces (x, y, w, h) of the footage's photos, by path; ``ignore`` regions left out."""
    boxes: dict[Path, list[np.ndarray]] = {}
    with open(LABELS, newline="") as f:
        for r in csv.DictReader(f):
            if r["image"].endswith(".jpg") and r["kind"] != "ignore":
                boxes.setdefault(media / r["image"], []).append(np.array([int(r[k]) for k in "xywh"], float))
    return boxes
