"""With Redis: videos submitted over HTTP go to RQ as `ferstream analyze --redis` sends them, and a real worker
analyses them; 8 uploads at once lose nothing and duplicate nothing; a live follower that disconnects while the
worker goes on gets the rest on its return; a server killed mid-upload leaves no source; the read routes on both
databases. SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.api_server.conftest import make_key, wait_for_source
from tests.api_server.test_api_live import read_events
from tests.helpers import burst_worker, counts, start_worker, stop_process_group, wait_until

pytestmark = pytest.mark.long


def _source_rows(database_url: str) -> list:
    from ferstream import db
    from ferstream.db.models import Source

    with db.connect(database_url).connect() as conn:
        return conn.execute(select(Source.id, Source.name, Source.state)).all()


def test_eight_uploads_at_once_are_queued_and_analysed_by_a_real_worker_nothing_lost_nothing_doubled(
        serve, database_url, redis_url, astronaut_video):
    from redis import Redis
    from rq import Queue

    from tests.helpers import queue_of

    key = make_key(database_url, "uploader")
    server = serve(database_url, "--redis", redis_url)

    def upload(i: int) -> int:
        with server.client(key) as client, open(astronaut_video, "rb") as f:
            response = client.post("/v1/videos", files={"file": (f"clip-{i}.mp4", f, "video/mp4")},
                                   data={"name": f"clip-{i}"})
        assert response.status_code == 202, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(upload, range(8)))
    assert len(set(ids)) == 8
    queue = Queue(queue_of(database_url), connection=Redis.from_url(redis_url))
    wait_until(lambda: len(queue.get_job_ids()) == 8 * 4, 60)  # 4 chunks each, queued for the workers
    with server.client(key) as client:
        assert {client.get(f"/v1/sources/{i}").json()["status"] for i in ids} <= {"queued", "running"}
    burst_worker(redis_url, database_url)
    with server.client(key) as client:
        for i in ids:
            source = wait_for_source(client, i)
            assert source["status"] == "done" and source["frames_analysed"] == 60, source
            assert counts(database_url, i)["distinct_frames"] == 60
    rows = _source_rows(database_url)
    assert sorted(r.name for r in rows) == [f"clip-{i}" for i in range(8)]  # none lost, none registered twice
    assert not any(server.uploads.iterdir())  # every upload deleted once its frames were in Redis


def test_a_follower_that_disconnects_while_the_worker_goes_on_gets_the_rest_when_it_comes_back(
        serve, sqlite_url, redis_url, astronaut_video, tmp_path):
    server = serve(sqlite_url, "--redis", redis_url)
    with server.client() as client, open(astronaut_video, "rb") as f:
        source_id = client.post("/v1/videos", files={"file": ("long.mp4", f, "video/mp4")},
                                data={"sample_fps": "15"}).json()["id"]
    worker = None
    try:
        with server.client(timeout=120) as client:
            with client.stream("GET", "/v1/live", params={"source": source_id}) as response:
                worker = start_worker(redis_url, sqlite_url, "follower-test", log=tmp_path / "worker.log")
                before = read_events(response, lambda events: len(events) == 1)
            with server.client() as c:
                wait_for_source(c, source_id)  # the rest lands while nobody follows
            with client.stream("GET", "/v1/live", params={"source": source_id},
                               headers={"Last-Event-ID": before[-1]["id"]}) as response:
                after = read_events(response, lambda events: len(before) + len(events) == 4)
    finally:
        stop_process_group(worker)
    chunks = [e["data"]["chunk_index"] for e in before + after]
    assert sorted(chunks) == [0, 1, 2, 3] and len(chunks) == 4


def test_a_server_killed_mid_upload_leaves_no_source_and_its_next_start_removes_the_part(serve, sqlite_url):
    key = make_key(sqlite_url, "k")
    server = serve(sqlite_url)
    head = (f"POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 4000000\r\n\r\n"
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.mp4\"\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head + b"\0" * 1_000_000)
        wait_until(lambda: server.uploads.exists() and any(p.stat().st_size > 500_000 for p in server.uploads.iterdir()),
                   30)
        server.kill()
    parts = list(server.uploads.iterdir())
    assert [p.suffix for p in parts] == [".part"]  # what the killed server left
    assert _source_rows(sqlite_url) == []
    server.start()
    assert not any(server.uploads.iterdir())  # removed by the next start
    with server.client(key) as client:
        assert client.get("/v1/sources").json() == []


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    from ferstream.demo import make_astronaut_video

    return make_astronaut_video(tmp_path_factory.mktemp("long") / "long.mp4", seconds=40, fps=15)


def _started(server, key, video) -> int:
    with server.client(key) as client, open(video, "rb") as f:
        source_id = client.post("/v1/videos", files={"file": ("long.mp4", f, "video/mp4")}).json()["id"]
        wait_until(lambda: client.get(f"/v1/sources/{source_id}").json()["frames_analysed"] > 0, 60)
    return source_id


def test_a_server_stopped_or_killed_mid_ingest_leaves_its_source_failed_and_saying_why(serve, sqlite_url, long_video):
    from ferstream import db
    from ferstream.db.models import Source

    key = make_key(sqlite_url, "k")
    server = serve(sqlite_url)
    stopped = _started(server, key, long_video)
    assert server.stop() == 0  # SIGTERM: the ingest ends after its chunk in hand
    killed_server = serve(sqlite_url)
    killed = _started(killed_server, key, long_video)
    killed_server.kill()
    assert list(killed_server.uploads.iterdir())  # the upload the killed server was reading
    killed_server.start()  # the same upload folder: its next start cleans up after it
    again = killed_server
    with db.connect(sqlite_url).connect() as conn:
        rows = {r.id: r for r in conn.execute(select(Source.id, Source.state, Source.error))}
    assert rows[stopped].state == "failed" and "the server stopped before it had read the whole video" in rows[stopped].error
    assert rows[killed].state == "failed" and "the server stopped while it was reading this upload" in rows[killed].error
    assert not any(killed_server.uploads.iterdir())
    assert not server.uploads.exists()  # a server that stops removes its (empty) upload folder
    with again.client(key) as client:
        assert client.get(f"/v1/sources/{killed}").json()["status"] == "failed"
        cut_short = client.get(f"/v1/sources/{stopped}").json()
        assert cut_short["status"] == "failed" and 0 < cut_short["progress"] < 1  # how far it got, not 1.0


def test_every_read_route_on_both_databases(serve, database_url, astronaut_video):
    """The results routes and the live feed read the same on SQLite and PostgreSQL (keyset pages, the feed's keys)."""
    import io

    import pandas as pd

    from ferstream import db
    from ferstream.db.queries import faces_table, tracks_table

    key = make_key(database_url, "reader")
    server = serve(database_url)
    with server.client(key) as client:
        with open(astronaut_video, "rb") as f:
            sid = client.post("/v1/videos", files={"file": ("a.mp4", f, "video/mp4")}).json()["id"]
        assert wait_for_source(client, sid)["status"] == "done"
        pages, cursor = [], None
        while True:
            page = client.get(f"/v1/sources/{sid}/faces", params={"limit": 9, **({"cursor": cursor} if cursor else {})}).json()
            pages += page["faces"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        as_csv = pd.read_csv(io.StringIO(client.get(f"/v1/sources/{sid}/faces", params={"format": "csv"}).text))
        as_parquet = pd.read_parquet(io.BytesIO(client.get(f"/v1/sources/{sid}/faces", params={"format": "parquet"}).content))
        tracks = client.get(f"/v1/sources/{sid}/tracks").json()["tracks"]
        summary = client.get(f"/v1/sources/{sid}/summary").json()
        with client.stream("GET", "/v1/live", params={"source": sid, "replay": "true"}) as response:
            events = read_events(response, lambda e: len(e) == 4)
    engine = db.connect(database_url)
    table = faces_table(engine, sid)
    assert [(r["frame_index"], r["face_index"]) for r in pages] == list(zip(table["frame_index"], table["face_index"]))
    assert len(as_csv) == len(as_parquet) == len(table) > 0
    assert [t["track_id"] for t in tracks] == list(tracks_table(engine, sid)["track_id"])
    assert summary["source"]["faces"] == len(table)
    assert sorted(e["data"]["chunk_index"] for e in events) == [0, 1, 2, 3]
    assert sum(len(f["faces"]) for e in events for f in e["data"]["frames"]) == len(table)
