"""Reading FER-2013 and FER+ in their common layouts, with clear errors.

- The Kaggle CSV (``emotion,pixels,Usage``), plain or gzipped.
- The image-folder edition: ``train/<emotion>/*.jpg|png`` and
  ``test/<emotion>/*.jpg|png``, any image size, colour or grey.
- FER+ (ten annotators' votes a face, ``ferstream.training.votes``): Kaggle's
  ``fer2013.csv`` with FER+'s ``fer2013new.csv`` joined row by row
  (``load_dataset(csv, votes=new_csv)``), or one CSV holding both (``Usage``,
  the vote columns and ``pixels``).

Either way the result is a ``Dataset``: 48x48 uint8 faces and integer labels
per split (``Training``, ``PublicTest`` and, when present, ``PrivateTest``);
with FER+, each split also has its vote distributions and the mask of faces a
clear majority labels (``Split.votes``, ``Split.clear``).
Every check runs before any training starts.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferstream.emotion_model import EMOTIONS, FACE_SIZE
from ferstream.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("Training", "PublicTest", "PrivateTest")
CSV_COLUMNS = ("emotion", "pixels", "Usage")
#: with votes, the target of a face with one person's label: its one-hot label smoothed by this much
EXTRA_SMOOTHING = 0.1
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm"}
#: image-folder edition: folder name -> split
FOLDER_SPLITS = {"train": "Training", "test": "PublicTest"}


@dataclass
class Split:
    faces: np.ndarray  # N x 48 x 48 uint8
    labels: np.ndarray  # N int64 in 0..6: FER-2013's label, or with votes the most voted of the 7 emotions
    votes: np.ndarray | None = None  # N x 7 float32: FER+'s vote distribution over EMOTIONS (rows sum to 1)
    clear: np.ndarray | None = None  # N bool, with votes: a unique majority of all votes, one of the 7 emotions
    fer2013_labels: np.ndarray | None = None  # N int64, with votes where FER-2013's own labels are known

    def __len__(self) -> int:
        return len(self.labels)

    def scored(self) -> "Split":
        """The faces accuracy is measured on: with votes, those a clear majority labels (FER+'s majority-vote
        accuracy); otherwise every face."""
        if self.clear is None:
            return self
        keep = self.clear
        return Split(self.faces[keep], self.labels[keep], self.votes[keep], keep[keep],
                     None if self.fer2013_labels is None else self.fer2013_labels[keep])

    def counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(EMOTIONS)).tolist()

    def class_mass(self) -> np.ndarray:
        """How much of the split each class is: its share of the votes summed over faces (with votes), or its count."""
        return self.votes.sum(axis=0).astype(np.float64) if self.votes is not None else \
            np.bincount(self.labels, minlength=len(EMOTIONS)).astype(np.float64)

    def extended(self, faces: np.ndarray, labels: np.ndarray, smoothing: float = EXTRA_SMOOTHING) -> "Split":
        """This split with more labelled faces after its own (``load_extra``); with votes, their targets are their
        one-hot labels smoothed by ``smoothing`` (one person's label, like FER-2013's: not a sure distribution)."""
        votes = None
        if self.votes is not None:
            votes = np.concatenate([self.votes, (1 - smoothing) * np.eye(len(EMOTIONS), dtype=np.float32)[labels]
                                    + smoothing / len(EMOTIONS)]).astype(np.float32)
        clear = None if self.clear is None else np.concatenate([self.clear, np.ones(len(labels), bool)])
        fer2013 = None if self.fer2013_labels is None else \
            np.concatenate([self.fer2013_labels, np.full(len(labels), -1, dtype=np.int64)])
        return Split(np.concatenate([self.faces, faces]), np.concatenate([self.labels, labels]), votes, clear, fer2013)

    def targets(self, fer2013_weight: float = 0.0) -> np.ndarray:
        """Training targets: the vote distributions, or one-hot labels. With votes and ``fer2013_weight`` w > 0,
        each face whose FER-2013 label is known (``fer2013_labels`` >= 0) learns (1 - w) x its votes + w x that label:
        the one person of FER-2013 counted beside FER+'s ten."""
        if self.votes is None:
            return np.eye(len(EMOTIONS), dtype=np.float32)[self.labels]
        if fer2013_weight <= 0 or self.fer2013_labels is None:
            return self.votes
        known = self.fer2013_labels >= 0
        mixed = self.votes.copy()
        mixed[known] = (1 - fer2013_weight) * mixed[known] + \
            fer2013_weight * np.eye(len(EMOTIONS), dtype=np.float32)[self.fer2013_labels[known]]
        return mixed


@dataclass
class Dataset:
    splits: dict[str, Split]
    sha256: str
    source: str
    crop: str = "box"  # how its faces are framed: "box" (as given), "aligned" or "aligned-frontal" (``align_faces``)
    zoom: float = 1.0  # ... at this zoom

    def require(self, *names: str) -> None:
        for name in names:
            if name not in self.splits or len(self.splits[name]) == 0:
                raise DataError(f"{self.source}: the {name} split is empty")


def load_dataset(path: str | Path, votes: str | Path | None = None) -> Dataset:
    """The data set at ``path``: a Kaggle-layout CSV (optionally .gz), an image folder, or a FER+ CSV with votes and
    pixels; with ``votes``, FER+'s ``fer2013new.csv`` joined to the Kaggle CSV at ``path`` row by row."""
    from ferstream.training import votes as fer_plus

    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        if votes is not None:
            raise DataError(f"--votes {votes}: FER+'s votes join the Kaggle CSV row by row, not an image folder ({p})")
        return _load_folder(p)
    df = _read_csv(p)
    if votes is not None:
        votes = Path(votes)
        if not votes.exists():
            raise DataError(f"--votes {votes}: no such file")
        return fer_plus.join_kaggle(p, df, votes, _read_csv(votes), _sha256_file(p) + _sha256_file(votes))
    if fer_plus.is_ferplus(df):
        return fer_plus.load_frame(p, df, _sha256_file(p))
    return _load_frame(p, df)


def load_extra(path: str | Path, crop: str = "box", zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """More labelled faces for the Training split (``ferstream train --extra``): an ``.npz`` with ``faces`` (N x 48 x
    48 uint8, cropped as the worker crops) and ``labels`` (N ints in the FER-2013 order), as ``tools/wild/faces.py``
    writes it from real photos; a ``DataError`` where its faces are framed otherwise than ``crop`` and ``zoom`` (its
    ``crop`` and ``zoom`` entries; none: box crops)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"--extra {p}: no such file")
    try:
        with np.load(p, allow_pickle=False) as npz:
            faces, labels = npz["faces"], npz["labels"]
            framing = (str(npz["crop"]), float(npz["zoom"])) if "crop" in npz else ("box", 1.0)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DataError(f"--extra {p}: not an .npz with 'faces' and 'labels' arrays ({exc})") from exc
    if framing[0] != crop or (crop != "box" and framing[1] != zoom):
        def said(c, z):
            return f"{c} crops" + (f" at zoom {z:g}" if c != "box" else "")
        raise DataError(f"--extra {p}: its faces are {said(*framing)}, this training's are {said(crop, zoom)}: make "
                        f"them again with tools/wild/faces.py --crop {crop}" + (f" --zoom {zoom:g}" if crop != "box" else ""))
    if faces.ndim != 3 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE) or faces.dtype != np.uint8:
        raise DataError(f"--extra {p}: faces must be N x {FACE_SIZE} x {FACE_SIZE} uint8, got {faces.shape} {faces.dtype}")
    if len(labels) != len(faces) or not np.isin(labels, range(len(EMOTIONS))).all():
        raise DataError(f"--extra {p}: one label in 0-{len(EMOTIONS) - 1} per face is needed")
    return faces, labels.astype(np.int64)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_csv(path: Path):
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, OSError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from exc
    return df


def _load_frame(path: Path, df) -> Dataset:
    labels = emotion_labels(path, df)
    usage = usage_column(path, df)
    faces = pixels(path, df)
    splits = {
        name: Split(faces[(usage == name).to_numpy()], labels[(usage == name).to_numpy()])
        for name in SPLITS
        if (usage == name).any()
    }
    return Dataset(splits=splits, sha256=_sha256_file(path), source=str(path))


def emotion_labels(path: Path, df) -> np.ndarray:
    """The Kaggle layout's ``emotion`` column as int64 labels; a ``DataError`` for missing columns or a bad label."""
    import pandas as pd

    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the Kaggle layout "
            f"{','.join(CSV_COLUMNS)} or FER+'s votes with pixels (found {','.join(map(str, df.columns))})"
        )
    if df.empty:
        raise DataError(f"{path}: no rows")

    labels = pd.to_numeric(df["emotion"], errors="coerce")
    bad = labels.isna() | ~labels.isin(range(len(EMOTIONS)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}: line {i + 2}: emotion {df['emotion'].iloc[i]!r} is outside 0-{len(EMOTIONS) - 1}")
    return labels.to_numpy(dtype=np.int64)


def usage_column(path: Path, df):
    """The ``Usage`` column, stripped; a ``DataError`` naming the line of a value that is not a split."""
    usage = df["Usage"].str.strip()
    unknown = ~usage.isin(SPLITS)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(f"{path}: line {i + 2}: Usage {usage.iloc[i]!r} is not one of {', '.join(SPLITS)}")
    return usage


def pixels(path: Path, df) -> np.ndarray:
    """The ``pixels`` column as N x 48 x 48 uint8 faces; a ``DataError`` naming the first bad line."""
    if "pixels" not in df.columns:
        raise DataError(f"{path}: no pixels column")
    n_pixels = FACE_SIZE * FACE_SIZE
    counts = df["pixels"].str.split().str.len().fillna(0).astype(int).to_numpy()
    wrong = counts != n_pixels
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise DataError(f"{path}: line {i + 2}: {counts[i]} pixel values, expected {n_pixels} (48x48)")
    values = np.array(" ".join(df["pixels"]).split(), dtype=np.float32)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 255:
        row = int(np.flatnonzero((~np.isfinite(values)) | (values < 0) | (values > 255))[0] // n_pixels)
        raise DataError(f"{path}: line {row + 2}: pixel values must be grey levels 0-255")
    return values.astype(np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)


def _load_folder(root: Path) -> Dataset:
    import cv2

    h = hashlib.sha256()
    splits: dict[str, Split] = {}
    found_any = False
    for folder, split in FOLDER_SPLITS.items():
        d = root / folder
        if not d.is_dir():
            continue
        found_any = True
        faces, labels = [], []
        for sub in sorted(p for p in d.iterdir() if p.is_dir()):
            name = sub.name.lower()
            if name not in EMOTIONS:
                raise DataError(f"{sub}: folder name is not an emotion; expected one of {', '.join(EMOTIONS)}")
            label = EMOTIONS.index(name)
            for f in sorted(sub.iterdir()):
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                data = f.read_bytes()
                img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
                if img is None:
                    raise DataError(f"{f}: unreadable image")
                if img.shape != (FACE_SIZE, FACE_SIZE):
                    img = cv2.resize(img, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
                h.update(f"{folder}/{sub.name}/{f.name}".encode())
                h.update(data)
                faces.append(img)
                labels.append(label)
        if not faces:
            raise DataError(f"{d}: no images (expected {folder}/<emotion>/*.jpg or *.png)")
        splits[split] = Split(np.stack(faces), np.asarray(labels, dtype=np.int64))
    if not found_any:
        raise DataError(f"{root}: not a FER-2013 image folder: expected train/<emotion>/ and test/<emotion>/")
    return Dataset(splits=splits, sha256=h.hexdigest(), source=str(root))
