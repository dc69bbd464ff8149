"""``ferstream export`` and ``ferstream status`` on a database filled by the real pipeline."""

from __future__ import annotations

import pandas as pd
import pytest

from ferstream.emotion_model import EMOTIONS
from tests.helpers import ferstream


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, astronaut_video):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ferstream.db'}"
    ferstream("analyze", str(astronaut_video), "--database", url, "--name", "astro")
    return url


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_one_row_per_face(analysed, tmp_path, fmt):
    out = tmp_path / f"faces.{fmt}"
    result = ferstream("export", "--source", "astro", "--format", fmt, "-o", str(out), "--database", analysed)
    df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert f"wrote {len(df)} face rows" in result.stdout
    for col in ["source", "frame_index", "timestamp", "face_index", "x", "y", "w", "h", "emotion", "confidence", *EMOTIONS]:
        assert col in df.columns
    assert len(df) >= 57 and (df["source"] == "astro").all()
    assert not df.duplicated(["frame_index", "face_index"]).any()
    assert (df[list(EMOTIONS)].sum(axis=1).round(3) == 1.0).all()
    assert (df["emotion"] == df[list(EMOTIONS)].idxmax(axis=1)).all()
    assert df["timestamp"].is_monotonic_increasing


def test_export_by_id_and_unknown_source(analysed, tmp_path):
    ferstream("export", "--source", "1", "-o", str(tmp_path / "a.csv"), "--database", analysed)
    assert (tmp_path / "a.csv").exists()
    result = ferstream("export", "--source", "nope", "--database", analysed, check=False)
    assert result.returncode == 2 and "no source with id or name 'nope'" in result.stderr


def test_status_shows_progress_and_queue(analysed, redis_url):
    result = ferstream("status", "--database", analysed, "--redis", redis_url)
    assert "queue ferstream." in result.stdout and ": 0 waiting" in result.stdout
    line = next(l for l in result.stdout.splitlines() if "astro" in l)
    assert "done" in line and " 60 " in line


def test_status_on_an_empty_database(tmp_path):
    result = ferstream("status", "--database", f"sqlite:///{tmp_path / 'empty.db'}")
    assert "no sources yet" in result.stdout
    assert not (tmp_path / "empty.db").exists()  # a command that only reads creates no database


def test_commands_that_only_read_leave_a_database_that_is_not_ferstreams_alone(database_url, tmp_path):
    """Issue 32: `status --database sqlite:///other.db` wrote ferstream's schema into an unrelated database."""
    from sqlalchemy import create_engine, inspect, text

    other = create_engine(database_url)
    with other.begin() as conn:
        conn.execute(text("CREATE TABLE guests (id INTEGER PRIMARY KEY, name VARCHAR(40))"))
        conn.execute(text("INSERT INTO guests VALUES (1, 'ada')"))
    for command in (["status"], ["export", "--source", "1", "-o", str(tmp_path / "x.csv")],
                    ["annotate", "--source", "1", "-o", str(tmp_path / "x.mp4")], ["prune", "--older-than", "1d"]):
        result = ferstream(*command, "--database", database_url, check=False)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "is not a ferstream database (it holds other tables: guests)" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert inspect(other).get_table_names() == ["guests"]
    with other.connect() as conn:
        assert conn.execute(text("SELECT name FROM guests")).scalars().all() == ["ada"]
    other.dispose()
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.mp4").exists()


def test_a_prune_leaves_a_finished_source_done_with_its_counts(tmp_path, astronaut_video):
    """Issue 32: prune deleted the chunk rows a source's status was derived from: `status` said "running"."""
    import time

    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    ferstream("analyze", str(astronaut_video), "--database", url, "--name", "lobby")

    def line():
        out = ferstream("status", "--database", url).stdout
        return next(l for l in out.splitlines() if " lobby " in l).split()

    before = line()
    assert before[3] == "done" and before[-2] == "60", before  # status, faces (60 frames, a face in each)
    time.sleep(1.2)
    pruned = ferstream("prune", "--older-than", "1s", "--source", "lobby", "--database", url)
    assert "removed 60 frames, 60 faces, 4 chunks" in pruned.stdout, pruned.stdout
    assert line() == before
    from ferstream import db
    from ferstream.db.queries import progress

    p = progress(db.connect(url), 1)
    assert (p["status"], p["frames_analysed"], p["faces"], p["pruned_frames"]) == ("done", 60, 60, 60)


def test_help_explains_every_command():
    result = ferstream("--help")
    for command in ("analyze", "worker", "status", "export", "train", "evaluate", "demo"):
        assert command in result.stdout
    assert "--sample-fps" in ferstream("analyze", "--help").stdout
