"""How each detector's boxes frame a face for the emotion model (bench/detectors.py --framing and --emotions).

--framing: how BlazeFace's raw boxes sit against Haar's on the same labelled faces (the constants CROP_SIDE and
CROP_SHIFT of ferstream/worker/blazeface.py). --emotions: what the emotion model says on each detector's crops,
the WolfgangLanger timeline (sad or afraid before 9 s, laughing after 11 s) and the smiling faces of the photos.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench.data import CLIP, clip_info, read_frames
from bench.face_labels import labelled_items
from bench.tables import markdown_table
from ferstream.tracks import box_iou as iou


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
    fps = clip_info(media / CLIP).fps or 24.0
    greys = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in read_frames(media / CLIP)]
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
