"""Live sources against real streams: FFmpeg serves the astronaut clip as HTTP MJPEG on a loopback port.

The server is killed and restarted mid-stream, dead and silent ports are
watched, Redis is left without workers, and a real `ferstream watch` process
gets SIGTERM. Every server and process is killed in ``finally``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import select

from ferstream import db
from ferstream.db.models import Chunk as ChunkRow
from ferstream.db.models import Frame as FrameRow
from ferstream.db.models import Source
from ferstream.errors import VideoError
from ferstream.settings import Settings
from ferstream.ingest.live import watch_source
from ferstream.sinks import make_sink
from tests.conftest import free_port
from tests.helpers import check_exposition, counts, wait_until
from tests.streams import MjpegServer, _listening, _require_ffmpeg
from ferstream.worker.inline import InlineSink
from ferstream.worker.runtime import Runtime, set_runtime

FAIL_FAST_LIMIT_S = 15


@pytest.fixture
def mjpeg_server(tmp_path, astronaut_video):
    _require_ffmpeg()
    server = MjpegServer(astronaut_video, tmp_path / "ffmpeg.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def hls_url(tmp_path, astronaut_video):
    """A live HLS stream of the clip (2-second segments) served by Python's http.server."""
    _require_ffmpeg()
    out = tmp_path / "hls"
    out.mkdir()
    port = free_port()
    with open(tmp_path / "ffmpeg.log", "a") as log:
        procs = [subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                                   "-i", str(astronaut_video), "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
                                   "-f", "hls", "-hls_time", "2", "-hls_list_size", "5", "-hls_flags", "delete_segments",
                                   str(out / "live.m3u8")], stdin=subprocess.DEVNULL, stdout=log, stderr=log)]
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                       "--directory", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: (out / "live.m3u8").exists() and _listening(port), 30)
        yield f"http://127.0.0.1:{port}/live.m3u8"
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


def _inline_sink(settings: Settings) -> InlineSink:
    runtime = Runtime(settings)
    set_runtime(runtime)
    return InlineSink(runtime)


def _source(engine, source_id: int) -> Source:
    with engine.connect() as conn:
        return conn.execute(select(Source).where(Source.id == source_id)).one()


def _frames(engine, source_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(select(FrameRow).where(FrameRow.source_id == source_id).order_by(FrameRow.frame_index)).all()


class Watch:
    """``watch_source`` on a thread of its own, with the chunks it produced: (chunk, sent)."""

    def __init__(self, engine, url: str, sink, settings: Settings, **kwargs):
        self.stop = threading.Event()
        self.chunks: list = []
        self.source_id: int | None = None
        self.error: BaseException | None = None

        def run():
            try:
                self.source_id = watch_source(engine, url, sink, settings, stop=self.stop,
                                              on_chunk=lambda c, sent: self.chunks.append((c, sent)), **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread by join()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 60) -> int:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"watch_source did not stop within {timeout}s"
        if self.error:
            raise self.error
        return self.source_id

    def frames(self, sent: bool | None = None) -> list:
        return [f for c, s in self.chunks if sent is None or s == sent for f in c.frames]


@pytest.mark.timeout(120)
def test_analyze_sends_a_live_http_stream_to_watch(mjpeg_server, sqlite_url):
    from tests.helpers import ferstream

    result = ferstream("analyze", mjpeg_server.url, "--database", sqlite_url, check=False)
    assert result.returncode == 2 and "a live stream (it has no length), not a video file: watch it with" in result.stderr
    assert _count_sources(sqlite_url) == 0


def _count_sources(url: str) -> int:
    with db.connect(url).connect() as conn:
        return len(conn.execute(select(Source.id)).all())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("detector", ["haar", "blazeface"])
def test_watch_http_mjpeg_stream_in_process(mjpeg_server, sqlite_url, detector):
    settings = Settings(database_url=sqlite_url, detector=detector)
    engine = db.connect(sqlite_url)
    started = datetime.now(timezone.utc)
    sampled = []
    source_id = watch_source(engine, mjpeg_server.url, _inline_sink(settings), settings, sample_fps=5, max_seconds=4,
                             on_chunk=lambda chunk, sent: sampled.extend(chunk.frames))

    src = _source(engine, source_id)
    assert (src.kind, src.uri, src.state, src.sample_fps) == ("live", mjpeg_server.url, "stopped", 5.0)
    assert src.width == 640 and src.height == 360
    span = (sampled[-1].captured_at - sampled[0].captured_at).total_seconds()
    assert 5 <= len(sampled) <= span * 5 + 2, (len(sampled), span)  # 5 a second of the stream's 15, never more
    assert all(f.captured_at.tzinfo is not None and f.captured_at.utcoffset() == timedelta(0) for f in sampled)
    assert all(b.captured_at > a.captured_at and b.timestamp > a.timestamp and b.index > a.index
               for a, b in zip(sampled, sampled[1:]))
    rows = _frames(engine, source_id)
    assert [r.frame_index for r in rows] == [f.index for f in sampled]
    assert all(r.captured_at is not None for r in rows)
    stored = rows[0].captured_at.replace(tzinfo=rows[0].captured_at.tzinfo or timezone.utc)  # SQLite keeps no zone
    assert started - timedelta(seconds=1) < stored < datetime.now(timezone.utc)
    assert src.frames_queued == len(rows) and src.frames_dropped == 0 and src.reconnects == 0
    c = counts(sqlite_url, source_id)
    assert c["faces"] >= len(rows) // 2, c  # the astronaut's face, in most frames
    from ferstream.db.queries import tracks_table

    people = tracks_table(engine, source_id)  # one person, tracked across the stream's 0.4 s chunks (a one-frame
    assert (people["faces"] >= 3).sum() == 1, people  # false detection, if any, is a track of its own)
    assert people["faces"].max() >= c["faces"] - 2, people
    assert src.frames_read > len(rows)  # the reader decodes every frame; 5 a second are sampled


@pytest.mark.timeout(120)
def test_watch_hls_stream_samples_whole_segments_at_the_asked_rate(hls_url, sqlite_url):
    """HLS delivers a 2-second segment at once: the frames sampled from each burst keep their media spacing."""
    settings = Settings(database_url=sqlite_url)
    engine = db.connect(sqlite_url)
    sampled = []
    source_id = watch_source(engine, hls_url, _inline_sink(settings), settings, sample_fps=5, max_seconds=9,
                             on_chunk=lambda chunk, sent: sampled.extend(chunk.frames))

    src = _source(engine, source_id)
    assert src.state == "stopped" and src.frames_dropped == 0
    assert len(sampled) >= 15, len(sampled)  # about 5 a second once segments flow (not one per segment)
    gaps = sorted((b.captured_at - a.captured_at).total_seconds() for a, b in zip(sampled, sampled[1:]))
    assert gaps[0] > 0  # strictly increasing capture times, even within a burst
    assert 0.15 < gaps[len(gaps) // 2] < 0.25, gaps  # spaced 1/5 s apart: media time, not arrival time
    assert sampled[-1].captured_at <= datetime.now(timezone.utc)
    assert counts(sqlite_url, source_id)["frames"] == len(sampled)


@pytest.mark.timeout(180)
def test_server_killed_and_restarted_reconnects(mjpeg_server, sqlite_url):
    settings = Settings(database_url=sqlite_url)
    engine = db.connect(sqlite_url)
    watch = Watch(engine, mjpeg_server.url, _inline_sink(settings), settings, sample_fps=5, read_timeout=2,
                  max_seconds=90)
    try:
        wait_until(lambda: len(watch.frames()) >= 5, 60)
        source_id = watch.chunks[0][0].source_id
        mjpeg_server.kill()
        killed = datetime.now(timezone.utc)
        wait_until(lambda: _source(engine, source_id).state == "reconnecting", 10)  # visible in `ferstream status`
        assert "stream dropped" in _source(engine, source_id).error
        time.sleep(1.0)
        mjpeg_server.start(wait=False)  # the watch, retrying, may take ffmpeg's one connection before a poll sees it
        restarted = datetime.now(timezone.utc)
        wait_until(lambda: [f for f in watch.frames() if f.captured_at > restarted], 60)
    finally:
        source_id = watch.join()

    src = _source(engine, source_id)
    assert src.reconnects >= 1
    assert src.state == "stopped"
    assert "stream dropped" in src.error and "reconnected after" in src.error
    rows = _frames(engine, source_id)
    before = [r for r in rows if r.captured_at.replace(tzinfo=timezone.utc) < killed]
    after = [r for r in rows if r.captured_at.replace(tzinfo=timezone.utc) > restarted]
    assert before and after
    assert len({r.frame_index for r in rows}) == len(rows) == src.frames_queued
    back_in = min(f.captured_at for f in watch.frames() if f.captured_at > restarted) - restarted
    print(f"first frame {back_in.total_seconds():.1f}s after the server restarted; "
          f"{src.reconnects} reconnect(s); {len(before)} frames before, {len(after)} after")


def _silent_port() -> socket.socket:
    """A port that accepts connections and never answers (a hung server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scheme", ["http", "rtsp"])
def test_dead_port_fails_fast_with_a_clear_error(scheme, sqlite_url):
    settings = Settings(database_url=sqlite_url)
    engine = db.connect(sqlite_url)
    url = f"{scheme}://127.0.0.1:{free_port()}/live"
    start = time.monotonic()
    with pytest.raises(VideoError) as err:
        watch_source(engine, url, _NoSink(), settings, max_seconds=5)
    took = time.monotonic() - start
    assert str(err.value).startswith(f"{url}: cannot open stream: connection refused")
    assert took < FAIL_FAST_LIMIT_S
    with engine.connect() as conn:
        assert conn.execute(select(Source)).first() is None  # nothing recorded
    print(f"{scheme}: failed in {took:.2f}s: {err.value}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scheme", ["http", "rtsp"])
def test_hung_server_fails_within_the_open_timeout(scheme, sqlite_url):
    settings = Settings(database_url=sqlite_url)
    engine = db.connect(sqlite_url)
    with _silent_port() as server:
        url = f"{scheme}://127.0.0.1:{server.getsockname()[1]}/live"
        start = time.monotonic()
        with pytest.raises(VideoError, match="accepted the connection but sent no video within 3s") as err:
            watch_source(engine, url, _NoSink(), settings, open_timeout=3, max_seconds=5)
        took = time.monotonic() - start
    assert str(err.value).startswith(f"{url}: cannot open stream")
    assert took < FAIL_FAST_LIMIT_S
    print(f"{scheme}: failed in {took:.2f}s: {err.value}")


class _NoSink:
    def put(self, chunk) -> None:
        raise AssertionError("nothing should reach the sink")


@pytest.mark.timeout(120)
def test_workers_behind_live_source_drops_frames_and_redis_stays_bounded(mjpeg_server, sqlite_url, redis_url):
    settings = Settings(database_url=sqlite_url, redis_url=redis_url, max_pending_chunks=2)
    engine = db.connect(sqlite_url)
    redis = Redis.from_url(redis_url)
    watch = Watch(engine, mjpeg_server.url, make_sink(settings, engine), settings, sample_fps=5, max_seconds=7)
    most_keys = 0
    try:
        while watch.thread.is_alive():  # no worker runs: nothing leaves Redis
            most_keys = max(most_keys, len(redis.keys("ferstream:chunk:*")))
            time.sleep(0.1)
    finally:
        source_id = watch.join()

    src = _source(engine, source_id)
    sampled, sent, dropped = len(watch.frames()), len(watch.frames(sent=True)), len(watch.frames(sent=False))
    assert most_keys <= 2 and len(redis.keys("ferstream:chunk:*")) == 2
    assert src.frames_dropped == dropped > 0
    assert src.frames_queued == sent
    assert src.frames_queued + src.frames_dropped == sampled
    assert src.state == "stopped"
    with engine.connect() as conn:
        assert conn.execute(select(ChunkRow.chunk_index).where(ChunkRow.source_id == source_id)).scalars().all() == [0, 1]
    print(f"{sampled} frames sampled: {sent} queued, {dropped} dropped; at most {most_keys} chunks in Redis")


def _state(db_path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT state FROM sources ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


@pytest.mark.timeout(180)
def test_sigterm_stops_watch_cleanly_and_flushes_the_last_chunk(mjpeg_server, tmp_path):
    db_path = tmp_path / "watch.db"
    url = f"sqlite:///{db_path}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(PYTHONUNBUFFERED="1", FERSTREAM_LIVE_CHUNK_SECONDS="30")  # one chunk: only the flush on stop analyses it
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ferstream.cli", "watch", mjpeg_server.url, "--name", "lobby",
                             "--sample-fps", "5", "--metrics-port", str(port), "--database", url], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until(lambda: _state(db_path) == "running" or proc.poll() is not None, 90)
        assert proc.poll() is None, proc.communicate()
        time.sleep(3)  # about 15 frames sampled, all in the unfinished chunk
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        check_exposition(metrics)
        sampled_so_far = float(re.search(r'^ferstream_source_frames_sampled_total\{source="lobby"\} (\S+)$', metrics, re.M)[1])
        assert sampled_so_far >= 5 and 'ferstream_source_state{source="lobby",state="running"} 1.0' in metrics
        assert 'ferstream_source_frames_sent_total{source="lobby"} 0.0' in metrics  # the chunk is still open
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        out, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert stopped_in < 30
    engine = db.connect(url)
    with engine.connect() as conn:
        src = conn.execute(select(Source)).one()
    assert (src.name, src.state) == ("lobby", "stopped")
    rows = _frames(engine, src.id)
    sampled = int(out.split(" frames sampled")[0].split()[-1])
    assert 5 <= sampled and len(rows) == src.frames_queued == sampled - src.frames_dropped == sampled
    assert f"live: {sampled} frames sampled, {sampled} analysed" in out
    print(f"stopped {stopped_in:.1f}s after SIGTERM; {sampled} frames sampled and analysed")


@pytest.mark.long  # 10-20 s: `make test-long`
@pytest.mark.timeout(180)
def test_watch_with_a_retention_prunes_old_results_while_it_runs(mjpeg_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run([sys.executable, "-m", "ferstream.cli", "watch", mjpeg_server.url, "--name", "lobby",
                             "--sample-fps", "5", "--duration", "12", "--retention", "2s", "--database", url],
                            env=env, capture_output=True, text=True, timeout=150)
    ended = datetime.now(timezone.utc)
    assert result.returncode == 0, result.stderr
    sampled = int(result.stdout.split(" frames sampled")[0].split()[-1])
    engine = db.connect(url)
    with engine.connect() as conn:
        src = conn.execute(select(Source)).one()
        kept = conn.execute(select(FrameRow.captured_at).where(FrameRow.source_id == src.id)).scalars().all()
    assert sampled >= 30 and src.frames_queued == sampled  # every sampled frame was analysed ...
    assert 0 < len(kept) < sampled / 2, (len(kept), sampled)  # ... and the old ones pruned while it ran
    oldest = min(at if at.tzinfo else at.replace(tzinfo=timezone.utc) for at in kept)
    assert ended - oldest < timedelta(seconds=8), (ended, oldest)
    removed = int(result.stdout.split("retention: removed ")[1].split()[0])
    assert removed == sampled - len(kept), result.stdout  # the summary says what the passes removed ...
    assert "retention" not in result.stderr  # ... and the passes log nothing but at --verbose (issue 32)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seconds", [pytest.param(16, id="16s"), pytest.param(60, id="a-minute", marks=pytest.mark.slow)])
def test_a_password_in_a_stream_url_shows_nowhere(mjpeg_server, tmp_path, seconds):
    """Issue 32: a watch without --name labelled its metrics with the raw URL, password and all. Every page of
    /metrics, every line the watch prints (--verbose: its debug lines and the native libraries' logs too), through
    a drop and a reconnect, `status` and the export: the password is masked everywhere."""
    secret = "NameSecret8"
    url = mjpeg_server.url.replace("http://", f"http://cam:{secret}@")
    masked = mjpeg_server.url.replace("http://", "http://cam:***@")
    database = f"sqlite:///{tmp_path / 'watch.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ferstream.cli", "watch", url, "--sample-fps", "5", "--duration",
                             str(seconds), "--metrics-port", str(port), "--database", database, "--verbose"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    pages: list[str] = []
    try:
        def scrape() -> bool:
            from tests.helpers import scrape_metrics

            try:
                samples = scrape_metrics(port, pages)
            except OSError:
                assert proc.poll() is None, "".join(out)
                return False
            return bool(samples.get(("ferstream_source_frames_analysed_total", (("source", masked),))))

        wait_until(scrape, 90, poll=0.5)
        assert _listening(port)  # on 127.0.0.1 (--metrics-host's default), not every interface
        mjpeg_server.kill()  # a drop and a reconnect: the reader's warnings and FFmpeg's own lines name the stream
        time.sleep(2.5)
        mjpeg_server.start(wait=False)
        while proc.poll() is None:
            try:
                scrape()
            except AssertionError:
                break  # the watch ended between the poll and the scrape
            time.sleep(0.5)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    reader.join(10)
    log = "".join(out)
    assert proc.returncode == 0, log
    assert len(pages) >= seconds // 2 and f'source="{masked}"' in pages[-1], pages[-1]
    assert "reconnected" in log and masked in log, log
    assert any(mark in log for mark in ("[OPENCV:FFMPEG:", "[ WARN:", "[ INFO:")), log  # native lines too (--verbose)
    status = subprocess.run([*CLI_ARGS, "status", "--database", database], env=env, capture_output=True, text=True,
                            timeout=120)
    export = subprocess.run([*CLI_ARGS, "export", "--source", "1", "-o", "-", "--database", database], env=env,
                            capture_output=True, text=True, timeout=120)
    assert masked in status.stdout and masked in export.stdout
    for what, text in [("metrics", "\n".join(pages)), ("the watch's output", log), ("status", status.stdout + status.stderr),
                       ("export", export.stdout + export.stderr)]:
        assert secret not in text, f"the password shows in {what}"
    engine = db.connect(database)
    with engine.connect() as conn:
        src = conn.execute(select(Source)).one()
    assert src.name == src.uri == masked and src.reconnects >= 1
    assert secret not in (src.error or "")


CLI_ARGS = [sys.executable, "-m", "ferstream.cli"]
