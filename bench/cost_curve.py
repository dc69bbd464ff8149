"""Cost curve: milliseconds per frame, stage by stage, as faces per frame and frame size grow.

Faces: real face crops from WolfgangLanger_Pexels.mp4 (found by ferstream's detector, with
a margin) tiled 0, 1, 4 and 16 to a frame on a real no-face background (a frame of
no_face.mp4), --size pixels. Size: the first frames of WolfgangLanger_Pexels.mp4 at each
height (scaled up with OpenCV's VideoWriter at run time).

ferstream's stages are the worker's own code on chunks of one second (24 frames):
"prep" is ingest's grey and scale-down (ingest.video.to_analysis_frame), "analyze" the
worker's Analyzer.analyze (detect, crop, one batched model call), "write" db.writes.write_results
on a SQLite file. "full scan" and "classify" time the two halves of analyze again on their
own, to show where its time goes: "full scan" is a whole-frame detection of every frame,
which analyze only runs every 0.25 s (it follows the faces in between), so analyze takes
less than full scan + classify. fer is FER(mtcnn=False).detect_emotions(frame).
"decode" (by size) is OpenCV decoding the frame, the same for both.

    python bench/cost_curve.py [--faces 0 1 4 16] [--size 1280x720] [--heights 360 720 1080] [--frames N] [--quick]
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/cost_curve.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fer_side
from bench.data import CLIP, HEIGHTS, QUICK_FRAMES, clip_info, make_clip, media_file, read_frames
from bench.ferstream_side import analysis_frame, ferstream_settings, sqlite_url
from bench.script import base_parser, run_main
from bench.tables import Report, Row, fmt, markdown_table
from bench.timing import Stopwatch, timed

#: frames per chunk, as ingest makes them for a 24 fps file (one second)
CHUNK = 24


def build_parser():
    parser = base_parser(__doc__, frames_help=f"frames per setting (default: 48; {QUICK_FRAMES} with --quick)")
    parser.add_argument("--faces", type=int, nargs="+", metavar="N", help="faces per frame (default: 0 1 4 16; 1 4 with --quick)")
    parser.add_argument("--size", default="1280x720", help="frame size of the tiled frames (default: 1280x720)")
    parser.add_argument("--heights", type=int, nargs="+", metavar="H",
                        help="frame heights of the size curve (default: 360 720 1080; 1080 with --quick)")
    return parser


class FerstreamStages:
    """The worker's code on in-memory frames, timed per stage, writing to a fresh SQLite file."""

    def __init__(self, folder: Path):
        from ferstream import db
        from ferstream.worker.runtime import Runtime

        self.runtime = Runtime(ferstream_settings(sqlite_url(folder, "cost-curve")))
        self.engine = db.connect(self.runtime.settings.database_url)
        self.analyzer = self.runtime.analyzer
        self.width = self.runtime.settings.analysis_width

    def run(self, frames: list[np.ndarray], name: str) -> tuple[dict[str, float], float]:
        """Milliseconds per frame of each stage, and faces found per frame."""
        from ferstream.db import writes
        from ferstream.results import Frame
        from ferstream.worker.detector import crop_faces

        source_id = writes.create_source(self.engine, name=name, kind="file", uri=name)
        clock, faces = Stopwatch(), 0
        for index in range(0, len(frames), CHUNK):
            with clock("prep"):
                chunk = []
                for i, image in enumerate(frames[index:index + CHUNK], start=index):
                    grey, scale = analysis_frame(image, width=self.width)
                    chunk.append(Frame(i, i / 24, grey, None, scale))
            writes.record_chunk(self.engine, source_id, index // CHUNK, chunk[0].index, chunk[-1].index, len(chunk), 0)
            with clock("analyze"):
                results = self.analyzer.analyze(chunk)
            with clock("write"):
                writes.write_results(self.engine, source_id, index // CHUNK, results, self.analyzer.labels,
                                     self.analyzer.model_version)
            faces += sum(len(r) for r in results)
            with clock("full scan"):
                boxes = [self.analyzer.detector.detect(f.image) for f in chunk]
            crops = np.concatenate([crop_faces(f.image, b) for f, b in zip(chunk, boxes)])
            with clock("classify"):
                self.analyzer.model.predict(crops)
        ms = {k: v * 1000 / len(frames) for k, v in clock.seconds.items()}
        ms["total"] = ms["prep"] + ms["analyze"] + ms["write"]
        return ms, faces / len(frames)


def fer_ms(detector, frames: list[np.ndarray]) -> tuple[float, float]:
    """fer's milliseconds and faces per frame (detect_emotions alone, the frames decoded before)."""
    found, seconds = fer_side.detect_all(detector, frames)
    return seconds * 1000 / len(frames), sum(map(len, found)) / len(frames)


def face_crops(src: Path, want: int = 16) -> list[np.ndarray]:
    """Square colour crops of the faces ferstream finds across the clip, a quarter margin around each."""
    from ferstream.worker.detector import FaceDetector

    detector = FaceDetector()
    stride = max(1, clip_info(src).frames // (want * 2))
    crops = []
    for frame in itertools.islice(read_frames(src), 0, None, stride):
        boxes = detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        if len(boxes):
            x, y, w, h = boxes[0]
            m = w // 4
            crop = frame[max(0, y - m):y + h + m, max(0, x - m):x + w + m]
            side = min(crop.shape[:2])
            crops.append(crop[:side, :side])
        if len(crops) == want:
            break
    if not crops:
        raise SystemExit(f"bench: no face found in {src}")
    return crops


def tiled(background: np.ndarray, crops: list[np.ndarray], n: int, shift: int) -> np.ndarray:
    """``n`` crops on a grid over the background, each in its cell at 80% of the cell's shorter side."""
    frame = background.copy()
    if n == 0:
        return frame
    grid = math.ceil(math.sqrt(n))
    h, w = frame.shape[:2]
    cell_w, cell_h = w // grid, h // grid
    side = int(min(cell_w, cell_h) * 0.8)
    for i in range(n):
        row, col = divmod(i, grid)
        face = cv2.resize(crops[(i + shift) % len(crops)], (side, side), interpolation=cv2.INTER_AREA)
        y, x = row * cell_h + (cell_h - side) // 2, col * cell_w + (cell_w - side) // 2
        frame[y:y + side, x:x + side] = face
    return frame


def measure(args, folder: Path) -> Report:
    n_frames = args.frames or (QUICK_FRAMES if args.quick else 48)
    face_counts = args.faces or ([1, 4] if args.quick else [0, 1, 4, 16])
    heights = args.heights or ([1080] if args.quick else list(HEIGHTS))
    width, height = (int(v) for v in args.size.lower().split("x"))
    src = media_file(args, CLIP)
    fer = fer_side.load_fer(args)
    ours = FerstreamStages(folder)
    crops = face_crops(src, 4 if args.quick else 16)
    background = cv2.resize(next(read_frames(media_file(args, "no_face.mp4"), 1)), (width, height))
    if fer is not None:
        fer.detect_emotions(background)  # warm-up off the clock
    ours.run([background], "warm-up")

    stage_cols = ["prep", "full scan", "classify", "analyze", "write", "total"]
    face_rows, size_rows, summary = [], [], []
    for n in face_counts:
        frames = [tiled(background, crops, n, k) for k in range(n_frames)]
        ms, found = ours.run(frames, f"faces-{n}")
        theirs, fer_found = fer_ms(fer, frames) if fer is not None else (None, None)
        face_rows.append([n, fmt(found, 2), *[fmt(ms[c], 2) for c in stage_cols], fmt(fer_found, 2), fmt(theirs, 2)])
        summary.append(Row("cost", f"ms per frame, {n} face(s) in {args.size}", fmt(ms["total"], 1), fmt(theirs, 1)))
    for h in heights:
        clip = make_clip(src, folder, h, n_frames)
        frames, seconds = timed(lambda: list(read_frames(clip)))
        decode = seconds * 1000 / len(frames)
        ms, found = ours.run(frames, f"height-{h}")
        theirs, fer_found = fer_ms(fer, frames) if fer is not None else (None, None)
        size = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
        size_rows.append([size, fmt(decode, 2), *[fmt(ms[c], 2) for c in stage_cols], fmt(found, 2),
                          fmt(theirs, 2), fmt(fer_found, 2)])
        summary.append(Row("cost", f"ms per frame at {size}, decode ({fmt(decode, 1)}) not included",
                           fmt(ms["total"], 1), fmt(theirs, 1)))
    faces_table = markdown_table(["faces tiled", "ferstream finds", *[f"{c} ms" for c in stage_cols], "fer finds", "fer ms"],
                                 face_rows)
    size_table = markdown_table(["frame", "decode ms", *[f"{c} ms" for c in stage_cols], "ferstream faces", "fer ms",
                                 "fer faces"], size_rows)
    note = (f"{n_frames} frames per line, milliseconds per frame, one process. total = prep + analyze + write "
            "(full scan and classify are analyze's parts timed again on their own, every frame scanned in full); "
            "fer ms is detect_emotions alone.")
    return Report("Cost curve", [f"By faces per frame ({args.size}):", faces_table, "By frame size:", size_table, note],
                  summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
