"""Many cameras in one `ferstream watch --config`: the file checked up front, a state per camera, /metrics.

Real streams (FFmpeg serving the astronaut clip as HTTP MJPEG on loopback), a real `ferstream watch` process,
its real Prometheus endpoint scraped while it runs, and the SQLite file it writes.
"""

from __future__ import annotations

import signal
import subprocess

import numpy as np
import pytest
import yaml
from sqlalchemy import func, select

from ferstream import db
from ferstream.db.models import Frame as FrameRow
from ferstream.db.models import Source
from ferstream.demo import write_video
from ferstream.errors import ConfigError
from ferstream.ingest.cameras import parse_cameras
from ferstream.ingest.stream import LatestFrameReader
from tests.conftest import free_port
from tests.helpers import CLI, metric, scrape_metrics, wait_until
from tests.streams import MjpegServer, _require_ffmpeg


def _config(**top) -> dict:
    return {"cameras": [{"name": "lobby", "url": "rtsp://cam.local/stream"}], **top}


def test_a_good_file_gives_each_camera_its_settings_and_the_defaults():
    config = parse_cameras({
        "retention": "30d",
        "defaults": {"sample_fps": 2, "detector": "haar"},
        "cameras": [
            {"name": "lobby", "url": "rtsp://user:secret@cam1.local/stream"},
            {"name": "door", "url": 0, "sample_fps": 5, "detector": "blazeface", "min_face": 0.05, "retention": "7d"},
            {"name": "spare", "url": "http://cam3.local/video.mjpg", "enabled": False},
        ],
    })
    lobby, door, spare = config.cameras
    assert (lobby.sample_fps, lobby.detector, lobby.min_face) == (2.0, "haar", None)
    assert "secret" not in lobby.display_url
    assert (door.url, door.sample_fps, door.detector, door.min_face, door.retention.days) == ("0", 5.0, "blazeface", 0.05, 7)
    assert config.retention.days == 30 and [c.name for c in config.enabled] == ["lobby", "door"]


@pytest.mark.parametrize("change, message", [
    (lambda c: c["cameras"][0].update(sample_fps=0), "camera 'lobby': sample_fps"),
    (lambda c: c["cameras"][0].update(sample_fps="fast"), "camera 'lobby': sample_fps"),
    (lambda c: c["cameras"][0].update(detector="yolo"), "camera 'lobby': detector"),
    (lambda c: c["cameras"][0].update(min_face=2), "camera 'lobby': min_face"),
    (lambda c: c["cameras"][0].update(enabled="yes"), "camera 'lobby': enabled"),
    (lambda c: c["cameras"][0].update(retention="forever"), "camera 'lobby': retention"),
    (lambda c: c["cameras"][0].update(fps=5), "camera 'lobby': unknown field(s) fps"),
    (lambda c: c["cameras"][0].pop("url"), "camera 'lobby': url: required"),
    (lambda c: c["cameras"].append({"url": "rtsp://x"}), "camera #2: name: required"),
    (lambda c: c["cameras"].append({"name": "lobby", "url": "rtsp://x"}), "camera 'lobby': name: used by another camera"),
    (lambda c: c.update(cameras=[]), "cameras: expected a non-empty list"),
    (lambda c: c.update(camera=[]), "unknown field(s) camera"),
    (lambda c: c.update(retention="0d"), "retention"),
])
def test_a_bad_file_is_refused_naming_the_camera_and_the_field(change, message):
    config = _config()
    change(config)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cameras(config, "cameras.yaml")


SECRET = "TopSecret1"


@pytest.mark.parametrize("text, line", [
    (f"cameras:\n  - name: a\n    url: [rtsp://admin:{SECRET}@cam.local/stream", 3),  # the issue's own file
    (f'cameras:\n  - name: a\n    url: "rtsp://admin:{SECRET}@cam.local/stream\n', 3),  # an open quote
    (f"cameras:\n\t- url: rtsp://admin:{SECRET}@cam.local/s", 2),  # a tab
    (f"cameras:\n  - name: a\n    url: rtsp://admin:{SECRET}@cam.local/s\n   sample_fps: 5: 6", 4),  # a bad indent
    (f"cameras:\n  - {{name: a, url: rtsp://admin:{SECRET}@cam.local/s\n", 3),  # an open flow mapping
    (f"cameras:\n  - name: a\n    url: http://viewer:{SECRET}@cam.local/video.mjpg?token={SECRET}\n"
     f"  - name: b\n    url: rtsp://ops:{SECRET}@x/%zz\n  - [", 6),  # URLs on the lines before the error
])
def test_a_yaml_error_names_the_line_and_never_shows_a_password(tmp_path, text, line):
    """Issue 32: the YAML parser's excerpt of the file was printed as it is, password and all."""
    from ferstream.ingest.cameras import load_cameras

    path = tmp_path / "cameras.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_cameras(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML: ") and f"line {line}" in message, message
    assert SECRET not in message, message


@pytest.mark.parametrize("entry", [
    f"rtsp://admin:{SECRET}@cam.local/stream",  # a camera given as a bare URL, not a mapping
    {"name": "a", "url": f"rtsp://admin:{SECRET}@cam.local/stream", "sample_fps": f"http://u:{SECRET}@x/"},
])
def test_a_wrong_value_quoted_in_an_error_is_masked(tmp_path, entry):
    from ferstream.ingest.cameras import load_cameras

    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump({"cameras": [entry]}))
    with pytest.raises(ConfigError) as caught:
        load_cameras(path)
    assert "***" in str(caught.value) and SECRET not in str(caught.value), caught.value


def test_watch_prints_a_yaml_error_without_the_password(tmp_path, sqlite_url):
    path = tmp_path / "cameras.yaml"
    path.write_text(f"cameras:\n  - name: a\n    url: [rtsp://admin:{SECRET}@cam.local/stream")
    result = subprocess.run([*CLI, "watch", "--config", str(path), "--database", sqlite_url], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "not valid YAML" in result.stderr and "line 3" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_video_file_as_a_camera_is_refused_before_anything_starts(tmp_path, astronaut_video, sqlite_url):
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump({"cameras": [{"name": "clip", "url": str(astronaut_video)}]}))
    result = subprocess.run([*CLI, "watch", "--config", str(path), "--database", sqlite_url], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "camera 'clip': url" in result.stderr and "ferstream analyze" in result.stderr
    engine = db.connect(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Source)).scalar() == 0


def test_a_frozen_stream_counts_as_stalled_and_is_reopened(tmp_path):
    _require_ffmpeg()
    still = np.full((240, 320, 3), 90, np.uint8)
    clip = write_video([still] * 30, tmp_path / "frozen.mp4", fps=15)
    server = MjpegServer(clip, tmp_path / "ffmpeg.log")
    server.start()
    reader = LatestFrameReader(server.url, sample_fps=5, stall_s=1.5, backoff_initial=0.2, read_timeout=5)
    states = set()
    try:
        reader.start()
        wait_until(lambda: states.add(reader.state) or reader.stalls >= 1, 30, poll=0.02)
        assert "stalled" in reader.last_error and reader.drops >= 1
        server.kill()  # ffmpeg serves one client: a new server for the reopen
        server.start(wait=False)  # the reader, retrying every 0.2 s, may take its one connection before a poll sees it
        wait_until(lambda: states.add(reader.state) or reader.reconnects >= 1, 30, poll=0.02)
    finally:
        reader.stop()
        server.kill()
    assert "stalled" in states


def _db_counts(engine, name: str) -> dict:
    with engine.connect() as conn:
        src = conn.execute(select(Source).where(Source.name == name)).mappings().one()
        frames = conn.execute(select(func.count()).select_from(FrameRow).where(FrameRow.source_id == src["id"])).scalar()
    return {"state": src["state"], "frames": frames, "queued": src["frames_queued"], "reconnects": src["reconnects"],
            "last_frame_at": src["last_frame_at"], "dropped": src["frames_dropped"]}


def test_watch_config_runs_every_camera_each_in_its_state_and_its_metrics_agree_with_the_database(
        tmp_path, astronaut_video, sqlite_url):
    _require_ffmpeg()
    servers = [MjpegServer(astronaut_video, tmp_path / f"ffmpeg-{i}.log") for i in range(2)]
    dead_port = free_port()  # nothing listens there: that camera keeps reconnecting, and never stops the others
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"sample_fps": 4}, "cameras": [
        {"name": "lobby", "url": servers[0].url},
        {"name": "door", "url": servers[1].url, "detector": "haar"},
        {"name": "dead", "url": f"http://127.0.0.1:{dead_port}/live.mjpg"},
        {"name": "spare", "url": "http://127.0.0.1:9/none.mjpg", "enabled": False},
    ]}))
    port = free_port()
    log = open(tmp_path / "watch.log", "w")
    proc = None
    try:
        for s in servers:
            s.start()
        proc = subprocess.Popen([*CLI, "watch", "--config", str(config), "--metrics-port", str(port),
                                 "--database", sqlite_url], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        samples = {}

        def running():
            nonlocal samples
            try:
                samples = scrape_metrics(port)
            except OSError:
                assert proc.poll() is None, (tmp_path / "watch.log").read_text()
                return False
            return all(metric(samples, "ferstream_source_frames_analysed_total", source=n) for n in ("lobby", "door"))

        wait_until(running, 120, poll=0.5)
        assert metric(samples, "ferstream_source_state", source="lobby", state="running") == 1.0
        assert metric(samples, "ferstream_source_state", source="dead", state="reconnecting") == 1.0
        assert metric(samples, "ferstream_source_state", source="dead", state="running") == 0.0
        assert metric(samples, "ferstream_source_frames_read_total", source="dead") == 0.0
        assert not any(dict(labels).get("source") == "spare" for _, labels in samples), "a disabled camera is not watched"
        assert metric(samples, "ferstream_source_last_frame_age_seconds", source="lobby") < 5
        first = metric(samples, "ferstream_source_frames_sampled_total", source="lobby")
        wait_until(lambda: metric(scrape_metrics(port), "ferstream_source_frames_sampled_total", source="lobby") > first, 30)
        assert metric(samples, "ferstream_capture_to_row_seconds_count", source="lobby") > 0  # in-process: rows here

        status = subprocess.run([*CLI, "status", "--database", sqlite_url], capture_output=True, text=True, timeout=120)
        lines = {line.split()[1]: line for line in status.stdout.splitlines()[2:] if len(line.split()) > 1}
        assert " running " in lines["lobby"] and "s ago" in lines["lobby"], status.stdout
        assert " reconnecting " in lines["dead"], status.stdout

        # the streams end: the cameras reconnect, their counters settle, and then agree with the database
        servers[0].kill()
        servers[1].kill()
        engine = db.connect(sqlite_url)

        def settled():
            now = scrape_metrics(port)
            rows = {n: _db_counts(engine, n) for n in ("lobby", "door")}
            return all(rows[n]["state"] == "reconnecting"
                       and metric(now, "ferstream_source_frames_analysed_total", source=n) == rows[n]["frames"]
                       and metric(now, "ferstream_source_frames_sent_total", source=n) == rows[n]["queued"]
                       and metric(now, "ferstream_source_reconnects_total", source=n) == rows[n]["reconnects"]
                       for n in rows)

        wait_until(settled, 60, poll=0.5)
        assert _db_counts(engine, "lobby")["last_frame_at"] is not None

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 2, (tmp_path / "watch.log").read_text()  # a camera failed: the status says so
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        for s in servers:
            s.kill()
        log.close()
    out = (tmp_path / "watch.log").read_text()
    assert "watching 3 camera(s)" in out and "(1 disabled)" in out
    for name in ("lobby", "door"):
        assert _db_counts(engine, name)["state"] == "stopped", out
    # issue 32: a camera that never delivered a frame is failed, not stopped (nor `done` in status)
    assert _db_counts(engine, "dead")["state"] == "failed", out
    assert "dead (source" in out and "[failed]: never opened; never delivered a frame: " in out, out
    assert "1 of 3 camera(s) failed: dead" in out
    status = subprocess.run([*CLI, "status", "--database", sqlite_url], capture_output=True, text=True, timeout=120)
    lines = {line.split()[1]: line.split() for line in status.stdout.splitlines()[2:] if len(line.split()) > 1}
    assert lines["dead"][3:5] == ["failed", "failed"] and lines["lobby"][3:5] == ["done", "stopped"], status.stdout


def test_watch_config_with_redis_queues_each_camera_with_its_own_detector(tmp_path, astronaut_video, sqlite_url,
                                                                          redis_url):
    from redis import Redis
    from rq import Queue

    from ferstream.db.identity import database_id
    from ferstream.ingest.queue import queue_name
    from tests.helpers import burst_worker, stop_process_group

    _require_ffmpeg()
    servers = [MjpegServer(astronaut_video, tmp_path / f"ffmpeg-{i}.log") for i in range(2)]
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump({"cameras": [
        {"name": "lobby", "url": servers[0].url, "sample_fps": 4, "detector": "haar", "min_face": 0.2},
        {"name": "door", "url": servers[1].url, "sample_fps": 4},
    ]}))
    queue = Queue(queue_name("ferstream", database_id(db.connect(sqlite_url))), connection=Redis.from_url(redis_url))
    port = free_port()
    proc = None
    try:
        for s in servers:
            s.start()
        proc = subprocess.Popen([*CLI, "watch", "--config", str(config), "--redis", redis_url, "--database", sqlite_url,
                                 "--metrics-port", str(port)],
                                stdout=open(tmp_path / "watch.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        engine = db.connect(sqlite_url)

        def queued_both():
            assert proc.poll() is None, (tmp_path / "watch.log").read_text()
            names = {}
            for job in queue.get_jobs():
                source_id, detector, min_face = job.args[1], job.args[4], job.args[5]
                with engine.connect() as conn:
                    names[conn.execute(select(Source.name).where(Source.id == source_id)).scalar()] = (detector, min_face)
            return names if {"lobby", "door"} <= set(names) else None

        jobs = wait_until(queued_both, 90, poll=0.5)
        assert jobs["lobby"] == ("haar", 0.2)
        assert jobs["door"] == ("blazeface", 0.13)  # the settings' defaults
        # issue 32: two cameras, one queue: its depth once (scrape_metrics refuses a family or a series twice)
        pages = []
        depth = metric(scrape_metrics(port, pages), "ferstream_queue_depth", queue=queue.name)
        assert depth is not None and pages[0].count("# TYPE ferstream_queue_depth ") == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "watch.log").read_text()
    finally:
        stop_process_group(proc)
        for s in servers:
            s.kill()
    burst_worker(redis_url, sqlite_url)
    for name in ("lobby", "door"):
        row = _db_counts(engine, name)
        assert row["state"] == "stopped" and row["frames"] == row["queued"] > 0, (name, row)
