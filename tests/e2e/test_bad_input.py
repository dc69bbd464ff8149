"""Bad input gets a clear, specific error and loses nothing."""

from __future__ import annotations

import pytest

from db.queries import sources
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
    import db

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
    assert result.returncode == 2 and "--sample-fps must be positive" in result.stderr


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
