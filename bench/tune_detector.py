"""Choosing the Haar parameters on real footage: faces found and false positives per setting.

Single-person clips (one face per frame, or none in the title parts) make errors
countable: frames with no face where a person is on screen are misses, frames with
two or more faces are false positives. Usage:

    python bench/tune_detector.py [--media ../shared/media] [--width 640]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import cv2
import numpy as np

from ingest.video import VideoReader
from worker.detector import FaceDetector

CLIPS = {  # clip -> faces expected per frame (None: varies, title then person)
    "WolfgangLanger_Pexels.mp4": 1,
    "single_face.mp4": 1,
    "noface_face.mov": None,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", default=str(Path(__file__).resolve().parents[2] / "shared" / "media"))
    args = parser.parse_args()
    frames = {}
    for clip in CLIPS:
        path = Path(args.media) / clip
        if path.exists():
            frames[clip] = [f.image for f in VideoReader(path, analysis_width=0)]
    print(f"{'scale':>5} {'neigh':>5} {'width':>5} | " + " | ".join(f"{c[:14]:>14}" for c in frames) + " |  ms/frame", flush=True)
    for scale, neighbors, width in itertools.product((1.1, 1.15, 1.2), (4, 5, 6), (640, 480, 320)):
        det = FaceDetector(scale, neighbors, 0.08, width)
        cells, t0, n = [], time.perf_counter(), 0
        for clip, imgs in frames.items():
            counts = np.array([len(det.detect(g)) for g in imgs])
            n += len(imgs)
            cells.append(f"{(counts == 0).sum():>3}/{(counts == 1).sum():>3}/{(counts >= 2).sum():>3}")
        ms = (time.perf_counter() - t0) / n * 1000
        print(f"{scale:>5} {neighbors:>5} {width:>5} | " + " | ".join(f"{c:>14}" for c in cells) + f" | {ms:8.2f}", flush=True)
    print("cells: frames with 0 / 1 / 2+ faces")


if __name__ == "__main__":
    cv2.setNumThreads(1)
    main()
