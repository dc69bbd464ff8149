"""bench/train_step.py: the table that chooses `ferstream train --precision` on a machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.long  # times training steps, 15 s
def test_it_times_a_step_in_both_precisions():
    result = subprocess.run([sys.executable, "bench/train_step.py", "--arch", "8,16/1,1", "--batch", "8", "--steps", "2"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("CPU flags: ")
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 8,16/1,1 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["float32", "mixed-bfloat16"]
    assert all(float(row.split("|")[4]) > 0 for row in rows)
