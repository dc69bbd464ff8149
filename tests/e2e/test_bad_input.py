"""Bad input gets a clear, specific error and loses nothing."""

from __future__ import annotations

import pytest

from ferstream import db

from ferstream.db.queries import sources
from ferstream.demo import astronaut_frames
from tests.conftest import free_port
from tests.helpers import counts, ferstream
from tests.videos import truncated_video


def test_missing_video(tmp_path, sqlite_url):
    result = ferstream("analyze", str(tmp_path / "nope.mp4"), "--database", sqlite_url, check=False)
    assert result.returncode == 2
    assert "nope.mp4: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_file_that_is_not_a_video(tmp_path, sqlite_url):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 100)
    result = ferstream("analyze", str(fake), "--database", sqlite_url, check=False)
    assert result.returncode == 2
    assert "notes.mp4: not a video" in result.stderr


def test_an_image_is_not_a_video(tmp_path, sqlite_url):
    import cv2

    image = tmp_path / "still.jpg"
    cv2.imwrite(str(image), astronaut_frames(1)[0])
    result = ferstream("analyze", str(image), "--database", sqlite_url, check=False)
    # FFmpeg opens a JPEG as a one-frame stream: either refused clearly or analysed as one frame, never a crash
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2)


def test_one_bad_video_does_not_stop_the_others(tmp_path, astronaut_video, sqlite_url):
    result = ferstream("analyze", str(tmp_path / "missing.mp4"), str(astronaut_video), "--database", sqlite_url, check=False)
    assert result.returncode == 2
    assert "missing.mp4: no such file" in result.stderr
    assert "astronaut.mp4 [done]" in result.stdout
    assert counts(sqlite_url, 1)["frames"] == 60


def test_corrupt_tail_keeps_the_frames_before_it_and_records_the_error(tmp_path, sqlite_url):
    video = truncated_video(astronaut_frames(60), tmp_path / "cut.avi", keep=0.5)
    result = ferstream("analyze", str(video), "--database", sqlite_url)
    assert "decoding stopped at frame" in result.stdout
    c = counts(sqlite_url, 1)
    assert 20 <= c["frames"] < 60 and c["faces"] >= c["frames"] - 3
    from ferstream import db

    row = sources(db.connect(sqlite_url)).iloc[0]
    assert "truncated or corrupt" in row["error"] and row["frames_analysed"] == c["frames"]


def test_truncated_mp4_without_its_index_is_refused(tmp_path, astronaut_video, sqlite_url):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(astronaut_video.read_bytes()[: astronaut_video.stat().st_size // 2])
    result = ferstream("analyze", str(cut), "--database", sqlite_url, check=False)
    assert result.returncode == 2 and "cut.mp4: not a video" in result.stderr


def test_redis_down(astronaut_video, sqlite_url):
    url = f"redis://127.0.0.1:{free_port()}/0"
    for args in (("analyze", str(astronaut_video)), ("worker", "--burst"), ("status",)):
        result = ferstream(*args, "--redis", url, "--database", sqlite_url, check=False)
        assert result.returncode == 2, args
        assert f"Redis at {url} is unreachable" in result.stderr
        assert "Traceback" not in result.stderr


def test_database_down(astronaut_video):
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/ferstream"
    result = ferstream("analyze", str(astronaut_video), "--database", url, check=False)
    assert result.returncode == 2
    assert "is unreachable" in result.stderr and str(url.split("@")[1]) in result.stderr


def test_bad_sample_fps(astronaut_video, sqlite_url):
    result = ferstream("analyze", str(astronaut_video), "--database", sqlite_url, "--sample-fps", "0", check=False)
    assert result.returncode == 2 and "argument --sample-fps: must be a finite number above 0" in result.stderr


@pytest.mark.parametrize("payload", [b"", b"\x00\x00\x00\x05hello", b"garbage bytes that are no chunk"])
def test_corrupt_chunk_bytes_raise_a_codec_error(payload):
    from ferstream.codec import CodecError, decode_chunk

    with pytest.raises(CodecError):
        decode_chunk(payload)


def test_missing_or_corrupt_model(tmp_path):
    from ferstream.emotion_model import EmotionModel
    from ferstream.errors import ModelError

    with pytest.raises(ModelError, match="model file not found"):
        EmotionModel(tmp_path / "none.tflite")
    (tmp_path / "bad.tflite").write_bytes(b"not a flatbuffer")
    (tmp_path / "bad.json").write_text('{"labels": ["a", "b"], "input_shape": [48, 48, 1]}')
    with pytest.raises(ModelError, match="not a readable TFLite model"):
        EmotionModel(tmp_path / "bad.tflite")
    (tmp_path / "nometa.tflite").write_bytes(b"x")
    with pytest.raises(ModelError, match="metadata file is missing"):
        EmotionModel(tmp_path / "nometa.tflite")


@pytest.mark.parametrize("option, env", [(["--min-face", "40"], {}), ([], {"FERSTREAM_MIN_FACE": "0"})])
def test_min_face_out_of_range_is_refused_before_anything_is_recorded(tmp_path, astronaut_video, sqlite_url, option, env):
    result = ferstream("analyze", str(astronaut_video), "--database", sqlite_url, *option, env=env, check=False)
    assert result.returncode == 2
    assert "min face" in result.stderr and "(0, 1]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ferstream.db").exists()  # refused before the database was even opened


def test_redis_password_never_printed(sqlite_url):
    db.connect(sqlite_url)  # a ferstream database: status goes on to the queue
    url = f"redis://:pw123@127.0.0.1:{free_port()}/0"
    for args in (("status",), ("worker", "--burst")):
        result = ferstream(*args, "--database", sqlite_url, env={"REDIS_URL": url}, check=False)
        assert result.returncode == 2 and "is unreachable" in result.stderr
        assert "pw123" not in result.stdout + result.stderr and "redis://:***@127.0.0.1" in result.stderr


def test_one_masking_function_for_every_url():
    from ferstream.urls import mask_url

    assert mask_url("redis://:pw123@host:6379/0") == "redis://:***@host:6379/0"
    assert mask_url("postgresql+psycopg2://bob:s3cret@db:5432/x?sslmode=require") == "postgresql+psycopg2://bob:***@db:5432/x?sslmode=require"
    assert mask_url("rtsp://admin:12345@[::1]:554/stream") == "rtsp://admin:***@[::1]:554/stream"
    assert mask_url("https://cam.local/live.m3u8?token=abc&x=1") == "https://cam.local/live.m3u8?token=***&x=1"
    assert mask_url("postgresql://u@h/d?password=hunter2") == "postgresql://u@h/d?password=***"
    for unchanged in ("sqlite:///ferstream.db", "sqlite:////tmp/a.db", "redis://127.0.0.1:6379/0", "/videos/a.mp4", "0"):
        assert mask_url(unchanged) == unchanged


def test_stream_credentials_are_masked_in_errors(sqlite_url):
    url = f"rtsp://admin:topsecret@127.0.0.1:{free_port()}/cam"
    result = ferstream("watch", url, "--database", sqlite_url, "--duration", "1", check=False)
    assert result.returncode == 2 and "topsecret" not in result.stdout + result.stderr
    assert "rtsp://admin:***@127.0.0.1" in result.stderr


def test_export_to_a_folder_that_does_not_exist(astronaut_video, sqlite_url, tmp_path):
    ferstream("analyze", str(astronaut_video), "--database", sqlite_url)
    result = ferstream("export", "--source", "1", "-o", str(tmp_path / "no" / "dir" / "x.csv"), "--database", sqlite_url,
                       check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write" in result.stderr and "x.csv: No such file or directory" not in result.stderr


def test_export_by_a_name_two_sources_share_asks_for_the_id(astronaut_video, sqlite_url, tmp_path):
    for _ in range(2):
        ferstream("analyze", str(astronaut_video), "--database", sqlite_url, "--name", "twin")
    result = ferstream("export", "--source", "twin", "-o", str(tmp_path / "x.csv"), "--database", sqlite_url, check=False)
    assert result.returncode == 2 and "2 sources are named 'twin' (ids 1, 2): pass the id" in result.stderr
    ferstream("export", "--source", "2", "-o", str(tmp_path / "x.csv"), "--database", sqlite_url)


@pytest.mark.parametrize("args, message", [
    (["--analysis-width", "-5"], "argument --analysis-width: must be 0 or more, got -5"),
    (["--sample-fps", "nan"], "argument --sample-fps: must be a finite number above 0, got 'nan'"),
    (["--sample-fps", "inf"], "argument --sample-fps: must be a finite number above 0, got 'inf'"),
    (["--model", "/nonexistent/model.tflite"], "model file not found"),
])
def test_bad_options_are_refused_before_a_source_is_made(astronaut_video, sqlite_url, tmp_path, args, message):
    result = ferstream("analyze", str(astronaut_video), "--database", sqlite_url, *args, check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    if (tmp_path / "ferstream.db").exists():
        from ferstream import db

        assert sources(db.connect(sqlite_url)).empty  # no half-made source left behind


def test_analysis_width_from_the_environment_is_checked_too(astronaut_video, sqlite_url):
    result = ferstream("analyze", str(astronaut_video), "--database", sqlite_url, env={"FERSTREAM_ANALYSIS_WIDTH": "-5"},
                       check=False)
    assert result.returncode == 2 and "FERSTREAM_ANALYSIS_WIDTH" in result.stderr and "Traceback" not in result.stderr


def test_worker_processes_must_be_at_least_one(sqlite_url, redis_url):
    result = ferstream("worker", "--burst", "--processes", "0", "--redis", redis_url, "--database", sqlite_url, check=False)
    assert result.returncode == 2 and "argument --processes: must be 1 or more, got 0" in result.stderr


def test_training_without_the_training_extra_names_the_extra(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['keras'] = sys.modules['tensorflow'] = None; from ferstream.cli import main; "
            "sys.exit(main(['train', '--data', 'x.csv']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "pip install 'ferstream[train]'" in result.stderr


@pytest.mark.parametrize("url, message", [
    ("rtsp://127.0.0.1:{port}/cam", "a live stream, not a video file: watch it with `ferstream watch"),
    ("http://127.0.0.1:{port}/clip.mp4", "connection refused by 127.0.0.1:{port}"),
    ("gopher://127.0.0.1:{port}/clip.mp4", "the gopher: protocol is refused: a video is an http:// or https:// URL"),
    ("ftp://127.0.0.1:{port}/clip.mp4", "the ftp: protocol is refused"),
    ("", "an empty URL: a video is an http:// or https:// URL, a file:// URL or a path of this machine"),
])
def test_a_url_is_never_taken_for_a_path(sqlite_url, url, message):
    port = free_port()
    result = ferstream("analyze", url.format(port=port), "--database", sqlite_url, check=False)
    assert result.returncode == 2 and message.format(port=port) in result.stderr
    assert "no such file" not in result.stderr and "Traceback" not in result.stderr
    assert url.startswith("rtsp") or "live stream" not in result.stderr and "not a file" not in result.stderr


def test_a_video_file_over_http_is_analysed(astronaut_video, sqlite_url):
    """A remote file FFmpeg can read is analysed like a local one (served here on loopback, with byte ranges)."""
    from tests.streams import http_file_server

    with http_file_server(astronaut_video.parent) as base:
        url = f"{base}/{astronaut_video.name}"
        result = ferstream("analyze", url, "--database", sqlite_url)
    assert "astronaut.mp4 [done]" in result.stdout
    c = counts(sqlite_url, 1)
    assert c["frames"] == 60 and max(c["labels"], key=c["labels"].get) == "happy"
    from ferstream import db

    assert sources(db.connect(sqlite_url)).iloc[0]["uri"] == url


def test_dashboard_on_a_port_in_use_fails_before_announcing_itself(sqlite_url):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ferstream("dashboard", "--port", str(port), "--database", sqlite_url, check=False, timeout=60)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}: the port is in use" in result.stderr
    assert "dashboard on http" not in result.stderr


@pytest.mark.parametrize("command", [["analyze", "x.mp4"], ["watch", "0"], ["worker"], ["demo"], ["dashboard"]])
def test_every_entry_point_takes_a_detector_and_refuses_an_unknown_one(command, sqlite_url):
    assert "--detector NAME" in ferstream(command[0], "--help").stdout
    result = ferstream(*command, "--detector", "nope", "--database", sqlite_url, check=False)
    assert result.returncode == 2
    assert "argument --detector: invalid choice: 'nope' (choose from" in result.stderr
    assert "haar" in result.stderr and "blazeface" in result.stderr


def test_an_unknown_detector_in_the_environment_is_refused(astronaut_video, sqlite_url):
    result = ferstream("analyze", str(astronaut_video), "--database", sqlite_url, env={"FERSTREAM_DETECTOR": "nope"},
                       check=False)
    assert result.returncode == 2 and "unknown detector 'nope' (--detector or FERSTREAM_DETECTOR): choose one of haar, blazeface" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["watch"], "give either SOURCE or --config FILE"),
    (["watch", "0", "--config", "cameras.yaml"], "give either SOURCE or --config FILE"),
    (["watch", "--config", "missing.yaml"], "missing.yaml: no such cameras file"),
    (["watch", "--config", "broken.yaml"], "broken.yaml: not valid YAML"),
    (["watch", "--config", "cameras.yaml", "--name", "x"], "--name go in the cameras file with --config"),
    (["watch", "--config", "disabled.yaml"], "every camera is disabled"),
    (["watch", "0", "--retention", "forever"], "forever"),
    (["prune", "--older-than", "0d"], "0d"),
    (["prune", "--older-than", "1d", "--source", "nowhere"], "nowhere"),
    (["worker", "--metrics-port", "0"], "argument --metrics-port"),
])
def test_watch_many_cameras_metrics_and_prune_refuse_bad_input_clearly(args, message, tmp_path, sqlite_url):
    db.connect(sqlite_url)  # a ferstream database (prune refuses any other)
    (tmp_path / "cameras.yaml").write_text("cameras:\n  - {name: lobby, url: 'rtsp://127.0.0.1:9/none'}\n")
    (tmp_path / "broken.yaml").write_text("cameras: [\n")
    (tmp_path / "disabled.yaml").write_text("cameras:\n  - {name: lobby, url: 'rtsp://127.0.0.1:9/x', enabled: false}\n")
    result = ferstream(*args, "--database", sqlite_url, check=False, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["watch", "--config", "cameras.yaml"], ["worker", "--redis", "REDIS"]])
def test_a_metrics_port_in_use_is_refused_before_anything_starts(command, tmp_path, sqlite_url, redis_url):
    import socket

    from sqlalchemy import text

    from ferstream import db

    (tmp_path / "cameras.yaml").write_text("cameras:\n  - {name: lobby, url: 'rtsp://127.0.0.1:9/none'}\n")
    command = [redis_url if part == "REDIS" else part for part in command]
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ferstream(*command, "--metrics-port", str(port), "--database", sqlite_url, check=False, cwd=tmp_path,
                           timeout=120)
    assert result.returncode == 2 and f"--metrics-port {port}: cannot listen" in result.stderr, result.stderr
    engine = db.connect(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sources")).scalar() == 0  # no camera was started


@pytest.mark.parametrize("host", ["256.0.0.1", "no-such-host.invalid"])
def test_a_metrics_host_that_cannot_be_listened_on_is_refused_before_anything_starts(host, tmp_path, sqlite_url):
    from sqlalchemy import text

    from tests.conftest import free_port

    (tmp_path / "cameras.yaml").write_text("cameras:\n  - {name: lobby, url: 'rtsp://127.0.0.1:9/none'}\n")
    port = free_port()
    result = ferstream("watch", "--config", "cameras.yaml", "--metrics-port", str(port), "--metrics-host", host,
                       "--database", sqlite_url, check=False, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and f"--metrics-port {port}: cannot listen on {host}:{port}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    with db.connect(sqlite_url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sources")).scalar() == 0  # no camera was started
