"""Fixtures that start real services: a throwaway redis-server, databases, real videos."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("FERSTREAM_MEDIA", REPO.parent / "shared" / "media"))
FER2013 = Path(os.environ.get("FERSTREAM_FER2013", REPO.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"))


def _ferstream_temp_entries() -> set[str]:
    import tempfile

    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("ferstream")}


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_the_temporary_folder():
    """Issue 35: a test run left 178 migration locks and a metrics folder in TMPDIR. Whatever ferstream puts in
    the temporary folder during the whole run (its names start with "ferstream") must be gone at its end."""
    before = _ferstream_temp_entries()
    yield
    left = sorted(_ferstream_temp_entries() - before)
    assert not left, f"left in the temporary folder by this test run: {left[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server process of the tests' own, on a free loopback port; can be stopped and restarted."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed: run the tests with `make test`, which installs it")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """A clean database of the throwaway Redis for each test."""
    from redis import Redis

    client = Redis.from_url(redis_server.url)
    client.flushdb()
    yield redis_server.url
    client.close()


@pytest.fixture(scope="session")
def postgres_admin_url():
    url = os.environ.get("FERSTREAM_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL tests need FERSTREAM_TEST_POSTGRES_URL (`.ci/run` sets it to the local server)")
    return url


@pytest.fixture
def postgres_url(postgres_admin_url):
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ferstream_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    yield url
    import ferstream.db.engine as db_engine

    db_engine.dispose_all()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'ferstream.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each test that takes it runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ferstream.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def astronaut_video(tmp_path_factory) -> Path:
    from ferstream.demo import make_astronaut_video

    return make_astronaut_video(tmp_path_factory.mktemp("video") / "astronaut.mp4", seconds=4, fps=15)


def group_photo(path: Path, faces: int = 5, face_px: int = 70, size: tuple[int, int] = (1600, 1000)) -> Path:
    """A "group photo" any fresh clone can make: skimage's astronaut (a real, smiling face), ``faces`` times, each
    face about ``face_px`` pixels high (7% of a 1000-pixel-high photo) on a grey background, as a JPEG."""
    import cv2
    import numpy as np
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[20:260, 90:330]  # her head and shoulders
    side = int(face_px * photo.shape[0] / 120)  # the face is about 120 of the 240 pixels
    small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    width, height = size
    canvas = np.full((height, width, 3), 128, np.uint8)
    for i in range(faces):
        x, y = 60 + i * (width - 120 - side) // max(1, faces - 1), 150 + (i % 2) * 350
        canvas[y:y + side, x:x + side] = small
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


@pytest.fixture(scope="session")
def small_faces_photo(tmp_path_factory) -> Path:
    return group_photo(tmp_path_factory.mktemp("photo") / "group.jpg")


@pytest.fixture(scope="session")
def media() -> Path:
    if not (MEDIA / "WolfgangLanger_Pexels.mp4").exists():
        pytest.skip(f"real footage not found in {MEDIA} (set FERSTREAM_MEDIA to the shared/media folder)")
    return MEDIA
