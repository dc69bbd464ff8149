"""Tiny generated FER-2013 data sets in both layouts."""

from __future__ import annotations

import gzip

import cv2
import numpy as np
import pandas as pd
import pytest

from ferstream.emotion_model import EMOTIONS


def make_faces(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """48x48 grey images whose brightness pattern depends on the class (learnable, if barely)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS)), n_per_class)
    faces = rng.integers(0, 60, (len(labels), 48, 48)).astype(np.uint8)
    for i, c in enumerate(labels):
        faces[i, :, c * 6:(c + 1) * 6] += 150
    return faces, labels


def write_csv(path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    rows = [(int(l), " ".join(map(str, f.ravel())), usage) for usage, (fs, ls) in splits.items() for f, l in zip(fs, ls)]
    df = pd.DataFrame(rows, columns=["emotion", "pixels", "Usage"])
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            df.to_csv(f, index=False)
    else:
        df.to_csv(path, index=False)


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.csv.gz"
    write_csv(path, {"Training": make_faces(10, 0), "PublicTest": make_faces(3, 1), "PrivateTest": make_faces(2, 2)})
    return path


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    for folder, (faces, labels) in {"train": make_faces(6, 3), "test": make_faces(2, 4)}.items():
        for i, (face, label) in enumerate(zip(faces, labels)):
            d = root / folder / EMOTIONS[label]
            d.mkdir(parents=True, exist_ok=True)
            if i % 2:  # colour PNG at another size, as some editions have
                img = cv2.resize(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), (64, 64))
                cv2.imwrite(str(d / f"{i}.png"), img)
            else:
                cv2.imwrite(str(d / f"{i}.jpg"), face)
    return root
