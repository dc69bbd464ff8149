"""`ferstream serve`, `apikey` and `cameras` given bad input: a clear line and status 2, nothing started."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import free_port
from tests.helpers import ferstream


def test_a_port_in_use_is_said_plainly(sqlite_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ferstream("serve", "--port", str(port), "--database", sqlite_url, check=False, timeout=120)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port} (is the port in use?)" in result.stderr
    assert "ferstream API on" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, words", [
    (["serve", "--model", "/nonexistent/model.tflite"], "model.tflite"),
    (["serve", "--max-upload-mb", "0"], "--max-upload-mb: must be 1 or more"),
    (["apikey", "create", "--name", " "], "an API key's name: 1 to 255 characters"),
    (["cameras", "add", "lobby", "rtsp://u:hunter2@cam/x", "--sample-fps", "-1"], "--sample-fps"),
    (["cameras", "add", "lobby", "rtsp://u:hunter2@cam/x", "--retention", "forever"], "'forever' is not a duration"),
    (["cameras", "remove", "nobody"], "no camera named 'nobody'"),
])
def test_bad_input_gets_one_clear_line(sqlite_url, args, words):
    from ferstream import db

    db.connect(sqlite_url)  # a ferstream database: what is wrong is the input
    result = ferstream(*args, "--database", sqlite_url, *(["--port", str(free_port())] if args[0] == "serve" else []),
                       check=False, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr and "hunter2" not in result.stderr, result.stderr
