"""Reading FER-2013 in either of its two common layouts, with clear errors.

- The Kaggle CSV (``emotion,pixels,Usage``), plain or gzipped.
- The image-folder edition: ``train/<emotion>/*.jpg|png`` and
  ``test/<emotion>/*.jpg|png``, any image size, colour or grey.

Either way the result is a ``Dataset``: 48x48 uint8 faces and integer labels
per split (``Training``, ``PublicTest`` and, when present, ``PrivateTest``).
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
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm"}
#: image-folder edition: folder name -> split
FOLDER_SPLITS = {"train": "Training", "test": "PublicTest"}


@dataclass
class Split:
    faces: np.ndarray  # N x 48 x 48 uint8
    labels: np.ndarray  # N int64 in 0..6

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(EMOTIONS)).tolist()


@dataclass
class Dataset:
    splits: dict[str, Split]
    sha256: str
    source: str

    def require(self, *names: str) -> None:
        for name in names:
            if name not in self.splits or len(self.splits[name]) == 0:
                raise DataError(f"{self.source}: the {name} split is empty")


def load_dataset(path: str | Path) -> Dataset:
    """The data set at ``path``: a Kaggle-layout CSV (optionally .gz) or an image folder."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        return _load_folder(p)
    return _load_csv(p)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_csv(path: Path) -> Dataset:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, OSError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from exc
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the Kaggle layout "
            f"{','.join(CSV_COLUMNS)} (found {','.join(map(str, df.columns))})"
        )
    if df.empty:
        raise DataError(f"{path}: no rows")

    labels = pd.to_numeric(df["emotion"], errors="coerce")
    bad = labels.isna() | ~labels.isin(range(len(EMOTIONS)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}: line {i + 2}: emotion {df['emotion'].iloc[i]!r} is outside 0-{len(EMOTIONS) - 1}")

    usage = df["Usage"].str.strip()
    unknown = ~usage.isin(SPLITS)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(f"{path}: line {i + 2}: Usage {usage.iloc[i]!r} is not one of {', '.join(SPLITS)}")

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
    faces = values.astype(np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)
    labels_arr = labels.to_numpy(dtype=np.int64)
    splits = {
        name: Split(faces[(usage == name).to_numpy()], labels_arr[(usage == name).to_numpy()])
        for name in SPLITS
        if (usage == name).any()
    }
    return Dataset(splits=splits, sha256=_sha256_file(path), source=str(path))


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
