"""Live streams for tests: a real clip served on a loopback port (FFmpeg: HTTP MJPEG; GStreamer: RTSP), which
tests can kill and restart."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
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


class _StreamServer:
    """A server process streaming a clip on a loopback port: start, kill, start again on the same port."""

    name = "the server"

    def __init__(self, clip: Path, log: Path, url: str):
        self.clip = clip
        self.log = log
        self.url = url
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 10, wait: bool = True) -> None:
        """Start the server and (``wait``) return once its port is listening. ``wait=False`` where a client is
        already retrying: ffmpeg's ``-listen 1`` stops listening once that client connects, maybe before a poll
        sees the port, and exits when the client leaves."""
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not start serving {self.url}: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


class MjpegServer(_StreamServer):
    """``ffmpeg -re -stream_loop -1 -i CLIP -f mpjpeg -listen 1 http://127.0.0.1:PORT/live.mjpg``: stop, start again."""

    name = "ffmpeg"

    def __init__(self, clip: Path, log: Path):
        self.port = free_port()
        super().__init__(clip, log, f"http://127.0.0.1:{self.port}/live.mjpg")

    def command(self) -> list[str]:
        return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
                str(self.clip), "-f", "mpjpeg", "-listen", "1", self.url]


def _require_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: `make system-deps` installs it (it serves the test streams)")


#: GStreamer's RTSP server is reached through python3-gi, which the system Python has and a virtual environment lacks
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")


class RtspServer(_StreamServer):
    """GStreamer's RTSP server (``tests/rtsp_server.py`` on the system Python) serving CLIP on loop at
    ``rtsp://127.0.0.1:PORT/live``: kill, start again on the same port.

    The clip is handed over as an MJPEG AVI (written here with OpenCV): GStreamer
    decodes that with the packages `make system-deps` installs, while the
    MP4 clips' MPEG-4 Part 2 video would need gstreamer1.0-libav.
    """

    name = "the RTSP server"

    def __init__(self, clip: Path, log: Path):
        self.port = free_port()
        super().__init__(_as_mjpeg_avi(clip, log.parent / f"{clip.stem}-rtsp.avi"), log,
                         f"rtsp://127.0.0.1:{self.port}/live")

    def command(self) -> list[str]:
        return [SYSTEM_PYTHON, str(RTSP_SERVER_SCRIPT), str(self.clip), str(self.port)]

    def start(self, timeout: float = 30) -> None:  # it decodes the clip, then listens
        super().start(timeout)


def _as_mjpeg_avi(clip: Path, out: Path) -> Path:
    """CLIP's frames in an MJPEG AVI at ``out`` (once); an AVI clip as it is."""
    if clip.suffix.lower() == ".avi":
        return clip
    if out.exists():
        return out
    import cv2

    from tests.videos import write_video_avi

    cap = cv2.VideoCapture(str(clip))
    frames = []
    try:
        while (frame := cap.read()[1]) is not None:
            frames.append(frame)
        fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
    finally:
        cap.release()
    if not frames:
        raise RuntimeError(f"{clip}: no frames to serve")
    return write_video_avi(frames, out, fps)


@functools.cache
def _rtsp_server_missing() -> str | None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} not found"
    check = subprocess.run([SYSTEM_PYTHON, str(RTSP_SERVER_SCRIPT), "--check"], capture_output=True, text=True,
                           timeout=60)
    return None if check.returncode == 0 else (check.stdout + check.stderr).strip()[-500:]


def _require_rtsp_server() -> None:
    missing = _rtsp_server_missing()
    if missing:
        pytest.skip("GStreamer's RTSP server is not usable from the system Python (python3-gi, "
                    "gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-base, gstreamer1.0-plugins-good): "
                    f"`make system-deps` installs them ({missing})")


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges, as any web server or object store serves video (FFmpeg seeks in MP4s)."""

    def send_head(self):
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not match or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start, end = int(match[1]), int(match[2] or size - 1)
        if start >= size:
            self.send_error(416)
            return None
        end = min(end, size - 1)
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._left = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = getattr(self, "_left", None)
        if left is None:
            return super().copyfile(source, outputfile)
        while left > 0:
            block = source.read(min(left, 64 * 1024))
            if not block:
                break
            outputfile.write(block)
            left -= len(block)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def http_file_server(folder: Path):
    """An HTTP server on loopback serving ``folder``'s files with byte ranges; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_RangeHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def watched_camera(folder: Path, clip: Path, database_url: str, redis_url: str, name: str = "lobby"):
    """The whole live pipeline on real processes: FFmpeg serving ``clip`` as MJPEG, ``ferstream watch --config``
    watching it as camera ``name`` and queueing to ``redis_url``, and a ``ferstream worker`` analysing it into
    ``database_url``; yields the watch process once the camera's first frames are in the database, and stops it all."""
    import signal

    from sqlalchemy import func, select

    from ferstream import db
    from ferstream.db.models import Frame, Source
    from tests.helpers import CLI, start_worker, stop_process_group, wait_until

    _require_ffmpeg()
    stream = MjpegServer(clip, folder / "ffmpeg.log")
    config = folder / "cameras.yaml"
    config.write_text(f"cameras:\n  - name: {name}\n    url: {stream.url}\n    sample_fps: 5\n")
    engine = db.connect(database_url)

    def analysed() -> bool:
        with engine.connect() as conn:
            sid = conn.execute(select(func.max(Source.id)).where(Source.name == name)).scalar()
            return sid is not None and conn.execute(select(func.count()).select_from(Frame)
                                                    .where(Frame.source_id == sid)).scalar() > 0

    worker = watch = None
    try:
        stream.start()
        worker = start_worker(redis_url, database_url, f"{name}-worker", folder / "worker.log")
        watch = subprocess.Popen([*CLI, "watch", "--config", str(config), "--database", database_url, "--redis",
                                  redis_url], stdout=open(folder / "watch.log", "w"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
        wait_until(analysed, 120, poll=0.3)
        yield watch
    finally:
        if watch is not None and watch.poll() is None:
            watch.send_signal(signal.SIGTERM)
            watch.wait(60)
        stop_process_group(worker)
        stream.kill()
