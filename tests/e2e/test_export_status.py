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


def test_help_explains_every_command():
    result = ferstream("--help")
    for command in ("analyze", "worker", "status", "export", "train", "evaluate", "demo"):
        assert command in result.stdout
    assert "--sample-fps" in ferstream("analyze", "--help").stdout
