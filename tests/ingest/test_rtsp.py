"""`ferstream watch rtsp://...` against a real RTSP server: GStreamer's, serving the astronaut clip on loopback.

The server (``tests/rtsp_server.py``, run by the system Python) sends the
clip's frames as RTP/JPEG at 15 frames a second, on loop; FFmpeg (in OpenCV)
reads it over TCP, as ``ferstream watch`` does with a camera. The server is
killed and restarted on the same port mid-stream. Every server and process is
killed in ``finally``. Skips, saying why, without the system packages
(`make system-deps` installs them).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from ferstream import db
from ferstream.db.models import Frame as FrameRow
from ferstream.db.models import Source
from tests.helpers import CLI, counts, ferstream, start_worker, stop_process_group, wait_until
from tests.streams import RtspServer, _require_rtsp_server


@pytest.fixture
def rtsp_server(tmp_path, astronaut_video):
    _require_rtsp_server()
    server = RtspServer(astronaut_video, tmp_path / "rtsp-server.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _query(db_path: Path, sql: str, *args) -> list:
    """Rows of a read-only query on the SQLite file a running `ferstream watch` writes; [] until it exists."""
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []


def _utc(value) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value  # SQLite keeps no zone


def _source_and_frames(url: str) -> tuple:
    engine = db.connect(url)
    with engine.connect() as conn:
        src = conn.execute(select(Source)).one()
        rows = conn.execute(select(FrameRow).where(FrameRow.source_id == src.id).order_by(FrameRow.frame_index)).all()
    return src, rows


@pytest.mark.timeout(120)
def test_watch_rtsp_stream_queued_to_a_worker(rtsp_server, tmp_path, redis_url):
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    db.connect(url)  # the schema first: two processes migrating a new SQLite file at once race (see db/engine.py)
    worker = start_worker(redis_url, url, "rtsp-1", log=tmp_path / "worker.log")
    try:
        started = datetime.now(timezone.utc)
        out = ferstream("watch", rtsp_server.url, "--name", "lobby", "--sample-fps", "5", "--duration", "6",
                        "--redis", redis_url, "--database", url, timeout=90).stdout
        src, _ = _source_and_frames(url)
        wait_until(lambda: counts(url, src.id)["frames"] >= src.frames_queued, 60)  # the worker drains the queue
    finally:
        stop_process_group(worker)

    src, rows = _source_and_frames(url)
    assert (src.name, src.kind, src.uri, src.state) == ("lobby", "live", rtsp_server.url, "stopped")
    assert src.sample_fps == 5.0
    assert (src.width, src.height) == (640, 360)
    assert src.reconnects == 0 and src.error is None
    assert src.frames_queued >= 10, src.frames_queued  # about 5 a second for 6 seconds, less the time to open
    assert len(rows) == len({r.frame_index for r in rows}) == src.frames_queued
    captured = [_utc(r.captured_at) for r in rows]
    assert started < captured[0] and captured == sorted(captured) and captured[-1] < datetime.now(timezone.utc)
    c = counts(url, src.id)
    assert c["faces"] >= len(rows) // 2, c  # the astronaut's face, in most frames
    assert f"{src.frames_queued} queued" in out
    print(f"{len(rows)} frames queued and analysed by the worker, {c['faces']} faces, "
          f"{src.frames_dropped} dropped; {src.frames_read} frames read")


@pytest.mark.timeout(150)
def test_rtsp_server_killed_and_restarted_watch_reconnects_and_stops_on_sigterm(rtsp_server, tmp_path):
    db_path = tmp_path / "watch.db"
    url = f"sqlite:///{db_path}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # in-process analysis
    env.update(PYTHONUNBUFFERED="1")
    out_path, err_path = tmp_path / "watch.out", tmp_path / "watch.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([*CLI, "watch", rtsp_server.url, "--name", "lobby", "--sample-fps", "5",
                                 "--database", url], env=env, stdout=out, stderr=err, start_new_session=True)

    def frames() -> list[tuple[int, datetime]]:
        return [(i, _utc(at)) for i, at in _query(db_path, "SELECT frame_index, captured_at FROM frames")]

    def state() -> tuple | None:
        rows = _query(db_path, "SELECT state, error, reconnects FROM sources")
        return rows[0] if rows else None

    try:
        wait_until(lambda: len(frames()) >= 5 or proc.poll() is not None, 60)
        assert proc.poll() is None, err_path.read_text()[-3000:]
        rtsp_server.kill()
        killed = datetime.now(timezone.utc)
        wait_until(lambda: (state() or ("",))[0] == "reconnecting", 10)  # visible in `ferstream status`
        assert "stream dropped" in state()[1]
        time.sleep(1.0)  # a reopen or two finds the port closed
        rtsp_server.start()  # the same port
        restarted = datetime.now(timezone.utc)
        wait_until(lambda: len([at for _, at in frames() if at > restarted]) >= 5, 45)
        back_in = min(at for _, at in frames() if at > restarted) - restarted
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        proc.wait(60)
        stopped_in = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    out, err = out_path.read_text(), err_path.read_text()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    src, rows = _source_and_frames(url)
    assert (src.name, src.state) == ("lobby", "stopped")
    assert src.reconnects >= 1
    assert "stream dropped" in src.error and "reconnected after" in src.error
    indexes = [r.frame_index for r in rows]
    assert len(rows) == len(set(indexes)) == src.frames_queued  # no frame twice
    captured = [_utc(r.captured_at) for r in rows]
    assert captured == sorted(captured) and len(set(captured)) == len(captured)
    before = [i for i, at in zip(indexes, captured) if at < killed]
    after = [i for i, at in zip(indexes, captured) if at > restarted]
    assert before and len(after) >= 5
    assert min(after) > max(before)  # frame numbers go on across the reconnect
    sampled = int(out.split(" frames sampled")[0].split()[-1])
    assert sampled == src.frames_queued + src.frames_dropped
    assert f"live: {sampled} frames sampled, {src.frames_queued} analysed" in out
    assert stopped_in < 30
    print(f"first frame {back_in.total_seconds():.1f}s after the server restarted; {src.reconnects} reconnect(s); "
          f"{len(before)} frames before the kill, {len(after)} after the restart; {src.frames_dropped} dropped; "
          f"stopped {stopped_in:.1f}s after SIGTERM")
