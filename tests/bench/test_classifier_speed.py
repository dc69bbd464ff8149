"""bench/classifier_speed.py: networks of the training job's family timed in turn, and each stage of one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("tensorflow")
@pytest.mark.long
def test_per_stage_prints_one_row_a_stage_whose_multiply_adds_add_up():
    from ferstream.training.model import multiply_adds

    result = subprocess.run([sys.executable, "bench/classifier_speed.py", "--arch", "8,8,16,16/1,1,1,1", "--per-stage",
                             "--threads", "1", "--batch", "4"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    stages = [r for r in rows if r[0].strip().isdigit()]
    assert [int(r[0]) for r in stages] == [0, 1, 2, 3]
    assert stages[0][1].strip() == "8x1 at 48x48" and stages[3][1].strip() == "16x1 at 6x6"
    total = multiply_adds((8, 8, 16, 16), (1, 1, 1, 1)) - 16 * 7
    assert sum(float(r[3]) for r in stages) == pytest.approx(total / 1e6, abs=0.3)
    upto = [float(r[4]) for r in stages]
    assert all(t > 0 for t in upto)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "bench/classifier_speed.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
@pytest.mark.long
def test_several_networks_timed_in_rounds_print_a_median_and_a_range_each():
    result = run("--arch", "8,8,16,16/1,1,1,1", "8,16,16,32/1,1,1,1", "--rounds", "2", "--threads", "1", "--batch", "4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| model | batch | threads | ms per face | range over 2 rounds |" in result.stdout
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| 8,")]
    assert [r[0].split()[0] for r in rows] == ["8,8,16,16/1,1,1,1", "8,16,16,32/1,1,1,1"]
    for row in rows:
        low, high = (float(v) for v in row[4].split("-"))
        assert low <= float(row[3]) <= high


@pytest.mark.parametrize("args, message", [
    (["--per-stage"], "--per-stage needs one --arch"),
    (["--per-stage", "--arch", "8,8,8,8/1,1,1,1", "8,8,8,16/1,1,1,1"], "--per-stage needs one --arch"),
    (["--rounds", "0"], "--rounds must be 1 or more"),
])
def test_wrong_options_are_refused(args, message):
    result = run(*args)
    assert result.returncode == 2 and message in result.stderr
