"""Soak: a live stream for minutes while a worker is SIGKILLed and restarted twice and Redis restarted once.

Prints frames sent, analysed, dropped, duplicated and lost, peak Redis memory and
capture-to-database latency (p50/p95); fails if anything is lost or duplicated.

    make test-slow                       # FERSTREAM_SOAK_SECONDS=120 by default
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest
from redis import Redis
from sqlalchemy import func, select

from ferstream import db
from ferstream.db.models import Frame, Source
from tests.conftest import RedisServer
from tests.helpers import CLI, start_worker, stop_process_group, wait_until
from tests.streams import MjpegServer, _require_ffmpeg

SOAK_SECONDS = float(os.environ.get("FERSTREAM_SOAK_SECONDS", "120"))
#: seconds after a fault (and 2 s before it: a chunk in flight) whose frames are left out of the steady-state
#: latency: a worker's restart, the re-run of the chunk its death abandoned, Redis coming back
RECOVERY_SECONDS = 30


def _utc(t: datetime) -> datetime:
    """Naive UTC (SQLite hands back naive datetimes, PostgreSQL aware ones)."""
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _now() -> datetime:
    return _utc(datetime.now(timezone.utc))


class MemoryProbe(threading.Thread):
    """Peak ``used_memory`` of a Redis, polled twice a second (it survives the server's restart)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.redis = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                self.peak = max(self.peak, int(self.redis.info("memory")["used_memory"]))
            except Exception:  # noqa: BLE001 - Redis restarting
                pass


@pytest.mark.slow
def test_soak_live_stream_with_faults(tmp_path, astronaut_video, sqlite_url):
    _require_ffmpeg()
    engine = db.connect(sqlite_url)
    redis = RedisServer(tmp_path)
    redis.start()
    stream = MjpegServer(astronaut_video, tmp_path / "ffmpeg.log")
    stream.start()
    probe = MemoryProbe(redis.url)
    probe.start()
    worker = start_worker(redis.url, sqlite_url, "soak-1", log=tmp_path / "worker-1.log")
    watch = subprocess.Popen([*CLI, "watch", stream.url, "--name", "soak", "--sample-fps", "5", "--duration",
                              str(SOAK_SECONDS), "--redis", redis.url, "--database", sqlite_url],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    events, faults = [], []
    try:
        start = time.monotonic()
        for n, at in enumerate((0.2, 0.45), start=2):  # kill a worker mid-stream, twice
            time.sleep(max(0.0, start + SOAK_SECONDS * at - time.monotonic()))
            os.killpg(worker.pid, signal.SIGKILL)
            faults.append(_now())
            worker.wait(10)
            events.append(f"worker SIGKILLed at {time.monotonic() - start:.0f}s")
            time.sleep(3)
            worker = start_worker(redis.url, sqlite_url, f"soak-{n}", log=tmp_path / f"worker-{n}.log")
        time.sleep(max(0.0, start + SOAK_SECONDS * 0.7 - time.monotonic()))
        redis.stop()
        faults.append(_now())
        events.append(f"Redis restarted (empty) at {time.monotonic() - start:.0f}s")
        time.sleep(2)
        redis.start()
        out, _ = watch.communicate(timeout=SOAK_SECONDS + 120)
        assert watch.returncode == 0, out[-3000:]

        def drained():
            with engine.connect() as conn:
                src = conn.execute(select(Source)).one()
                analysed = conn.execute(select(func.count()).select_from(Frame)).scalar()
            return analysed >= src.frames_queued
        wait_until(drained, 180, poll=1)
    finally:
        probe.done.set()
        if watch.poll() is None:
            watch.kill()
        stop_process_group(worker)
        stream.kill()
        redis.stop()

    with engine.connect() as conn:
        src = conn.execute(select(Source)).one()
        rows = conn.execute(select(Frame.frame_index, Frame.captured_at, Frame.analysed_at)).all()
    analysed = len(rows)
    duplicated = analysed - len({r.frame_index for r in rows})
    sent = src.frames_queued
    lost = sent - analysed + duplicated
    timed = [(_utc(r.captured_at), (r.analysed_at - r.captured_at).total_seconds()) for r in rows if r.captured_at]
    latency = np.array([lat for _, lat in timed])
    steady = np.array([lat for at, lat in timed
                       if not any(-2 <= (at - f).total_seconds() < RECOVERY_SECONDS for f in faults)])
    report = (f"soak {SOAK_SECONDS:.0f}s at 5 fps, one worker: frames sampled {sent + src.frames_dropped}, "
              f"sent {sent}, analysed {analysed}, dropped {src.frames_dropped}, duplicated {duplicated}, lost {lost}; "
              f"reconnects {src.reconnects}; peak Redis memory {probe.peak / 2**20:.1f} MiB; "
              f"capture-to-row latency p50 {np.percentile(latency, 50):.2f}s p95 {np.percentile(latency, 95):.2f}s, "
              f"{(latency < 1).mean():.1%} under 1 s; outside the {RECOVERY_SECONDS} s after each fault "
              f"({len(steady)} frames) p50 {np.percentile(steady, 50):.2f}s p95 {np.percentile(steady, 95):.2f}s; "
              + "; ".join(events))
    print("\n" + report)
    (tmp_path.parent / "soak-report.txt").write_text(report + "\n")
    assert duplicated == 0 and lost == 0
    assert analysed > SOAK_SECONDS * 5 * 0.5
