"""GET /v1/live: Server-Sent Events as each chunk's faces land; a client that disconnects and comes back with
Last-Event-ID gets every chunk it missed, once."""

from __future__ import annotations

import json
import threading

import httpx
from sqlalchemy import select

from tests.api_server.conftest import problem_of, wait_for_source


def read_events(response: httpx.Response, until) -> list[dict]:
    """Events of an open SSE response (id, event, data decoded) until ``until(events)`` is true."""
    events, current = [], {}
    for line in response.iter_lines():
        if line == "":
            if "data" in current:
                events.append({**current, "data": json.loads(current["data"])})
                if until(events):
                    return events
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value.lstrip(" ")
    return events


def _upload(client, video, name: str) -> int:
    with open(video, "rb") as f:
        response = client.post("/v1/videos", files={"file": (f"{name}.mp4", f, "video/mp4")}, data={"name": name})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _chunks(database_url: str, source_id: int) -> list[int]:
    from ferstream import db
    from ferstream.db.models import Chunk

    with db.connect(database_url).connect() as conn:
        return sorted(conn.execute(select(Chunk.chunk_index).where(Chunk.source_id == source_id,
                                                                   Chunk.status == "done")).scalars())


def test_a_follower_gets_each_chunk_as_it_lands_with_its_faces(api, astronaut_video):
    got: list[dict] = []
    ready = threading.Event()
    source = {}

    def follow():
        with api.client(timeout=60) as client, client.stream("GET", "/v1/live") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            ready.set()
            read_events(response, lambda events: got.extend(events[len(got):]) or
                        ("id" in source and sorted(e["data"]["chunk_index"] for e in got
                                                   if e["data"]["source_id"] == source["id"]) == [0, 1, 2, 3]))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert ready.wait(30)
    with api.client() as client:
        source["id"] = _upload(client, astronaut_video, "followed")
        wait_for_source(client, source["id"])
    thread.join(60)
    assert not thread.is_alive(), got
    mine = [e for e in got if e["data"]["source_id"] == source["id"]]
    assert [e["data"]["chunk_index"] for e in mine] == _chunks(api.database_url, source["id"]) == [0, 1, 2, 3]
    frames = [f for e in mine for f in e["data"]["frames"]]
    assert [f["frame_index"] for f in frames] == list(range(60))
    assert sum(len(f["faces"]) for f in frames) == sum(f["face_count"] for f in frames) > 0
    assert all(e["event"] == "chunk" and e["id"] for e in mine)


def test_a_client_that_disconnects_and_resumes_with_last_event_id_misses_nothing_and_gets_nothing_twice(
        api, astronaut_video):
    with api.client() as client:
        first = _upload(client, astronaut_video, "resumed-a")
        second = _upload(client, astronaut_video, "resumed-b")
        wait_for_source(client, first)
        wait_for_source(client, second)
    params = {"replay": "true", "source": [first, second]}
    with api.client(timeout=60) as client:
        with client.stream("GET", "/v1/live", params=params) as response:
            before = read_events(response, lambda events: len(events) == 3)  # then the client goes away
        with client.stream("GET", "/v1/live", params=params, headers={"Last-Event-ID": before[-1]["id"]}) as response:
            after = read_events(response, lambda events: len(before) + len(events) == 8)
        problem_of(client.get("/v1/live", headers={"Last-Event-ID": "yesterday"}), 422)
        problem_of(client.get("/v1/live", params={"source": 999999}), 404)
    seen = [(e["data"]["source_id"], e["data"]["chunk_index"]) for e in before + after]
    assert len(seen) == len(set(seen)) == 8
    assert sorted(seen) == [(first, i) for i in range(4)] + [(second, i) for i in range(4)]
    ids = [e["id"] for e in before + after]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))  # in the order they were done
