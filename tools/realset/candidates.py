"""Candidate faces for the real-footage emotion set: every face ferstream's default detector finds in the given
photos and video frames, as numbered contact sheets to label by eye and a CSV of their boxes.

    python tools/realset/candidates.py --source media=../shared/media --every 1.0 --out runs/realset

Each face gets an id (``<source>/<file>#<frame>/<n>``); the sheets show it in colour with some margin around the
box, the box drawn, and its number. Labels go into bench/labels/emotions.csv (its format: bench/realset.py).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ferstream.ingest.video import analysis_scale, to_analysis_frame
from ferstream.settings import DEFAULT_ANALYSIS_WIDTH
from ferstream.worker.detectors import make_detector

PHOTOS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm")
VIDEOS = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def frames_of(path: Path, every_s: float):
    """(frame index, BGR image) of a photo, or of a video's frames every ``every_s`` seconds."""
    if path.suffix.lower() in PHOTOS:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            yield 0, image
        return
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step, index, due = max(1, round(every_s * fps)), 0, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index == due:
            yield index, frame
            due += step
        index += 1
    cap.release()


def detect(detector, image: np.ndarray, min_face: float) -> np.ndarray:
    """Boxes in the image's pixels, as the worker finds them (grey, scaled to the analysis width)."""
    h, w = image.shape[:2]
    scale = analysis_scale(w, DEFAULT_ANALYSIS_WIDTH, h, min_face)
    boxes = detector.detect(to_analysis_frame(image, scale))
    return np.rint(boxes * scale).astype(int) if scale != 1.0 else boxes.astype(int)


def tile(image: np.ndarray, box, number: int, side: int = 160) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    m = int(0.35 * max(w, h))
    H, W = image.shape[:2]
    x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(W, x + w + m), min(H, y + h + m)
    crop = image[y0:y1, x0:x1].copy()
    cv2.rectangle(crop, (x - x0, y - y0), (x - x0 + w, y - y0 + h), (0, 255, 0), max(1, w // 60))
    s = side / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))))
    out = np.full((side + 22, side, 3), 255, np.uint8)
    out[22:22 + crop.shape[0], :crop.shape[1]] = crop
    cv2.putText(out, str(number), (3, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 200), 2)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", action="append", required=True, metavar="NAME=FOLDER")
    p.add_argument("--every", type=float, default=1.0, help="seconds between sampled video frames")
    p.add_argument("--min-face", type=float, default=0.03)
    p.add_argument("--min-px", type=int, default=24, help="leave out faces smaller than this (pixels of the original)")
    p.add_argument("--exclude", action="append", default=[], help="leave out files whose path contains this")
    p.add_argument("--start", type=int, default=1, help="number of the first face")
    p.add_argument("--out", type=Path, default=Path("runs/realset"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    detector = make_detector("blazeface", args.min_face)
    rows, tiles, number = [], [], args.start
    for spec in args.source:
        name, folder = spec.split("=", 1)
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in PHOTOS + VIDEOS or any(e in str(path) for e in args.exclude):
                continue
            for index, image in frames_of(path, args.every):
                for box in detect(detector, image, args.min_face):
                    if min(box[2], box[3]) < args.min_px:
                        continue
                    rows.append(dict(number=number, source=name, file=str(path.relative_to(folder)), frame=index,
                                     x=box[0], y=box[1], w=box[2], h=box[3]))
                    tiles.append(tile(image, box, number))
                    number += 1
    with open(args.out / "candidates.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["number", "source", "file", "frame", "x", "y", "w", "h"])
        writer.writeheader()
        writer.writerows(rows)
    per_sheet, columns = 24, 6
    for s in range(0, len(tiles), per_sheet):
        group = tiles[s:s + per_sheet]
        group += [np.full_like(tiles[0], 255)] * (-len(group) % columns)
        sheet = np.vstack([np.hstack(group[r:r + columns]) for r in range(0, len(group), columns)])
        cv2.imwrite(str(args.out / f"sheet-{s // per_sheet + 1:02d}.png"), sheet)
    print(f"{len(rows)} faces, {(len(tiles) + per_sheet - 1) // per_sheet} sheets in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
