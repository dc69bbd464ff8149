"""FER+: ten annotators' votes for every FER-2013 face (Barsoum et al., ICMI 2016), as training targets.

FER-2013 gives each face one label from one person, and many calm faces there are labelled sad or angry; FER+
asked ten people per face. The training job learns the vote distribution over the 7 FER-2013 emotions instead of
the single label, and is scored on the faces a clear majority labels.

What happens to FER+'s three columns that are not one of the 7 emotions:

- ``contempt`` (FER+'s 8th class) is dropped, not folded into disgust: its faces are mostly a one-sided smirk,
  which reads as neither disgust nor any other class the worker reports; folding would teach smirks as disgust.
- ``unknown`` (the annotator could not tell) and ``NF`` (not a face) are dropped too.
- As in FER+'s own reference code, a label with a single vote is taken for an annotator's slip and dropped from
  the target (unless no label has two votes).
- A face whose most voted label (after that) is contempt, unknown or not a face, and so has no emotion as its
  reading, is left out of every split (``OTHER_COLUMNS``); the rest keep the distribution over the 7.

``Split.clear`` marks the faces with a unique majority among all ten columns that is one of the 7 emotions: FER+'s
majority-vote accuracy is measured on those (ties and contempt/unknown/NF majorities are not scored).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ferstream.emotion_model import EMOTIONS
from ferstream.errors import DataError

log = logging.getLogger(__name__)

#: FER+'s vote columns, in its file's order
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
#: the FER+ column of each FER-2013 emotion, in EMOTIONS order
EMOTION_COLUMNS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
                   "surprise": "surprise", "neutral": "neutral"}
#: columns that are no emotion of the 7: their votes never reach a target
OTHER_COLUMNS = ("contempt", "unknown", "NF")


def is_ferplus(df) -> bool:
    """Whether a CSV holds FER+'s votes with pixels (the shared ``ferplus-train-publictest.csv.gz`` layout)."""
    return all(c in df.columns for c in VOTE_COLUMNS)


def require_vote_columns(path: Path, df) -> None:
    missing = [c for c in VOTE_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing FER+ vote column(s) {', '.join(missing)} (expected {','.join(VOTE_COLUMNS)})")
    if df.empty:
        raise DataError(f"{path}: no rows")


def vote_counts(path: Path, df) -> np.ndarray:
    """The ten vote columns as an N x 10 float array; a ``DataError`` naming the first bad line."""
    import pandas as pd

    require_vote_columns(path, df)
    counts = df[list(VOTE_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(counts).all(axis=1) | (counts < 0).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {i + 2}: vote counts must be whole numbers of 0 or more")
    return counts


def targets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From N x 10 vote counts: the 7-emotion target distributions (EMOTIONS order), the faces kept (a most voted
    label that is an emotion), and the faces a clear majority labels (``Split.clear``)."""
    emotion_idx = [VOTE_COLUMNS.index(EMOTION_COLUMNS[e]) for e in EMOTIONS]
    other_idx = [VOTE_COLUMNS.index(c) for c in OTHER_COLUMNS]
    top = counts.max(axis=1, keepdims=True)
    unique_top = (counts == top).sum(axis=1) == 1
    clear = unique_top & np.isin(counts.argmax(axis=1), emotion_idx) & (top[:, 0] > 0)

    trimmed = np.where(counts > 1, counts, 0.0)  # a single vote is a slip (FER+'s reference code)
    no_pair = trimmed.sum(axis=1) == 0
    trimmed[no_pair] = counts[no_pair]
    emotions = trimmed[:, emotion_idx]
    keep = (emotions.sum(axis=1) > 0) & (emotions.max(axis=1) >= trimmed[:, other_idx].max(axis=1))
    distribution = emotions / np.maximum(emotions.sum(axis=1, keepdims=True), 1e-9)
    return distribution.astype(np.float32), keep, clear & keep


def load_frame(path: Path, df, sha256: str, fer2013_labels: np.ndarray | None = None):
    """A ``Dataset`` from a frame with FER+'s vote columns, ``Usage`` and ``pixels``."""
    from ferstream.training.data import SPLITS, Dataset, Split, pixels, usage_column

    counts = vote_counts(path, df)
    usage = usage_column(path, df).to_numpy()
    faces = pixels(path, df)
    distribution, keep, clear = targets(counts)
    splits = {}
    for name in SPLITS:
        rows = (usage == name) & keep
        if rows.any():
            splits[name] = Split(faces[rows], distribution[rows].argmax(axis=1).astype(np.int64), distribution[rows],
                                 clear[rows], None if fer2013_labels is None else fer2013_labels[rows])
    left_out = {name: int(((usage == name) & ~keep).sum()) for name in SPLITS if (usage == name).any()}
    log.info("FER+ votes: %s; faces whose most voted label is contempt, unknown or not a face left out: %s; "
             "scored on a clear majority: %s", ", ".join(f"{n} {len(s)}" for n, s in splits.items()),
             ", ".join(f"{n} {k}" for n, k in left_out.items()),
             ", ".join(f"{n} {int(s.clear.sum())}" for n, s in splits.items()))
    if not splits:
        raise DataError(f"{path}: no face has an emotion as its most voted label")
    return Dataset(splits=splits, sha256=sha256, source=str(path))


def join_kaggle(path: Path, df, votes_path: Path, votes_df, sha256: str):
    """Kaggle's ``fer2013.csv`` (``df``) joined row by row with FER+'s ``fer2013new.csv`` (``votes_df``: ``Usage``,
    ``Image name`` and the ten vote columns). FER+ leaves a row's image name empty where it dropped the face; such
    rows are left out. FER-2013's own labels are kept beside the votes (``Split.fer2013_labels``)."""
    from ferstream.training.data import emotion_labels

    labels = emotion_labels(path, df)
    require_vote_columns(votes_path, votes_df)
    if len(votes_df) != len(df):
        raise DataError(f"--votes {votes_path}: {len(votes_df)} rows, but {path} has {len(df)}: FER+'s fer2013new.csv "
                        "joins Kaggle's fer2013.csv row by row, so both must be the complete files")
    if "Usage" in votes_df.columns:
        differ = votes_df["Usage"].str.strip().to_numpy() != df["Usage"].str.strip().to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise DataError(f"--votes {votes_path}: line {i + 2}: Usage {votes_df['Usage'].iloc[i]!r} differs from "
                            f"{path}'s {df['Usage'].iloc[i]!r}: the files are not the matching pair")
    named = votes_df["Image name"].str.strip().to_numpy() != "" if "Image name" in votes_df.columns else \
        np.ones(len(df), dtype=bool)
    joined = votes_df.loc[named, list(VOTE_COLUMNS)].copy()
    joined["Usage"] = df.loc[named, "Usage"].to_numpy()
    joined["pixels"] = df.loc[named, "pixels"].to_numpy()
    joined = joined.reset_index(drop=True)
    digest = hashlib.sha256(sha256.encode()).hexdigest()
    return load_frame(votes_path, joined, digest, fer2013_labels=labels[named])


def majority_accuracy(probabilities: np.ndarray, split) -> float:
    """FER+'s majority-vote accuracy: the share of the clearly labelled faces whose most probable emotion is the
    majority's."""
    scored = split.clear if split.clear is not None else np.ones(len(split), dtype=bool)
    return float((probabilities[scored].argmax(axis=1) == split.labels[scored]).mean()) if scored.any() else float("nan")


def class_weights(votes: np.ndarray) -> np.ndarray:
    """Per-face weights for vote targets, honest to the rare classes: each class weighs 1/sqrt of its share of all
    votes (as ``train._class_weights`` does for single labels), a face the vote-weighted mean of its classes'
    weights; mean 1 over the faces."""
    mass = votes.sum(axis=0).astype(np.float64)
    per_class = np.where(mass > 0, 1.0 / np.sqrt(np.maximum(mass, 1e-9)), 0.0)
    weights = votes @ per_class
    return (weights / weights.mean()).astype(np.float32)
