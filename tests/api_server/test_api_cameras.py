"""/v1/cameras and `ferstream cameras`: cameras kept in the database (URLs shown masked), checked as a cameras
file's are; a running `ferstream watch --config` starts, stops and keeps them without a restart."""

from __future__ import annotations

import signal
import subprocess

import pytest
import yaml

from tests.api_server.conftest import make_key, problem_of
from tests.helpers import CLI, ferstream, wait_until

SECRET = "cam-pa55"


def test_cameras_added_listed_changed_and_removed_over_http_and_the_cli(serve, database_url, astronaut_video):
    key = make_key(database_url, "ops")
    server = serve(database_url)
    url = f"rtsp://admin:{SECRET}@cam.local/stream?token={SECRET}"
    with server.client(key) as client:
        added = client.post("/v1/cameras", json={"name": "lobby", "url": url, "sample_fps": 2, "retention": "7d"})
        assert added.status_code == 201, added.text
        assert added.headers["location"] == "/v1/cameras/lobby"
        body = added.json()
        assert body["url"] == "rtsp://admin:***@cam.local/stream?token=***" and body["origin"] == "api"
        assert (body["sample_fps"], body["enabled"], body["retention"]) == (2.0, True, "7d")
        assert SECRET not in client.get("/v1/cameras").text and SECRET not in client.get("/v1/cameras/lobby").text
        assert "exists" in problem_of(client.post("/v1/cameras", json={"name": "lobby", "url": url}), 409)["detail"]
        changed = client.patch("/v1/cameras/lobby", json={"enabled": False, "detector": "haar"}).json()
        assert (changed["enabled"], changed["detector"], changed["sample_fps"]) == (False, "haar", 2.0)
        for bad, words in (({"sample_fps": 0}, "sample_fps"), ({"detector": "yolo"}, "detector: one of"),
                           ({"min_face": 3}, "min_face"), ({"retention": "forever"}, "retention"),
                           ({"url": f"file://{astronaut_video}"}, "a file:// URL is a video file"),
                           ({"url": str(astronaut_video)}, "not a camera")):
            detail = problem_of(client.patch("/v1/cameras/lobby", json=bad), 422)["detail"]
            assert words in detail and SECRET not in detail, (bad, detail)
        problem_of(client.post("/v1/cameras", json={"name": "../etc", "url": "rtsp://x/y"}), 422)
        extra = problem_of(client.post("/v1/cameras", json={"name": "x", "url": "rtsp://x/y", "colour": "red"}), 422)
        assert "colour" in extra["detail"]
        problem_of(client.get("/v1/cameras/nobody"), 404)
        problem_of(client.get("/v1/cameras/..%2F..%2Fetc"), 404)
        assert client.delete("/v1/cameras/lobby").status_code == 204
        problem_of(client.get("/v1/cameras/lobby"), 404)
        problem_of(client.delete("/v1/cameras/lobby"), 404)
        assert client.get("/v1/cameras").json() == []
    ferstream("cameras", "add", "door", f"http://u:{SECRET}@cam2.local/live.mjpg", "--sample-fps", "3",
              "--database", database_url)
    listed = ferstream("cameras", "list", "--database", database_url).stdout
    assert "door" in listed and "http://u:***@cam2.local/live.mjpg" in listed and SECRET not in listed
    assert "(added with `ferstream cameras add`)" in listed and "api" not in listed  # where it came from
    with server.client(key) as client:
        assert [(c["name"], c["origin"]) for c in client.get("/v1/cameras").json()] == [("door", "cli")]
        assert client.post("/v1/cameras", json={"name": "hall", "url": "rtsp://hall/s"}).status_code == 201
    listed = ferstream("cameras", "list", "--database", database_url).stdout.splitlines()
    assert listed[0].startswith("door") and listed[0].endswith("(added with `ferstream cameras add`)")
    assert listed[1].startswith("hall") and listed[1].endswith("(added over the HTTP API)")
    ferstream("cameras", "remove", "hall", "--database", database_url)
    again = ferstream("cameras", "add", "door", "rtsp://x/y", "--database", database_url, check=False)
    assert again.returncode == 2 and "exists" in again.stderr
    ferstream("cameras", "remove", "door", "--database", database_url)
    assert "no cameras yet" in ferstream("cameras", "list", "--database", database_url).stdout


def test_a_cameras_file_is_written_in_and_the_apis_changes_survive_it(sqlite_url):
    from ferstream import db
    from ferstream.ingest.camera_store import add_camera, list_cameras, remove_camera, running_cameras, sync_file, update_camera
    from ferstream.ingest.cameras import parse_cameras

    engine = db.connect(sqlite_url)
    first = parse_cameras({"cameras": [{"name": "a", "url": "rtsp://a/1"}, {"name": "b", "url": "rtsp://b/1"},
                                       {"name": "c", "url": "rtsp://c/1"}, {"name": "d", "url": "rtsp://d/1"}]})
    sync_file(engine, first)
    update_camera(engine, "a", {"enabled": False})  # the API disables a
    remove_camera(engine, "b")  # and removes b
    add_camera(engine, {"name": "e", "url": "rtsp://e/1"})  # and adds e
    second = parse_cameras({"cameras": [{"name": "a", "url": "rtsp://a/2"}, {"name": "b", "url": "rtsp://b/2"},
                                        {"name": "c", "url": "rtsp://c/2"}]})  # the file: c changed, d gone
    sync_file(engine, second)
    kept = {c.name: c for c in list_cameras(engine)}
    assert set(kept) == {"a", "c", "e"}  # b stays removed, d left the file
    assert kept["a"].enabled is False and kept["a"].url == "rtsp://a/1"  # the API's change wins
    assert kept["c"].url == "rtsp://c/2" and kept["c"].origin == "file"  # the file's change applies
    assert [c.name for c in running_cameras(engine)] == ["c", "e"]


@pytest.mark.long
def test_a_running_watch_starts_and_stops_cameras_the_api_adds_disables_and_removes(serve, sqlite_url, tmp_path,
                                                                                      astronaut_video):
    from ferstream import db
    from ferstream.db.models import Frame, Source
    from sqlalchemy import func, select
    from tests.streams import MjpegServer, _require_ffmpeg

    _require_ffmpeg()
    streams = [MjpegServer(astronaut_video, tmp_path / f"ffmpeg-{i}.log") for i in range(2)]
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump({"cameras": [{"name": "lobby", "url": streams[0].url, "sample_fps": 4}]}))
    engine = db.connect(sqlite_url)

    def source(name: str) -> dict | None:
        with engine.connect() as conn:
            row = conn.execute(select(Source.id, Source.state).where(Source.name == name)
                               .order_by(Source.id.desc())).first()
            if row is None:
                return None
            frames = conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id == row.id)).scalar()
        return {"state": row.state, "frames": frames}

    server = serve(sqlite_url)
    watch = None
    log = tmp_path / "watch.log"
    try:
        for s in streams:
            s.start()
        watch = subprocess.Popen([*CLI, "watch", "--config", str(config), "--database", sqlite_url],
                                 stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: (source("lobby") or {}).get("frames", 0) > 0, 90, poll=0.3)
        with server.client() as client:
            assert [c["origin"] for c in client.get("/v1/cameras").json()] == ["file"]
            assert client.post("/v1/cameras", json={"name": "door", "url": streams[1].url, "sample_fps": 4}).status_code == 201
            wait_until(lambda: (source("door") or {}).get("frames", 0) > 0, 60, poll=0.3)
            assert client.patch("/v1/cameras/lobby", json={"enabled": False}).status_code == 200
            wait_until(lambda: source("lobby")["state"] == "stopped", 30, poll=0.3)
            assert client.delete("/v1/cameras/door").status_code == 204
            wait_until(lambda: source("door")["state"] == "stopped", 30, poll=0.3)
        wait_until(lambda: watch.poll() is not None, 30, poll=0.3)  # no camera left: the watch ends
    finally:
        if watch and watch.poll() is None:
            watch.send_signal(signal.SIGTERM)
            watch.wait(60)
        for s in streams:
            s.kill()
    out = log.read_text()
    assert "cameras: started door" in out and "cameras: stopped lobby" in out and "cameras: stopped door" in out, out
    assert watch.returncode == 0, out
    # a restart keeps what the API changed: lobby stays disabled though the file enables it, door stays removed
    ferstream("cameras", "add", "hall", "http://127.0.0.1:9/none.mjpg", "--database", sqlite_url)
    again = ferstream("watch", "--config", str(config), "--database", sqlite_url, "--duration", "2", check=False)
    assert f"watching 1 camera(s) of {config}: hall" in again.stdout, again.stdout + again.stderr


def test_a_list_cut_short_by_its_reader_ends_quietly(sqlite_url):
    """`ferstream cameras list | head -1`: the reader goes after a line; the command stops without a traceback."""
    from ferstream import db
    from ferstream.ingest.camera_store import add_camera

    engine = db.connect(sqlite_url)
    for i in range(800):  # about 100 KB listed: more than a pipe holds, so the writer meets the closed pipe
        add_camera(engine, {"name": f"camera-{i:04d}", "url": f"rtsp://cam{i}.local/stream"})
    engine.dispose()
    with subprocess.Popen([*CLI, "cameras", "list", "--database", sqlite_url], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        first = proc.stdout.readline()
        proc.stdout.close()  # as `head -1` does after its line
        err = proc.stderr.read().decode()
        status = proc.wait(120)
    assert first.startswith(b"camera-0000"), first
    assert err == "" and status == 141, (status, err)  # no traceback, the status a shell gives a tool SIGPIPE ended
