"""Photos: how many of the faces labelled by eye in group photos ferstream finds with a video's smallest face (13% of
the shorter side) and with the photo default (3%, at least 24 px), through ``ferstream.analyze`` as a user calls it.

Two labelled sets: the photos of ``bench/labels/faces.csv`` (boxes drawn by eye on the shared footage's photos) and
the group photos (3 faces or more) of the real-footage emotion set ``bench/labels/emotions.csv`` (its sources under
--realset: bench/labels/SOURCES.md). A label is found when a detection overlaps it with IoU >= 0.4.

    python bench/photos.py [--media ../shared/media] [--realset ../shared/realset]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.face_labels import photo_boxes
from bench.realset import default_realset, photo_faces
from bench.script import base_parser, run_main
from bench.tables import Report, Row, markdown_table
from ferstream.tracks import box_iou

IOU = 0.4


def labelled_photos(media: Path, realset: Path) -> dict[str, dict[Path, list[np.ndarray]]]:
    group = photo_faces(realset, media)
    sets = {"shared photos": photo_boxes(media),
            "group photos of the real set": {p: b for p, b in group.items() if len(b) >= 3}}
    return {name: {p: b for p, b in photos.items() if p.exists()} for name, photos in sets.items()}


def found(photos: dict[Path, list[np.ndarray]], min_face: float | None) -> tuple[int, int, int]:
    import ferstream

    hit = total = extra = 0
    for path, labels in photos.items():
        boxes = ferstream.analyze(path, min_face=min_face)[["x", "y", "w", "h"]].to_numpy(float)
        used: set[int] = set()
        for box in labels:
            total += 1
            score, best = max(((box_iou(box, b), i) for i, b in enumerate(boxes) if i not in used), default=(0.0, -1))
            if score >= IOU:
                hit, used = hit + 1, used | {best}
        extra += len(boxes) - len(used)
    return hit, total, extra


def build_parser():
    parser = base_parser(__doc__, frames_help=None)
    parser.add_argument("--realset", type=Path, default=default_realset())
    return parser


def measure(args, _folder: Path) -> Report:
    rows, summary = [], []
    for name, photos in labelled_photos(args.media, args.realset).items():
        if not photos:
            continue
        video = found(photos, 0.13)
        photo = found(photos, None)
        rows.append([name, len(photos), video[1], f"{video[0]} ({video[2]} unmatched)", f"{photo[0]} ({photo[2]} unmatched)"])
        summary.append(Row("photos", f"labelled faces found in {name} ({video[1]} faces, {len(photos)} photos), "
                                     "photo default (video default)", f"{photo[0]} ({video[0]})", "", ""))
    table = markdown_table(["photos", "files", "labelled faces", "found at 13% (a video's default)",
                            "found at the photo default (3%, >= 24 px)"], rows)
    return Report("Photos: the smallest face searched", [table], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
