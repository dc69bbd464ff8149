"""Faces drawn onto a frame: each face's box, track, emotion and confidence, readable at any face size.

Shared by the annotated video and images (``ferstream.annotate``: the database's results drawn onto the original
file) and the workers' live pictures (``worker.preview``: each analysed frame as it is analysed).
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

#: BGR colour of each emotion's boxes
COLOURS = {"angry": (40, 40, 220), "disgust": (60, 150, 60), "fear": (160, 60, 160), "happy": (0, 200, 240),
           "sad": (200, 120, 40), "surprise": (0, 140, 255), "neutral": (170, 170, 170)}

#: the label's text height in pixels: never smaller (readable on a 640x360 audience), larger on large frames
MIN_LABEL_PX, LABEL_SHARE = 11, 0.022


def draw_faces(frame: np.ndarray, faces) -> np.ndarray:
    """``frame`` (BGR) with each face's box and label: inside the box where it fits at a readable size, else on a
    filled tag in the emotion's colour just above the box (below it at the top of the frame)."""
    out = frame.copy()
    h, w = out.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    (_, unit), _ = cv2.getTextSize("Hg", font, 1.0, 1)
    scale = max(MIN_LABEL_PX, LABEL_SHARE * h) / unit  # the same readable size for every face of the frame
    for face in faces.itertuples() if isinstance(faces, pd.DataFrame) else faces:  # rows, or objects with their fields
        x0, y0 = max(0, int(face.x)), max(0, int(face.y))
        x1, y1 = min(w - 1, int(face.x + face.w) - 1), min(h - 1, int(face.y + face.h) - 1)
        label = face.smoothed_emotion if isinstance(face.smoothed_emotion, str) else None  # None: uncertain
        colour = COLOURS.get(label, (255, 255, 255))
        cv2.rectangle(out, (x0 + 1, y0 + 1), (x1 - 1, y1 - 1), colour, 2)  # a 2 px line, inside the box
        track = "" if pd.isna(face.track_id) else f"#{int(face.track_id)} "
        text = f"{track}{label} {getattr(face, 'smooth_' + label):.2f}" if label else f"{track}uncertain"
        (tw, th), base = cv2.getTextSize(text, font, scale, 1)
        if tw <= x1 - x0 - 10 and 2 * th <= y1 - y0 - 10:  # room inside the box
            cv2.putText(out, text, (x0 + 4, y0 + th + 5), font, scale, colour, 1, cv2.LINE_AA)
            continue
        tag_h = th + base + 4
        top = y0 - tag_h if y0 - tag_h >= 0 else min(h - tag_h, y1 + 1)  # above the box, else below it
        left = min(max(0, x0), max(0, w - tw - 6))
        cv2.rectangle(out, (left, top), (left + tw + 6, top + tag_h), colour, cv2.FILLED)
        ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)  # dark text on light colours
        cv2.putText(out, text, (left + 3, top + th + 2), font, scale, ink, 1, cv2.LINE_AA)
    return out


#: a blurred face is this many blocks across, whatever its size (no feature survives, its box and label do)
BLUR_BLOCKS = 6


def blur_faces(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``frame`` with each box (x, y, w, h) pixelated to ``BLUR_BLOCKS`` blocks across and smoothed: nobody can be
    recognised, the labels drawn over it still read."""
    out = frame.copy()
    h, w = out.shape[:2]
    for x, y, bw, bh in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
        x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
        if x1 <= x0 or y1 <= y0:
            continue
        face = out[y0:y1, x0:x1]
        small = cv2.resize(face, (BLUR_BLOCKS, max(1, BLUR_BLOCKS * (y1 - y0) // max(1, x1 - x0))),
                           interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.blur(cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST),
                                     (max(1, (x1 - x0) // BLUR_BLOCKS),) * 2)
    return out
