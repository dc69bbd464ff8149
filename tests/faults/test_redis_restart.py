"""Redis restarted (empty: no persistence) while ingest and a worker run: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from redis import Redis

from tests.conftest import RedisServer
from tests.helpers import counts, start_worker, stop_process_group, wait_until


def test_redis_restart_mid_analysis(tmp_path, sqlite_url):
    from ferstream.demo import make_astronaut_video
    from ferstream.ingest.queue import KEY_PREFIX

    video = make_astronaut_video(tmp_path / "clip.mp4", seconds=12, fps=15)  # 180 frames, 12 chunks
    server = RedisServer(tmp_path)
    server.start()
    worker = start_worker(server.url, sqlite_url, "survivor", log=tmp_path / "worker.log")
    ingest = None
    try:
        ingest = subprocess.Popen([sys.executable, "-m", "ferstream.cli", "analyze", str(video), "--redis", server.url,
                                   "--database", sqlite_url, "--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, "FERSTREAM_MAX_PENDING_CHUNKS": "4"})
        wait_until(lambda: counts(sqlite_url, 1)["frames"] >= 30, 120, poll=0.1)  # work in flight
        # the worker paused until chunks wait in Redis beyond the one it holds: a fast worker otherwise leaves
        # nothing queued for the restart to lose, and there is nothing to send again
        os.killpg(worker.pid, signal.SIGSTOP)
        with Redis.from_url(server.url) as r:
            wait_until(lambda: len(r.keys(f"{KEY_PREFIX}:*")) >= 3, 60, poll=0.1)
        server.stop()  # every queued job and frame in Redis is gone
        time.sleep(2)
        server.start()
        os.killpg(worker.pid, signal.SIGCONT)
        out, err = ingest.communicate(timeout=120)
        assert ingest.returncode == 0, err[-3000:]
        assert worker.poll() is None, "the worker died with Redis instead of reconnecting"
    finally:
        if ingest and ingest.poll() is None:
            ingest.kill()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGCONT)
        stop_process_group(worker)
        server.stop()
    c = counts(sqlite_url, 1)
    assert c["frames"] == 180 == c["distinct_frames"]
    assert "sending it again" in err  # ingest noticed and re-sent what Redis lost
    assert "[done]" in out
