"""Throwaway services a benchmark runs against: a free loopback port, redis-server, a Mosquitto broker, a fresh
PostgreSQL database; each stopped or dropped afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 10) -> bool:
    """Whether something listens on loopback ``port`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class RedisServer:
    """A throwaway redis-server on a free loopback port, without persistence; a context manager."""

    def __init__(self, folder: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise SystemExit("bench: redis-server is not installed (`make system-deps` installs it)")
        self.port = free_port()
        self.folder = folder
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> "RedisServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for_port(self.port):
            return self
        self.__exit__()
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def mosquitto(folder: Path) -> tuple[subprocess.Popen, int]:
    """A Mosquitto broker on a free loopback port (anonymous, no persistence); the process and the port."""
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        raise SystemExit("bench: mosquitto is not installed (`make system-deps` installs it)")
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, port


@contextmanager
def sqlite_database(folder: Path, name: str) -> Iterator[str]:
    """A fresh SQLite file ``folder/name.db``, its engines disposed of afterwards (the file stays)."""
    from bench.ferstream_side import sqlite_url

    url = sqlite_url(folder, name)
    try:
        yield url
    finally:
        from ferstream.db.engine import dispose

        dispose(url)


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh database named ``ferstream_bench_<name>_<random>`` on the server of ``admin_url``, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ferstream_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from ferstream.db.engine import dispose

        dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
