"""Live pictures over HTTP: a real camera stream (FFmpeg serving the astronaut clip as MJPEG) watched by a real
``ferstream watch --config`` with a real worker, through a real Redis, read back from a real ``ferstream serve``.

The pictures are decoded and each face's box is looked for where the database says that face is: its colour on the
2-pixel line just inside the stored box's left edge (the emotion's colour, white for an uncertain face).
"""

from __future__ import annotations

import signal
import socket
import time

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from ferstream import db
from ferstream.db import writes
from ferstream.db.models import Face, Frame, Source
from ferstream.drawing import COLOURS
from tests.api_server.conftest import make_key, problem_of
from tests.helpers import wait_until
from tests.streams import watched_camera

BOUNDARY = b"--ferstream-picture"


def read_pictures(response, count: int, timeout: float = 60) -> list[tuple[int, np.ndarray]]:
    """The first ``count`` pictures of an MJPEG response: (frame index, BGR image), each part's headers checked."""
    buffer, found, deadline = b"", [], time.monotonic() + timeout
    for data in response.iter_bytes():
        buffer += data
        while True:
            start = buffer.find(BOUNDARY)
            head_end = buffer.find(b"\r\n\r\n", start)
            if start < 0 or head_end < 0:
                break
            headers = dict(line.split(": ", 1) for line in buffer[start + len(BOUNDARY) + 2:head_end].decode().split("\r\n"))
            size = int(headers["Content-Length"])
            if len(buffer) < head_end + 4 + size:
                break
            jpeg = buffer[head_end + 4:head_end + 4 + size]
            buffer = buffer[head_end + 4 + size:]
            assert headers["Content-Type"] == "image/jpeg"
            found.append((int(headers["X-Frame-Index"]), cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)))
        if len(found) >= count or time.monotonic() > deadline:
            break
    return found


def edge_colour(image: np.ndarray, x: int, y: int, h: int) -> np.ndarray:
    return np.median(image[y + h // 4:y + 3 * h // 4, x + 1:x + 3].reshape(-1, 3), axis=0)


def boxes_drawn(database_url: str, source_id: int, pictures: list[tuple[int, np.ndarray]]) -> int:
    """How many of the database's faces of these frames have their box drawn in their colour; fails on one without."""
    engine = db.connect(database_url)
    with engine.connect() as conn:
        width = conn.execute(select(Source.width).where(Source.id == source_id)).scalar_one()
        checked = 0
        for index, image in pictures:
            scale = width / image.shape[1]  # source pixels per pixel of the frame as analysed
            faces = conn.execute(select(Face.x, Face.y, Face.h, Face.emotion, Face.uncertain).where(
                Face.source_id == source_id, Face.frame_index == index)).all()
            for f in faces:
                x, y, h = (round(v / scale) for v in (f.x, f.y, f.h))
                want = (255, 255, 255) if f.uncertain else COLOURS[f.emotion]
                assert np.abs(edge_colour(image, x, y, h) - want).max() < 60, (index, f, edge_colour(image, x, y, h))
                checked += 1
    return checked


def frames_of(database_url: str, source_id: int) -> int:
    with db.connect(database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id == source_id)).scalar()


def newest_source(database_url: str, name: str) -> dict | None:
    with db.connect(database_url).connect() as conn:
        row = conn.execute(select(Source.id, Source.state).where(Source.name == name).order_by(Source.id.desc())).first()
    return None if row is None else {"id": row.id, "state": row.state}


def silent_viewer(port: int, path: str, key: str) -> socket.socket:
    """A viewer that asks for the stream and then never reads a byte of it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    return s


@pytest.mark.long
def test_a_watched_camera_streams_its_faces_drawn_where_the_database_has_them(tmp_path, redis_url, serve,
                                                                              astronaut_video):
    database_url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    writer = make_key(database_url, "operator")
    reader = make_key(database_url, "wallboard", "--read-only")
    with watched_camera(tmp_path, astronaut_video, database_url, redis_url) as watch:
        server = serve(database_url, "--redis", redis_url)
        sid = newest_source(database_url, "lobby")["id"]

        with server.client(reader) as client:  # a read-only key may watch
            with client.stream("GET", "/v1/cameras/lobby/live.mjpeg") as response:
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=ferstream-picture"
                pictures = read_pictures(response, 8)
            assert len(pictures) == 8
            indices = [i for i, _ in pictures]
            assert indices == sorted(set(indices))  # each picture once, in order: the stream moves on
            assert len({img.tobytes() for _, img in pictures}) > 1
            assert all(img.shape[1] <= 640 for _, img in pictures)  # the frames as analysed
            wait_until(lambda: frames_of(database_url, sid) >= indices[-1], 30)  # their rows are in
            assert boxes_drawn(database_url, sid, pictures) >= 4

            snap = client.get(f"/v1/sources/{sid}/snapshot.jpg")
            assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
            image = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
            boxes_drawn(database_url, sid, [(int(snap.headers["X-Frame-Index"]), image)])

            # a viewer that stops reading holds up neither the pipeline nor the other viewers
            stalled = [silent_viewer(server.port, "/v1/cameras/lobby/live.mjpeg", reader) for _ in range(2)]
            try:
                before = frames_of(database_url, sid)
                time.sleep(8)
                assert frames_of(database_url, sid) >= before + 20  # 5 frames a second kept being analysed
                assert client.get(f"/v1/sources/{sid}", timeout=10).status_code == 200
                with client.stream("GET", f"/v1/sources/{sid}/live.mjpeg") as response:
                    assert len(read_pictures(response, 3, timeout=20)) == 3
            finally:
                for s in stalled:
                    s.close()

            assert "no camera named 'hall'" in problem_of(client.get("/v1/cameras/hall/live.mjpeg"), 404)["detail"]
        problem_of(server.client("not-a-key").get("/v1/cameras/lobby/snapshot.jpg"), 401)

        watch.send_signal(signal.SIGTERM)  # the camera stops: its source ends once its last chunk is in
        watch.wait(60)
        with server.client(writer) as client:
            wait_until(lambda: client.get(f"/v1/sources/{sid}").json()["status"] == "done", 60, poll=0.3)
            for path in ("/v1/cameras/lobby/live.mjpeg", f"/v1/sources/{sid}/snapshot.jpg"):
                body = problem_of(client.get(path), 409)
                assert "not running" in body["detail"] and "done" in body["detail"], body


def test_bad_requests_for_pictures_get_a_clear_answer(api):
    """Unknown camera or source: 404; a camera that never ran: 409; a server without Redis: 503 that says so."""
    with api.client() as client:
        assert "no camera" in problem_of(client.get("/v1/cameras/nowhere/live.mjpeg"), 404)["detail"]
        assert "no source" in problem_of(client.get("/v1/sources/99999/snapshot.jpg"), 404)["detail"]
        problem_of(client.get("/v1/sources/0/live.mjpeg"), 422)
        assert client.post("/v1/cameras", json={"name": "attic", "url": "rtsp://127.0.0.1:9/none",
                                                "enabled": False}).status_code == 201
        body = problem_of(client.get("/v1/cameras/attic/snapshot.jpg"), 409)
        assert "attic" in body["detail"] and "never been watched" in body["detail"], body
        sid = writes.create_source(db.connect(api.database_url), name="door", kind="live", uri="rtsp://camera.test/door",
                                   state="running")
        body = problem_of(client.get(f"/v1/sources/{sid}/live.mjpeg"), 503)
        assert "--redis" in body["detail"], body
    problem_of(api.client(None).get(f"/v1/sources/{sid}/live.mjpeg"), 401)


def test_a_running_source_no_worker_draws_gets_503_with_retry_after(tmp_path, redis_url, serve):
    database_url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    server = serve(database_url, "--redis", redis_url)
    sid = writes.create_source(db.connect(database_url), name="lobby", kind="live", uri="rtsp://camera.test/lobby",
                               state="running")
    with server.client() as client:
        response = client.get(f"/v1/sources/{sid}/snapshot.jpg")
        body = problem_of(response, 503)
        assert "no live picture" in body["detail"] and response.headers["retry-after"] == "2", body
