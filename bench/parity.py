"""Detection parity: on the same frames, the faces fer's Haar detector finds that ferstream also finds.

ferstream detects as its worker does, with its default detector (FERSTREAM_DETECTOR to change it): grey,
scaled down to the analysis width (640 px), full scans and the faces followed between them, boxes scaled
back to source pixels. fer detects with
FER(mtcnn=False).find_faces (its Haar cascade, min face 50 px, on the full frame), the
detection step of its detect_emotions. A fer face counts as found when a ferstream box
overlaps it with IoU >= 0.3 (one-to-one, best overlaps first).

Frames with people (WolfgangLanger at several sizes, single_face, the person parts of
noface_face/face_noface, multi_face.jpg, single_face.jpg) give the share found and the
faces only one side finds. Frames with no face (no_face.mp4, the title parts of
noface_face/face_noface, a drawn landscape) make every detection a false positive.
A sample of each kind of disagreement is saved as crops, with a contact sheet, under
--crops for inspection by eye: real faces or false positives?

    python bench/parity.py [--heights 360 1080] [--frames N] [--crops DIR] [--quick]
"""

from __future__ import annotations

import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/parity.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fer_side
from bench.box_matching import match_boxes
from bench.data import CLIP, DEFAULT_OUT, frames_of, is_photo, make_clip, media_file
from bench.ferstream_side import analysis_frame, ferstream_settings
from bench.script import base_parser, frames_limit, run_main
from bench.tables import Report, Row, markdown_table, pct

#: a fer face is found when a ferstream box overlaps it at least this much
IOU = 0.3
#: share of fer's faces ferstream must find (issue 6)
TARGET_SHARE = 0.95
ALL = ((0, 10**9),)
#: footage -> frame ranges (inclusive) with no face, checked by eye; every other frame shows people
SOURCES = {
    "WolfgangLanger_Pexels.mp4": (),
    "single_face.mp4": (),
    "noface_face.mov": ((0, 95), (168, 168)),  # animated title, then the man from frame 96; 168 is black
    "face_noface.mov": ((72, 168),),  # the man until frame 71; 72 is black, then the title
    "no_face.mp4": ALL,
    "multi_face.jpg": (),
    "single_face.jpg": (),
    "free-mountain-vector-01.jpg": ALL,  # a drawn landscape
}
CATEGORIES = ("ferstream-only", "fer-only", "ferstream-on-no-face", "fer-on-no-face")


def build_parser():
    parser = base_parser(__doc__, frames_help="frames per video (default: all)")
    parser.add_argument("--heights", type=int, nargs="+", metavar="H",
                        help=f"sizes of {CLIP} to compare on (default: 360 1080, 360 being the file itself; "
                             "1080 with --quick)")
    parser.add_argument("--crops", type=Path, default=DEFAULT_OUT / "parity-crops", metavar="DIR",
                        help="where the sampled crops go, one folder per kind (default: runs/bench/parity-crops)")
    parser.add_argument("--sample", type=int, default=48, metavar="N", help="crops kept per kind (default: 48)")
    return parser


def match(ours: np.ndarray, theirs: np.ndarray, threshold: float = IOU) -> tuple[list[int], list[int], int]:
    """One-to-one matching, best overlaps first: (our unmatched indices, their unmatched indices, matches)."""
    pairs = match_boxes(ours, theirs, threshold)
    used = set(pairs.values())
    return ([i for i in range(len(ours)) if i not in pairs], [j for j in range(len(theirs)) if j not in used],
            len(pairs))


class FerstreamDetection:
    """ferstream's detection as the worker runs it on an ingested chunk: frames in order, faces followed between
    full scans (worker.detector.FrameSequenceDetector), its state starting afresh with every 1-second chunk, its
    discovery scans on the higher-resolution copy ingest sends."""

    def __init__(self):
        from ferstream.worker.detectors import make_detector

        self.settings = ferstream_settings("sqlite://")
        self.detector = make_detector(self.settings.detector, self.settings.min_face)  # the default detector
        self.width = self.settings.analysis_width
        self.start(25.0)

    def start(self, fps: float) -> None:
        """A new source at ``fps`` frames per second."""
        self.fps, self.per_chunk, self.index, self.sequence = fps, max(1, round(self.settings.chunk_seconds * fps)), 0, None

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        from ferstream.worker.detector import FrameSequenceDetector

        if self.index % self.per_chunk == 0:
            self.sequence = FrameSequenceDetector(self.detector, self.settings.rescan_seconds)
        grey, scale = analysis_frame(bgr, self.settings.min_face, self.width)
        t = self.index / self.fps
        detail = None  # the higher-resolution copy ingest sends where a discovery scan is due (ingest.video)
        if self.settings.sends_detail and self.sequence.discovery_due(t):
            from ferstream.ingest.video import detail_scale, to_analysis_frames

            factor = detail_scale(bgr.shape[1], scale)
            detail = None if factor is None else to_analysis_frames(bgr, scale, factor)[1]
        boxes = self.sequence.detect(grey, t, detail=detail)
        self.index += 1
        return np.rint(boxes * scale).astype(np.int32) if scale != 1.0 else boxes


@dataclass
class Tally:
    frames: int = 0
    no_face_frames: int = 0
    fer_faces: int = 0
    ours_faces: int = 0
    matched: int = 0
    ours_only: int = 0
    fer_only: int = 0
    ours_no_face: int = 0
    fer_no_face: int = 0

    def add(self, other: "Tally") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Samples:
    """A fixed-size random sample of crops per kind (reservoir sampling, seeded)."""

    size: int
    seen: dict[str, int] = field(default_factory=dict)
    kept: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(6))

    def offer(self, kind: str, name: str, frame: np.ndarray, box: np.ndarray) -> None:
        n = self.seen[kind] = self.seen.get(kind, 0) + 1
        slot = n - 1 if n <= self.size else self.rng.randrange(n)
        if slot >= self.size:
            return
        crop = _crop(frame, box)
        items = self.kept.setdefault(kind, [])
        if slot < len(items):
            items[slot] = (name, crop)
        else:
            items.append((name, crop))

    def save(self, folder: Path) -> None:
        """The kept crops under ``folder`` (made even when both sides agreed everywhere)."""
        folder.mkdir(parents=True, exist_ok=True)
        for kind in CATEGORIES:
            shutil.rmtree(folder / kind, ignore_errors=True)
            (folder / f"{kind}.png").unlink(missing_ok=True)
        for kind, items in self.kept.items():
            (folder / kind).mkdir(parents=True, exist_ok=True)
            for name, crop in items:
                cv2.imwrite(str(folder / kind / f"{name}.jpg"), crop)
            cv2.imwrite(str(folder / f"{kind}.png"), _sheet([c for _, c in items]))


def _crop(frame: np.ndarray, box: np.ndarray, side: int = 128) -> np.ndarray:
    """The box with a quarter of its size as margin, on a square of ``side`` pixels."""
    x, y, w, h = (int(v) for v in box)
    m = max(w, h) // 4
    crop = frame[max(0, y - m):y + h + m, max(0, x - m):x + w + m]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def _sheet(crops: list[np.ndarray], columns: int = 8) -> np.ndarray:
    cells = crops + [np.zeros_like(crops[0])] * (-len(crops) % columns)
    return np.vstack([np.hstack(cells[i:i + columns]) for i in range(0, len(cells), columns)])


def compare(label: str, path: Path, no_face: tuple, ours, fer, samples: Samples, limit: int | None) -> Tally:
    t = Tally()
    fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) if not is_photo(path) else 0
    ours.start(fps if 0 < fps < 1000 else 25.0)
    for index, frame in enumerate(frames_of(path, limit)):
        t.frames += 1
        mine = ours(frame)
        theirs = fer_side.find_faces(fer, frame).astype(np.int32) if fer is not None else None
        name = f"{label}_{index:05d}"
        if any(a <= index <= b for a, b in no_face):
            t.no_face_frames += 1
            t.ours_no_face += len(mine)
            for box in mine:
                samples.offer("ferstream-on-no-face", f"{name}_{'_'.join(map(str, box))}", frame, box)
            if theirs is not None:
                t.fer_no_face += len(theirs)
                for box in theirs:
                    samples.offer("fer-on-no-face", f"{name}_{'_'.join(map(str, box))}", frame, box)
            continue
        t.ours_faces += len(mine)
        if theirs is None:
            continue
        ours_only, fer_only, matched = match(mine, theirs)
        t.fer_faces += len(theirs)
        t.matched += matched
        t.ours_only += len(ours_only)
        t.fer_only += len(fer_only)
        for i in ours_only:
            samples.offer("ferstream-only", f"{name}_{'_'.join(map(str, mine[i]))}", frame, mine[i])
        for j in fer_only:
            samples.offer("fer-only", f"{name}_{'_'.join(map(str, theirs[j]))}", frame, theirs[j])
    return t


def measure(args, folder: Path) -> Report:
    limit = frames_limit(args)
    fer = fer_side.load_fer(args)
    ours = FerstreamDetection()
    samples = Samples(args.sample)
    sources: list[tuple[str, Path, tuple]] = []
    for name, no_face in SOURCES.items():
        path = media_file(args, name)
        if name == CLIP:
            for height in args.heights or ([1080] if args.quick else [360, 1080]):
                sources.append((f"{Path(name).stem}-{height}p.mp4", make_clip(path, folder, height), no_face))
        else:
            sources.append((name, path, no_face))
    rows, total = [], Tally()
    for label, path, no_face in sources:
        t = compare(label, path, no_face, ours, fer, samples, limit)
        total.add(t)
        rows.append(_row(label, t, fer is not None))
    rows.append(_row("**all**", total, fer is not None))
    samples.save(args.crops)
    share = total.matched / total.fer_faces if total.fer_faces else None
    table = markdown_table(["source", "frames", "no-face frames", "fer faces", "ferstream faces", "found by both",
                            "share of fer's found", "ferstream only", "fer only", "ferstream on no-face",
                            "fer on no-face"], rows)
    kinds = ", ".join(f"{k} {samples.seen.get(k, 0)}" for k in CATEGORIES)
    note = (f"IoU >= {IOU}. Crops (a random sample of at most {args.sample} per kind, with contact sheets): "
            f"`{args.crops}` ({kinds}). Whether the faces only one side finds are real faces is for the eye.")
    no_fer = fer is None
    summary = [
        Row("parity", f"share of fer's faces ferstream finds ({total.fer_faces} fer faces, IoU >= {IOU})",
            "n/a" if no_fer else pct(share), "n/a" if no_fer else "100%",
            f">= {TARGET_SHARE:.0%}", None if share is None else share >= TARGET_SHARE),
        Row("parity", "faces only one side finds, frames with people (crops to check by eye)",
            "n/a" if no_fer else str(total.ours_only), "n/a" if no_fer else str(total.fer_only)),
        Row("parity", f"detections on {total.no_face_frames} frames with no face (false positives)",
            str(total.ours_no_face), "n/a" if no_fer else str(total.fer_no_face), "<= fer",
            None if no_fer else total.ours_no_face <= total.fer_no_face),
    ]
    return Report("Detection parity", [table, note], summary)


def _row(label: str, t: Tally, with_fer: bool) -> list:
    na = "n/a"
    share = pct(t.matched / t.fer_faces) if t.fer_faces else na
    return [label, t.frames, t.no_face_frames, t.fer_faces if with_fer else na, t.ours_faces,
            t.matched if with_fer else na, share if with_fer else na, t.ours_only if with_fer else na,
            t.fer_only if with_fer else na, t.ours_no_face, t.fer_no_face if with_fer else na]


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
