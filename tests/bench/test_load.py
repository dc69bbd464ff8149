"""Smoke run of the load generator: `bench/load.py --quick`, as a user runs it, on the tests' Redis and a real
database, with real `ferstream worker` processes; every row it reports must be in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

from ferstream.db.models import Chunk, Face, Frame
from tests.conftest import REPO


@pytest.mark.long  # 30 s: a real load run
def test_quick_run_lands_every_row_it_reports(redis_url, database_url, tmp_path):
    report = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    result = subprocess.run([sys.executable, "bench/load.py", "--quick", "--redis", redis_url, "--database", database_url,
                             "--workdir", str(tmp_path / "work"), "--json", str(report)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"bench/load.py exited {result.returncode}\n{result.stdout}\n{result.stderr[-5000:]}"
    assert "| workers | faces/frame | faces insert | chunks | face rows |" in result.stdout
    assert "CPU flags:" in result.stdout

    points = json.loads(report.read_text())["points"]
    assert sorted(p["faces"] for p in points) == [1, 16]
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            for p in points:
                sources = p["sources"]
                assert p["frames"] == p["chunks"] * 5 and p["face_rows"] == p["chunks"] * 5 * p["faces"]
                done = conn.execute(select(func.count()).where(Chunk.source_id.in_(sources), Chunk.status == "done")).scalar_one()
                frames = conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id.in_(sources))).scalar_one()
                faces = conn.execute(select(func.count()).select_from(Face).where(Face.source_id.in_(sources))).scalar_one()
                assert (done, frames, faces) == (p["chunks"], p["chunks"] * 5, p["chunks"] * 5 * p["faces"])
                assert f"| {p['workers']} | {p['faces']} | sqlalchemy | {p['chunks']} | {p['face_rows']} |" in result.stdout
    finally:
        engine.dispose()
