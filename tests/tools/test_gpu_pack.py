"""tools/gpu/pack_ferplus.py: FER+ and real photos' faces packed for a GPU machine come back as the files the
training job reads, with the same votes, PublicTest's faces exact and Training's within the grey levels its bits allow."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ferstream.training.data import load_dataset, load_extra
from tests.training.conftest import make_faces
from tests.training.test_votes import ferplus_frame

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "gpu"))


@pytest.mark.parametrize("bits", [7, 6])
def test_ferplus_and_extra_faces_survive_the_pack(tmp_path, bits):
    import pack_ferplus

    rng = np.random.default_rng(0)
    train, public = make_faces(4, 0), make_faces(2, 1)
    noisy = [(np.clip(f.astype(int) + rng.integers(0, 80, f.shape), 0, 255).astype(np.uint8), l) for f, l in (train, public)]
    # PublicTest rows first in the file: the pack reorders, the splits must not mix
    ferplus_frame({"PublicTest": noisy[1], "Training": noisy[0]}).to_csv(tmp_path / "ferplus.csv.gz", index=False)
    extra_faces, extra_labels = make_faces(1, 2)
    np.savez(tmp_path / "wild.npz", faces=extra_faces, labels=extra_labels, persons=np.array(["p"] * len(extra_labels)),
             crop="aligned", zoom=1.0)

    pack_ferplus.pack(str(tmp_path / "ferplus.csv.gz"), str(tmp_path / "packed.npz"), str(tmp_path / "wild.npz"), bits)
    pack_ferplus.unpack(str(tmp_path / "packed.npz"), str(tmp_path / "there"))

    before = load_dataset(tmp_path / "ferplus.csv.gz")
    after = load_dataset(tmp_path / "there" / "ferplus.csv.gz")
    for name in ("Training", "PublicTest"):
        a, b = before.splits[name], after.splits[name]
        np.testing.assert_array_equal(a.labels, b.labels)  # the vote distributions
        np.testing.assert_array_equal(a.clear, b.clear)
        diff = np.abs(a.faces.astype(int) - b.faces.astype(int)).max()
        assert diff == (0 if name == "PublicTest" else 2 ** (8 - bits - 1))
    faces, labels = load_extra(tmp_path / "there" / "extra.npz", "aligned", 1.0)  # their framing travels with them
    np.testing.assert_array_equal(labels, extra_labels)
    assert np.abs(faces.astype(int) - extra_faces.astype(int)).max() <= 2 ** (8 - bits - 1)
