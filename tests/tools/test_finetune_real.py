"""tools/levers/finetune_real.py (issue 33's fine-tuning lever) on faces any fresh clone has: skimage's astronaut
labelled as a tune part of two sources, and a tiny generated FER-2013 (``tune_set``, conftest.py)."""

from __future__ import annotations

import re
import shutil

import cv2
import pytest

import finetune_real  # tools/levers, on the path from conftest.py


def _table_rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| setting")]


@pytest.mark.long
def test_head_refit_holds_each_source_out_and_scores_publictest(tune_set, capsys):
    assert finetune_real.main(["head", *tune_set, "--lam", "0.3", "--mu", "0.01"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["shipped", "head, lambda 0.3, mu 0.01"]
    assert rows[0][1] == rows[0][2] == "100.0%"  # the shipped model calls the astronaut happy from either source
    assert all(re.fullmatch(r"\d+\.\d%", c) for r in rows for c in r[1:3])
    assert all(re.fullmatch(r"\d+\.\d\d%", r[3]) and 0 <= float(r[4]) <= 1 for r in rows)


def test_no_tune_faces_here_is_a_clear_error(tune_set, tmp_path):
    shutil.rmtree(tmp_path / "one")
    shutil.rmtree(tmp_path / "two")
    with pytest.raises(SystemExit, match="none of the real set's tune part's files"):
        finetune_real.main(["head", *tune_set])


@pytest.mark.long
def test_network_fine_tune_runs_the_control_and_the_taught(tune_set, capsys):
    assert finetune_real.main(["network", *tune_set, "--steps", "2", "--real-per-batch", "4"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["shipped", "2 steps, lr 0.0001, FER-2013 alone (control)",
                                    "2 steps, lr 0.0001, 4 tune faces a batch"]
    # PublicTest after each run: one for the control (it sees no tune face), one for each held-out source
    assert [len(r[3].split("/")) for r in rows[1:]] == [1, 2]


def test_camera_degrade_changes_about_half_the_faces_and_keeps_their_range():
    import numpy as np
    from skimage import data

    face = cv2.resize(data.camera(), (48, 48), interpolation=cv2.INTER_AREA)
    faces = np.repeat(face[None], 200, axis=0)
    out = finetune_real.camera_degrade(faces, np.random.default_rng(0))
    assert out.shape == faces.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255
    changed = np.abs(out - faces).reshape(len(faces), -1).max(axis=1) > 0
    # half are picked; a picked face escapes all four degradations 1 time in 16
    assert 0.35 < changed.mean() < 0.6
    assert np.array_equal(out[~changed], faces[~changed].astype(np.float32))
    assert np.array_equal(out, finetune_real.camera_degrade(faces, np.random.default_rng(0)))  # the seed decides


@pytest.mark.long
def test_network_fine_tune_with_camera_augmentation_runs_one_row_without_tune_faces(tune_set, capsys):
    assert finetune_real.main(["network", *tune_set, "--steps", "2", "--real-per-batch", "0", "--augment", "camera"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["shipped", "2 steps, lr 0.0001, FER-2013 alone, camera augmentation"]
    assert all(re.fullmatch(r"\d+\.\d%", c) for c in rows[1][1:3])
