"""Databases filled by the real pipeline (``ferstream analyze``) for the dashboard's tests."""

from __future__ import annotations

import pytest

from tests.helpers import ferstream
from tests.videos import no_face_video

ASTRONAUT, NO_FACE, ASTRONAUT_5FPS = 1, 2, 3


@pytest.fixture(scope="session")
def pipeline_db(tmp_path_factory, astronaut_video) -> str:
    """A SQLite file with three analysed sources: the astronaut clip (#1), a clip with no face (#2), and the
    astronaut clip again at 5 frames per second (#3, the newest)."""
    folder = tmp_path_factory.mktemp("dashboard-db")
    url = f"sqlite:///{folder / 'ferstream.db'}"
    coffee = no_face_video(folder / "coffee.mp4")
    ferstream("analyze", str(astronaut_video), str(coffee), "--database", url)
    ferstream("analyze", str(astronaut_video), "--database", url, "--sample-fps", "5", "--name", "astronaut-5fps")
    return url


@pytest.fixture(scope="session")
def wolfgang_db(tmp_path_factory, media) -> str:
    """A SQLite file with WolfgangLanger_Pexels.mp4 analysed (472 frames, her expression changes)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('wolfgang-db') / 'ferstream.db'}"
    ferstream("analyze", str(media / "WolfgangLanger_Pexels.mp4"), "--database", url, timeout=600)
    return url


@pytest.fixture
def app_env(monkeypatch, tmp_path):
    """The dashboard's environment for one test: no Redis unless the test sets it, uploads in tmp_path."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("FERSTREAM_UPLOAD_DIR", str(tmp_path / "uploads"))

    def use(database_url: str, redis_url: str | None = None) -> None:
        monkeypatch.setenv("DATABASE_URL", database_url)
        if redis_url:
            monkeypatch.setenv("REDIS_URL", redis_url)

    return use
