"""FER-2013's own labels for FER+'s faces, found face by face when the two files share no row order.

FER+ relabelled every FER-2013 face, and Kaggle's ``fer2013.csv`` joins FER+'s ``fer2013new.csv`` row by row
(``votes.join_kaggle``). A FER+ file with its own pixels (``ferplus-train-publictest.csv.gz``, from FER+'s PNGs) and
a FER-2013 file in another order (the image-folder edition, re-encoded as JPEG) cannot be joined that way, and their
pixels differ: JPEG noise, and a different grey-level scale. So each FER+ face is matched to the FER-2013 face of the
same split whose pixels correlate best with it (Pearson correlation over the 2,304 pixels: blind to brightness and
contrast), and kept only when that match is sure: a correlation of at least ``MIN_CORRELATION`` and clearly above the
second best. Faces without a sure match get no FER-2013 label (-1).

Measured on the shared files (2026-12-07): 23,703 of FER+'s 28,217 Training faces and 3,180 of its 3,529 PublicTest
faces match, each to a different FER-2013 face, and FER-2013's label is FER+'s majority for 64% of them.
"""

from __future__ import annotations

import numpy as np

#: the least Pearson correlation of a sure match (same face: median 0.97; another face: median 0.69, 99th pct 0.99)
MIN_CORRELATION = 0.9
#: how far the best match's correlation must stand above the second best's
MIN_GAP = 0.02
#: faces per block of the correlation matrix (a block x N float32 matrix at a time)
BLOCK = 1024


def _standardised(faces: np.ndarray) -> np.ndarray:
    x = faces.reshape(len(faces), -1).astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-3  # a flat face correlates with nothing
    return x


def match_faces(faces: np.ndarray, reference: np.ndarray, min_correlation: float = MIN_CORRELATION,
                min_gap: float = MIN_GAP) -> np.ndarray:
    """For each of ``faces`` (N x H x W), the index of the same face in ``reference`` (M x H x W, M >= 2), or -1
    where no match is sure. Two faces never share a reference face: where they would, neither keeps it."""
    if len(reference) < 2:
        raise ValueError("matching needs at least two reference faces")
    a, b = _standardised(faces), _standardised(reference)
    index = np.full(len(a), -1, dtype=np.int64)
    for start in range(0, len(a), BLOCK):
        corr = a[start:start + BLOCK] @ b.T
        top2 = np.argpartition(-corr, 1, axis=1)[:, :2]
        values = np.take_along_axis(corr, top2, axis=1)
        order = np.argsort(-values, axis=1)
        top2, values = np.take_along_axis(top2, order, axis=1), np.take_along_axis(values, order, axis=1)
        sure = (values[:, 0] >= min_correlation) & (values[:, 0] - values[:, 1] >= min_gap)
        index[start:start + BLOCK] = np.where(sure, top2[:, 0], -1)
    taken_twice = np.flatnonzero(np.bincount(index[index >= 0], minlength=len(b)) > 1)
    index[np.isin(index, taken_twice)] = -1
    return index


def labels_by_face(faces: np.ndarray, reference_faces: np.ndarray, reference_labels: np.ndarray) -> np.ndarray:
    """The label of each face's sure match in the reference set (``match_faces``), -1 where there is none."""
    index = match_faces(faces, reference_faces)
    return np.where(index >= 0, reference_labels[np.maximum(index, 0)], -1).astype(np.int64)
