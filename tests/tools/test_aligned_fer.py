"""tools/levers/aligned_fer.py (training on aligned FER-2013 faces, issues 33 and 34) on faces any fresh clone has."""

from __future__ import annotations

import re

import pytest

import aligned_fer  # tools/levers, on the path from conftest.py


@pytest.mark.long
def test_the_lever_runs_the_shipped_rows_the_control_and_the_aligned(tune_set, tmp_path, capsys):
    cache = tmp_path / "aligned.npz"
    args = [*tune_set, "--steps", "2", "--cache", str(cache)]
    assert aligned_fer.main(args) == 0
    out = capsys.readouterr().out
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| setting")]
    assert [r[0] for r in rows] == ["shipped, box crops", "shipped, aligned crops (zoom 1)",
                                    "2 steps on FER-2013 (control), box crops, seed 0",
                                    "2 steps on aligned FER-2013, aligned crops, seed 0"]
    assert all(re.fullmatch(r"\d+\.\d%", c) for r in rows for c in r[1:4])
    assert rows[0][3] == "100.0%"  # the shipped model calls the astronaut happy
    assert cache.exists()
    assert aligned_fer.main(args) == 0  # the second run reads the aligned faces from the cache
    assert "faces aligned" not in capsys.readouterr().out


def test_no_tune_faces_here_is_a_clear_error(tune_set, tmp_path):
    import shutil

    shutil.rmtree(tmp_path / "one")
    shutil.rmtree(tmp_path / "two")
    with pytest.raises(SystemExit, match="none of the real set's tune part's files are in"):
        aligned_fer.main(tune_set)
