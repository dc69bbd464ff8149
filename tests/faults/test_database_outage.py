"""The database unreachable for a while: chunks fail, are retried with backoff, and land exactly once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ferstream import db
from ferstream.db.models import Chunk as ChunkRow
from tests.faults.proxy import CuttableProxy
from tests.helpers import counts, ferstream, start_worker, stop_process_group, wait_until
@pytest.mark.long
def test_database_outage_then_every_chunk_lands_once(tmp_path, postgres_url, redis_url):
    from ferstream.demo import make_astronaut_video

    video = make_astronaut_video(tmp_path / "clip.mp4", seconds=6, fps=15)  # 90 frames, 6 chunks
    db.connect(postgres_url)  # schema in place before the outage
    real = make_url(postgres_url)
    proxy = CuttableProxy(real.host or "127.0.0.1", real.port or 5432)
    proxy.start()
    via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    worker = start_worker(redis_url, via_proxy, "patient", log=tmp_path / "worker.log")  # reaches the database via the proxy
    try:
        wait_until(lambda: "Listening on" in (tmp_path / "worker.log").read_text(), 60, poll=0.2)
        proxy.cut()  # now the worker cannot reach the database
        ferstream("analyze", str(video), "--redis", redis_url, "--database", postgres_url)  # ingest can: 6 chunks queued
        time.sleep(12)  # jobs fail and are retried with backoff meanwhile
        assert counts(postgres_url, 1)["frames"] == 0
        proxy.restore()
        engine = db.connect(postgres_url)

        def all_done():
            with engine.connect() as conn:
                statuses = conn.execute(select(ChunkRow.status)).scalars().all()
            return statuses and all(s == "done" for s in statuses)

        wait_until(all_done, 120, poll=1)
    finally:
        stop_process_group(worker)
        proxy.cut()
    c = counts(postgres_url, 1)
    assert c["frames"] == 90 == c["distinct_frames"]
    log = (tmp_path / "worker.log").read_text()
    assert "unreachable" in log or "OperationalError" in log  # the outage was seen and retried through
