"""Live streams for tests: FFmpeg serving a real clip on a loopback port, which tests can kill and restart."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port, without connecting (FFmpeg's -listen 1 serves one client only)."""
    want = f"0100007F:{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(f[1] == want and f[3] == "0A" for f in (line.split() for line in lines)):
            return True
    return False


class MjpegServer:
    """``ffmpeg -re -stream_loop -1 -i CLIP -f mpjpeg -listen 1 http://127.0.0.1:PORT/live.mjpg``: stop, start again."""

    def __init__(self, clip: Path, log: Path):
        self.clip = clip
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/live.mjpg"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
                 str(self.clip), "-f", "mpjpeg", "-listen", "1", self.url],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ffmpeg did not start serving {self.url}: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def _require_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: `make system-deps` installs it (it serves the test streams)")
