"""A real ``ferstream serve`` process on a free loopback port, its keys made with the real CLI, called with httpx."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.helpers import CLI, REPO, ferstream


def make_key(database_url: str, name: str, *extra: str) -> str:
    """``ferstream apikey create``'s key: alone on its last line."""
    out = ferstream("apikey", "create", "--name", name, *extra, "--database", database_url).stdout
    return out.strip().splitlines()[-1]


class ApiServer:
    """``ferstream serve ARGS`` in a process of its own; ``client(key)`` an httpx client for it."""

    def __init__(self, database_url: str, folder: Path, *args: str, env: dict | None = None):
        self.database_url, self.folder, self.args = database_url, folder, list(args)
        self.port = free_port()
        self.uploads = folder / "uploads"
        self.log_path = folder / f"serve-{self.port}.log"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> "ApiServer":
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO), **self.env)
        self.proc = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--database", self.database_url,
                                      "--upload-dir", str(self.uploads), *self.args],
                                     stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        if wait:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log()
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            raise AssertionError(f"the server did not answer within 120 s\n{self.log()}")
        return self

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kwargs.pop("timeout", 120), **kwargs)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> int | None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def serve(tmp_path):
    """Start servers (``serve(database_url, *args)``); every one is stopped at the end of the test."""
    started = []

    def start(database_url: str, *args: str, wait: bool = True, env: dict | None = None) -> ApiServer:
        folder = tmp_path / f"server-{len(started)}"
        folder.mkdir()
        server = ApiServer(database_url, folder, *args, env=env)
        started.append(server)
        return server.start(wait)

    yield start
    for server in started:
        server.stop()


def problem_of(response: httpx.Response, status: int) -> dict:
    """The problem+json body of an error response, checked: its status, its media type, its fields."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


def wait_for_source(client: httpx.Client, source_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        source = client.get(f"/v1/sources/{source_id}").json()
        if source["status"] in ("done", "failed"):
            return source
        time.sleep(0.2)
    raise AssertionError(f"source {source_id} not done within {timeout}s: {source}")


class Api:
    """A server shared by the tests of a session (SQLite), with a read-write key and a read-only one."""

    def __init__(self, server: ApiServer, key: str, read_only_key: str):
        self.server, self.key, self.read_only_key = server, key, read_only_key
        self.database_url = server.database_url

    def client(self, key: str | None = "default", **kwargs) -> httpx.Client:
        return self.server.client(self.key if key == "default" else key, **kwargs)


#: the shared server's limits: small enough to be reached by a test
SHARED_MAX_UPLOAD_MB = 5
SHARED_MAX_PIXELS = 3_000_000
SHARED_MAX_IMAGES = 4


@pytest.fixture(scope="session")
def api(tmp_path_factory) -> Api:
    folder = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{folder / 'ferstream.db'}"
    key = make_key(url, "tests")
    read_only = make_key(url, "dashboards", "--read-only")
    server = ApiServer(url, folder, "--max-upload-mb", str(SHARED_MAX_UPLOAD_MB), "--max-image-pixels",
                       str(SHARED_MAX_PIXELS), "--max-images", str(SHARED_MAX_IMAGES)).start()
    yield Api(server, key, read_only)
    server.stop()


def declared_only(port: int, method: str, path: str, headers: dict, send: bytes = b"") -> tuple[int, str]:
    """Send a request's head (and ``send`` of its body) over a raw socket and read the answer: what a server says
    to a body it has not read yet, such as one declared 3 GB long."""
    import socket

    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode() + b"\r\n" + send)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            part = s.recv(65536)
            if not part:
                break
            data += part
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1].decode(errors="replace")


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0
