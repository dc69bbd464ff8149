"""Smoke run of the database-size benchmark: `bench/db_size.py --quick`, as a user runs it, on SQLite (and on
PostgreSQL when the tests have one): it writes through the real write path and prints a size per camera-hour."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import REPO


def test_quick_run_prints_a_size_per_camera_hour(tmp_path):
    cmd = [sys.executable, "bench/db_size.py", "--quick", "--minutes", "0.2", "--faces", "2", "--workdir", str(tmp_path)]
    admin = os.environ.get("FERSTREAM_TEST_POSTGRES_URL")
    if admin:
        cmd += ["--postgres", admin]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"bench/db_size.py exited {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}"
    rows = [line for line in result.stdout.splitlines()  # the size table (10 columns), not the per-table one
            if re.match(r"\| (SQLite|PostgreSQL) \| 2 \|", line) and line.count("|") == 11]
    assert {row.split("|")[1].strip() for row in rows} >= {"SQLite", *(["PostgreSQL"] if admin else [])}, result.stdout
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[5]) > 0, row  # MiB per camera-hour
    assert "CPU flags" in result.stdout or "flags" in result.stdout.lower()
