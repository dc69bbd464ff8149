"""Face detectors against hand-checked labels: recall, precision, false positives and cost, side by side with fer.

The labelled set (``bench/labels/faces.csv``: boxes only, checked by eye) holds the faces of the
photos and of frames of the real clips in --media: frontal, turned, tilted, laughing and partly
hidden faces. At run time each labelled photo also gives three more images: rotated by +30 and
-30 degrees, and shrunk onto a 1920x1080 canvas (small faces, 2-5% of its height); their labels
follow the transform. A label of kind ``ignore`` marks a region where a detection counts neither
way (a face too unclear to call).

Each detector sees a frame as the worker does: grey, scaled down to the analysis width (640 px)
unless that would make the smallest wanted face smaller than the emotion model's input, boxes
scaled back. ``fer`` (its Haar detector, FER(mtcnn=False).find_faces) sees the full BGR frame.
A label is found when a detection overlaps it with IoU >= 0.4 (one to one, best overlaps first).
With --min-face 0.13 (the default) labels smaller than that are not wanted and count neither way;
--min-face 0.03 asks for every label.

False positives: every detection on the frames with no face (no_face.mp4, the title parts of
noface_face.mov and face_noface.mov, a drawn landscape). Cost: milliseconds per frame of a full
scan, and of the worker's scheme (full scans every 0.25 s, faces followed between) over one
second of WolfgangLanger scaled to 640x360, 1280x720 and 1920x1080.

    python bench/detectors.py [--min-face 0.13 0.03] [--no-fer] [--framing] [--emotions] [--tune-haar]
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/detectors.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CLIP, Report, Row, base_parser, fmt, load_fer, markdown_table, media_file, run_main
from ferstream.tracks import box_iou as iou

LABELS = Path(__file__).resolve().parent / "labels" / "faces.csv"
#: a label is found by a detection overlapping it at least this much
IOU = 0.4
#: kinds of label that are hard: the faces a frontal detector misses
HARD = ("turned", "tilted", "small", "hidden")
#: footage -> frame ranges (inclusive) with no face, checked by eye (as bench/parity.py)
NO_FACE = {"no_face.mp4": ((0, 10**9),), "noface_face.mov": ((0, 95),), "face_noface.mov": ((72, 167),),
           "free-mountain-vector-01.jpg": ((0, 0),)}
#: targets of issue 13 for the default detector
TARGET_RECALL = 0.90
TARGET_FP_PER_50 = 1.0
DETECTORS = ("haar", "blazeface")


@dataclass
class Item:
    name: str
    image: np.ndarray  # BGR
    boxes: list[tuple[np.ndarray, str]] = field(default_factory=list)  # (x, y, w, h), kind


def read_frame(path: Path, index: int) -> np.ndarray:
    if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        return cv2.imread(str(path))
    cap = cv2.VideoCapture(str(path))  # read up to the frame: seeking lands on other frames in some containers
    for _ in range(index):
        cap.grab()
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"bench: frame {index} of {path} cannot be read")
    return frame


def labelled_items(media: Path) -> list[Item]:
    """The labelled frames, and the rotated and shrunk versions of the labelled photos."""
    items: dict[tuple[str, int], Item] = {}
    with open(LABELS, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["image"], int(row["frame"]))
            if key not in items:
                items[key] = Item(f"{row['image']}#{row['frame']}", read_frame(media / row["image"], int(row["frame"])))
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


def match(labels: list[tuple[np.ndarray, str]], found: np.ndarray, wanted) -> tuple[list[bool], int]:
    """Which wanted labels were found, and how many detections match nothing (false positives)."""
    pairs = sorted(((iou(l, d), i, j) for i, (l, _) in enumerate(labels) for j, d in enumerate(found)), reverse=True)
    label_hit: dict[int, int] = {}
    used: set[int] = set()
    for score, i, j in pairs:
        if score < IOU:
            break
        if i not in label_hit and j not in used:
            label_hit[i] = j
            used.add(j)
    counted = [i for i, (box, kind) in enumerate(labels) if kind != "ignore" and wanted(box)]
    return [i in label_hit for i in counted], len(found) - len(used)  # a detection of an ignored face counts neither way


class Ours:
    """A ferstream detector as the worker runs it on one frame: grey, analysis scale, boxes back in source pixels."""

    def __init__(self, name: str, min_face: float, analysis_width: int = 640):
        from ferstream.worker.detectors import make_detector

        self.name, self.min_face, self.width = f"ferstream {name}", min_face, analysis_width
        self.detector = make_detector(name, min_face)

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        from ferstream.ingest.video import analysis_scale, to_analysis_frame

        h, w = bgr.shape[:2]
        scale = analysis_scale(w, self.width, h, self.min_face)
        return self.detector.detect(to_analysis_frame(bgr, scale)).astype(np.float64) * scale


class Fer:
    name = "fer (Haar)"

    def __init__(self, fer):
        self.fer = fer

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        return np.asarray(self.fer.find_faces(bgr), dtype=np.float64).reshape(-1, 4)


def evaluate(detect, items: list[Item], empty: list[np.ndarray], min_face: float) -> dict:
    found, hard, false_pos = [], [], 0
    for item in items:
        h, w = item.image.shape[:2]
        wanted = lambda box: box[2] >= 0.8 * min_face * min(h, w)  # noqa: E731 - smaller faces were not asked for
        hits, fp = match(item.boxes, detect(item.image), wanted)
        kinds = [kind for box, kind in item.boxes if kind != "ignore" and wanted(box)]
        found += hits
        hard += [hit for hit, kind in zip(hits, kinds) if kind in HARD]
        false_pos += fp
    empty_fp = sum(len(detect(frame)) for frame in empty)
    tp = sum(found)
    return {"labels": len(found), "recall": tp / max(len(found), 1), "hard": len(hard),
            "hard_recall": sum(hard) / max(len(hard), 1), "precision": tp / max(tp + false_pos, 1),
            "fp_labelled": false_pos, "fp_empty": empty_fp, "empty_frames": len(empty)}


def cost(detector_name: str, media: Path, min_face: float, frames: int = 24) -> dict[int, tuple[float, float]]:
    """ms per frame at 360/720/1080 lines: (a full scan, the worker's scans-and-following over ``frames`` frames)."""
    from ferstream.ingest.video import analysis_scale, to_analysis_frame
    from ferstream.worker.detector import FrameSequenceDetector
    from ferstream.worker.detectors import make_detector

    detector = make_detector(detector_name, min_face)
    cap = cv2.VideoCapture(str(media / CLIP))
    clip = [cap.read()[1] for _ in range(frames)]
    cap.release()
    out = {}
    for height in (360, 720, 1080):
        greys = []
        for bgr in clip:
            big = cv2.resize(bgr, (height * 16 // 9, height), interpolation=cv2.INTER_LINEAR)
            scale = analysis_scale(big.shape[1], 640, big.shape[0], min_face)
            greys.append(to_analysis_frame(big, scale))
        detector.detect(greys[0])  # warm up
        start = time.perf_counter()
        for g in greys[:8]:
            detector.detect(g)
        full = (time.perf_counter() - start) / 8 * 1000
        start = time.perf_counter()
        FrameSequenceDetector(detector).detect_all(greys, [i / 24 for i in range(len(greys))])
        seq = (time.perf_counter() - start) / len(greys) * 1000
        out[height] = (full, seq)
    return out


def framing(media: Path) -> str:
    """How BlazeFace's raw boxes sit against Haar's on the same faces: the constants of ferstream/worker/blazeface.py."""
    import ferstream.worker.blazeface as bf
    from ferstream.worker.detector import FaceDetector

    haar, ratios, shifts = FaceDetector(min_face=0.05), [], []
    old_side, old_shift = bf.CROP_SIDE, bf.CROP_SHIFT
    bf.CROP_SIDE, bf.CROP_SHIFT = 1.0, 0.0
    try:
        blaze = bf.BlazeFaceDetector(min_face=0.05)
        for item in labelled_items(media):
            if " " in item.name:
                continue
            grey = cv2.cvtColor(item.image, cv2.COLOR_BGR2GRAY)
            for b in blaze.detect(grey):
                for h in haar.detect(grey):
                    if iou(b, h) > 0.5:
                        ratios.append(h[2] / b[2])
                        shifts.append(((h[1] + h[3] / 2) - (b[1] + b[3] / 2)) / h[2])
    finally:
        bf.CROP_SIDE, bf.CROP_SHIFT = old_side, old_shift
    return (f"Framing: on {len(ratios)} faces both found, Haar's side is {np.median(ratios):.3f} x BlazeFace's "
            f"(median; IQR {np.percentile(ratios, 25):.3f}-{np.percentile(ratios, 75):.3f}) and its centre "
            f"{np.median(shifts):+.3f} of its side lower (ferstream/worker/blazeface.py: CROP_SIDE {old_side}, CROP_SHIFT {old_shift})")


#: BlazeFace's box -> Haar's box of the same face (side, centre shift), as --framing measured it
HAAR_FRAMING = (1.05, -0.095)
#: smiling faces of the labelled photos (checked by eye): the emotion model should call them happy
SMILING = {"multi_face.jpg": 5, "obama_biden.jpg": 2}


def emotions_on_crops(media: Path) -> str:
    """What the emotion model says on each detector's crops: the WolfgangLanger timeline and the smiling photos.

    The clip reads sad or fearful before 9 s and happy after 11 s; the photos' smiling faces are happy. The
    BlazeFace rows: its crop framing (ferstream/worker/blazeface.py), Haar's framing (``--framing`` measures it), and its
    boxes as the model outputs them.
    """
    import ferstream.worker.blazeface as bf
    from ferstream.emotion_model import EmotionModel
    from ferstream.worker.detector import FrameSequenceDetector, crop_faces
    from ferstream.worker.detectors import make_detector

    model = EmotionModel()
    cap = cv2.VideoCapture(str(media / CLIP))
    fps = cap.get(cv2.CAP_PROP_FPS) or 24.0
    greys = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        greys.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    cap.release()
    photos = {name: cv2.imread(str(media / name), cv2.IMREAD_GRAYSCALE) for name in SMILING}
    rows = []
    for label, name, framing in (("ferstream haar", "haar", None), ("ferstream blazeface", "blazeface", None),
                                 ("ferstream blazeface, Haar's framing", "blazeface", HAAR_FRAMING),
                                 ("ferstream blazeface, raw boxes", "blazeface", (1.0, 0.0))):
        saved = bf.CROP_SIDE, bf.CROP_SHIFT
        if framing:
            bf.CROP_SIDE, bf.CROP_SHIFT = framing
        try:
            detector = make_detector(name, 0.13)
            boxes = FrameSequenceDetector(detector).detect_all(greys, [i / fps for i in range(len(greys))])
            early, late = [], []
            for i, (g, b) in enumerate(zip(greys, boxes)):
                if len(b):
                    top = model.labels[int(model.predict(crop_faces(g, b[:1])).argmax())]
                    (early if i / fps < 9 else late if i / fps > 11 else []).append(top)
            happy = 0
            for grey in photos.values():
                found = detector.detect(grey)
                if len(found):
                    happy += int(sum(model.labels[int(p.argmax())] == "happy" for p in model.predict(crop_faces(grey, found))))
        finally:
            bf.CROP_SIDE, bf.CROP_SHIFT = saved
        side, shift = framing or (bf.CROP_SIDE, bf.CROP_SHIFT)
        rows.append([label + (f" (side x{side:g}, shift {shift:+g})" if name == "blazeface" else ""),
                     f"{100 * np.mean([e in ('sad', 'fear') for e in early]):.1f}% of {len(early)}",
                     f"{100 * np.mean([e == 'happy' for e in late]):.1f}% of {len(late)}",
                     f"{happy} of {sum(SMILING.values())}"])
    return ("The emotion model on each detector's crops (" + CLIP + ": every frame; the smiling faces of "
            + ", ".join(SMILING) + "):\n\n" + markdown_table(
                ["crops from", "sad or fear before 9 s", "happy after 11 s", "smiling photo faces called happy"], rows))


def tune_haar(items: list[Item], empty: list[np.ndarray], min_face: float) -> str:
    """Recall and false positives of the Haar cascade over a grid of its two parameters."""
    from ferstream.worker.detector import FaceDetector

    rows = []
    for neighbours in (3, 4, 5, 6):
        for factor in (1.05, 1.1, 1.2):
            det = Ours("haar", min_face)
            det.detector = FaceDetector(scale_factor=factor, min_neighbors=neighbours, min_face=min_face)
            r = evaluate(det, items, empty, min_face)
            rows.append([f"{factor:g}", neighbours, f"{100 * r['recall']:.1f}%", f"{100 * r['precision']:.1f}%",
                         r["fp_empty"]])
    return (f"Haar cascade parameters on the labels (min face {min_face:g}):\n\n" +
            markdown_table(["scale factor", "min neighbours", "recall", "precision", "detections on no-face frames"], rows))


def build_parser():
    parser = base_parser(__doc__, frames_help=None)
    parser.add_argument("--min-face", type=float, nargs="+", default=[0.13, 0.03], metavar="F",
                        help="smallest wanted face(s), fraction of the shorter side (default: 0.13 0.03)")
    parser.add_argument("--framing", action="store_true", help="also measure how BlazeFace's boxes sit against Haar's")
    parser.add_argument("--emotions", action="store_true",
                        help="also score the emotion model on each detector's crops (the crop framing)")
    parser.add_argument("--tune-haar", action="store_true",
                        help="also score the Haar cascade's parameters (scale factor, min neighbours) on the labels")
    return parser


def measure(args, _tmp: Path) -> Report:
    media_file(args, CLIP)
    items = labelled_items(args.media)
    empty = no_face_frames(args.media, 20 if args.quick else None)
    if args.quick:
        items = items[::6]
    fer = load_fer(args)
    n_labels = sum(1 for i in items for _, k in i.boxes if k != "ignore")
    n_hard = sum(1 for i in items for _, k in i.boxes if k in HARD)
    report = Report("Face detectors against hand-checked labels")
    report.details.append(f"{len(items)} labelled images, {n_labels} faces ({n_hard} turned, tilted, small or partly "
                          f"hidden); {len(empty)} frames with no face. IoU >= {IOU}.")
    rows, results = [], {}
    for min_face in args.min_face:
        detectors = [Ours(name, min_face) for name in DETECTORS] + ([Fer(fer)] if fer is not None else [])
        for det in detectors:
            start = time.perf_counter()
            r = results[det.name, min_face] = evaluate(det, items, empty, min_face)
            r["per_50"] = 50 * r["fp_empty"] / max(r["empty_frames"], 1)
            rows.append([det.name, f"{min_face:g}", r["labels"], f"{100 * r['recall']:.1f}%", f"{100 * r['hard_recall']:.1f}% of {r['hard']}",
                         f"{100 * r['precision']:.1f}%", r["fp_labelled"], f"{r['fp_empty']} ({r['per_50']:.2f} per 50 frames)",
                         f"{time.perf_counter() - start:.1f}"])
    first = args.min_face[0]
    ours, theirs = results["ferstream blazeface", first], results.get((Fer.name, first))
    haar = results["ferstream haar", first]
    report.rows += [
        Row("detection", f"recall on {ours['labels']} hand-labelled real faces, blazeface (min face {first:g})",
            fmt(100 * ours["recall"], 1, "%"), fmt(100 * theirs["recall"], 1, "%") if theirs else "",
            f">= {100 * TARGET_RECALL:.0f}%", ours["recall"] >= TARGET_RECALL),
        Row("detection", f"recall on {ours['hard']} turned, tilted, small or hidden faces, blazeface",
            fmt(100 * ours["hard_recall"], 1, "%"), fmt(100 * theirs["hard_recall"], 1, "%") if theirs else ""),
        Row("detection", "recall on the same faces, haar", fmt(100 * haar["recall"], 1, "%")),
        Row("detection", f"false positives per 50 frames with no face ({ours['empty_frames']} frames), blazeface",
            fmt(ours["per_50"], 2), fmt(theirs["per_50"], 2) if theirs else "", f"<= {TARGET_FP_PER_50:g}",
            ours["per_50"] <= TARGET_FP_PER_50),
    ]
    report.details.append(markdown_table(
        ["detector", "min face", "labels wanted", "recall", "recall, hard faces", "precision", "false positives on labelled images",
         "detections on no-face frames", "seconds"], rows))
    costs = []
    for min_face in args.min_face:
        for name in DETECTORS:
            c = cost(name, args.media, min_face)
            costs.append([f"ferstream {name}", f"{min_face:g}",
                          *[f"{c[h][0]:.1f} / {c[h][1]:.1f}" for h in (360, 720, 1080)]])
    report.details.append("Milliseconds per frame, a full scan / the worker's scans every 0.25 s with faces followed "
                          "between (the frame as analysed: 640 px wide unless the min face needs more):\n\n" +
                          markdown_table(["detector", "min face", "640x360", "1280x720", "1920x1080"], costs))
    if args.framing:
        report.details.append(framing(args.media))
    if args.emotions:
        report.details.append(emotions_on_crops(args.media))
    if args.tune_haar:
        report.details.append(tune_haar(items, empty, args.min_face[0]))
    return report


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
