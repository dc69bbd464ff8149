"""A worker pool's one /metrics endpoint (prometheus-client's multiprocess mode), scraped during a real run.

Real Redis, a real `ferstream worker --processes 2` and a real `ferstream analyze` queueing the astronaut clip;
the counters it serves must move and, once the queue is drained, equal what the database holds.
"""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import func, select

from ferstream import db
from ferstream.db.models import Chunk, Face, Frame
from tests.conftest import free_port
from tests.helpers import CLI, ferstream, metric, scrape_metrics, stop_process_group, wait_until


def _database(url: str) -> dict:
    engine = db.connect(url)
    with engine.connect() as conn:
        return {
            "chunks": conn.execute(select(func.count()).select_from(Chunk).where(Chunk.status == "done")).scalar(),
            "frames": conn.execute(select(func.count()).select_from(Frame)).scalar(),
            "faces": conn.execute(select(func.count()).select_from(Face)).scalar(),
        }
@pytest.mark.long
def test_a_worker_pool_serves_one_endpoint_whose_counters_agree_with_the_database(tmp_path, redis_url, sqlite_url,
                                                                                  astronaut_video):
    port = free_port()
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([*CLI, "worker", "--processes", "2", "--metrics-port", str(port), "--redis", redis_url,
                               "--database", sqlite_url], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up():
            try:
                return scrape_metrics(port)
            except OSError:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                return None

        before = wait_until(up, 120, poll=0.5)
        assert metric(before, "ferstream_worker_chunks_total", 0.0, outcome="done") == 0
        ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url, "--wait", timeout=600)
        rows = _database(sqlite_url)
        assert rows["chunks"] > 1 and rows["faces"] > 0

        def caught_up():
            samples = scrape_metrics(port)
            return samples if metric(samples, "ferstream_worker_chunks_total", 0.0, outcome="done") == rows["chunks"] else None

        samples = wait_until(caught_up, 60, poll=0.5)
        assert metric(samples, "ferstream_worker_frames_total", 0.0) == rows["frames"]
        assert metric(samples, "ferstream_worker_faces_total", 0.0) == rows["faces"]
        assert metric(samples, "ferstream_worker_chunks_total", 0.0, outcome="failed") == 0
        for stage in ("decode", "detect", "classify", "write"):
            assert metric(samples, "ferstream_worker_stage_seconds_count", 0.0, stage=stage) == rows["chunks"], stage
            assert metric(samples, "ferstream_worker_stage_seconds_sum", 0.0, stage=stage) > 0, stage
        depth = [v for (name, _), v in samples.items() if name == "ferstream_queue_depth"]
        assert depth == [0.0]
    finally:
        stop_process_group(worker)
        log.close()
    assert "metrics on http://" in (tmp_path / "worker.log").read_text()


def test_prune_deletes_old_results_and_keeps_the_source(tmp_path, sqlite_url, astronaut_video):
    ferstream("analyze", str(astronaut_video), "--name", "old", "--database", sqlite_url, timeout=600)
    assert _database(sqlite_url)["frames"] > 0
    kept = ferstream("prune", "--older-than", "1h", "--database", sqlite_url)
    assert "removed 0 frames" in kept.stdout and _database(sqlite_url)["frames"] > 0
    bad = ferstream("prune", "--older-than", "soon", "--database", sqlite_url, check=False)
    assert bad.returncode == 2 and "soon" in bad.stderr
    import time

    time.sleep(1.2)
    gone = ferstream("prune", "--older-than", "1s", "--source", "old", "--batch", "7", "--database", sqlite_url)
    assert "removed" in gone.stdout and _database(sqlite_url) == {"chunks": 0, "frames": 0, "faces": 0}, gone.stdout
    status = ferstream("status", "--database", sqlite_url)
    assert " old " in status.stdout  # the source itself stays
