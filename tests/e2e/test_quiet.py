"""What a user sees: ferstream's own lines, not the native libraries' chatter (issue 32, item 12).

OpenCV, the FFmpeg inside it and LiteRT print straight to standard error. Real commands and a real Python API
call, in processes of their own, on a text file named .mp4, a dead stream URL, a stream that drops and comes
back, and a real photo: their own logs show only with --verbose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import free_port
from tests.helpers import CLI, REPO, ferstream
from tests.streams import MjpegServer, _require_ffmpeg

NATIVE = ("[ WARN", "[ INFO", "[tcp @", "[http @", "[mov,mp4", "XNNPACK", "[OPENCV:FFMPEG")


def _native(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(mark in line for mark in NATIVE)]


def test_a_text_file_named_mp4_gives_one_clear_line(tmp_path, sqlite_url):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video\n")
    result = ferstream("analyze", str(fake), "--database", sqlite_url, check=False)
    assert result.returncode == 2 and "fake.mp4: not a video OpenCV can open" in result.stderr
    assert _native(result.stderr) == [], result.stderr
    loud = ferstream("analyze", str(fake), "--database", sqlite_url, "--verbose", check=False)
    assert loud.returncode == 2 and _native(loud.stderr), loud.stderr  # --verbose shows them


def test_a_dead_stream_url_gives_one_clear_line(sqlite_url):
    result = ferstream("watch", f"http://127.0.0.1:{free_port()}/live.mjpg", "--duration", "3", "--database",
                       sqlite_url, check=False, timeout=120)
    assert result.returncode == 2 and "connection refused" in result.stderr
    assert _native(result.stderr) == [], result.stderr


@pytest.mark.long  # 10-20 s: `make test-long`
@pytest.mark.timeout(180)
def test_a_stream_that_drops_and_comes_back_logs_only_ferstreams_lines(tmp_path, astronaut_video, sqlite_url):
    _require_ffmpeg()
    server = MjpegServer(astronaut_video, tmp_path / "ffmpeg.log")
    server.start()
    proc = subprocess.Popen([*CLI, "watch", server.url, "--name", "lobby", "--duration", "12", "--retention", "4s",
                             "--database", sqlite_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(5)
        server.kill()  # the reader retries every second or two: FFmpeg's "Connection refused" each time
        time.sleep(3)
        server.start(wait=False)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.kill()
    assert proc.returncode == 0, err
    assert "reconnected" in err and _native(err) == [], err
    assert "retention" not in err  # a pass a second at 4s: only with --verbose
    assert "retention: removed " in out


def test_the_python_api_prints_nothing_of_its_own(tmp_path, astronaut_video):
    code = ("import cv2, ferstream; from skimage import data\n"
            "print(len(ferstream.analyze(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))))\n"
            f"print(len(ferstream.analyze({str(astronaut_video)!r}, sample_fps=5)))\n"
            "a = ferstream.Analyzer(); print(len(next(a.analyze_frames([data.astronaut()]))))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "20", "1"]
    assert result.stderr == "", result.stderr


def test_status_shows_no_error_as_an_empty_cell(tmp_path, astronaut_video):
    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    ferstream("analyze", str(astronaut_video), "--database", url, "--sample-fps", "5")
    out = ferstream("status", "--database", url).stdout
    assert "NaN" not in out and "None" not in out, out
    header, row = out.splitlines()[2:4]
    assert header.split()[-1] == "error" and row.split()[-1] == "0", out  # an empty error cell: the row ends at reconnects
