"""The upload panel: a real upload through AppTest becomes queued work for a real worker, or an
in-process analysis in a background thread; files that are not videos are refused with a clear message.
The stored upload goes once ingest is done with it (it holds faces), unless FERSTREAM_KEEP_UPLOADS says."""

from __future__ import annotations

import time

import cv2
import pytest
from redis import Redis
from rq import Queue

from ferstream import db
from ferstream.dashboard.queries import source_table
from tests.conftest import free_port
from tests.helpers import burst_worker, counts, queue_of

from dashboard_testing import clear_caches, metrics, open_app, texts, widget


def upload(at, filename: str, content: bytes, name: str | None = None, sample_fps: float | None = None,
           detector: str | None = None):
    at.file_uploader(key="upload").set_value((filename, content, "application/octet-stream"))
    if detector:
        at.selectbox(key="detector").set_value(detector)
    if name:
        widget(at.text_input, "Name").set_value(name)
    if sample_fps:
        widget(at.number_input, "Frames per second to analyse").set_value(sample_fps)
    widget(at.button, "Analyse").click()
    return at.run()


def wait_for(database_url: str, source_id: int, statuses: tuple[str, ...], timeout: float = 180, state: str | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        df = source_table(db.connect(database_url, read_only=True))
        row = df[df["id"] == source_id]
        if not row.empty and row.iloc[0]["status"] in statuses and (state is None or row.iloc[0]["state"] == state):
            return row.iloc[0]
        time.sleep(0.2)
    raise AssertionError(f"source {source_id} not {statuses} after {timeout}s")


def stored(uploads, timeout: float = 10) -> list:
    """The files in the upload folder, once ingest's thread has had time to remove what it removes."""
    deadline = time.monotonic() + timeout
    while True:
        files = sorted(uploads.glob("*")) if uploads.exists() else []
        if not files or time.monotonic() > deadline:
            return files
        time.sleep(0.1)


def test_an_upload_is_queued_for_the_workers_like_ferstream_analyze(astronaut_video, redis_url, sqlite_url, app_env, tmp_path):
    app_env(sqlite_url, redis_url)
    at = open_app()
    assert "No sources yet" in texts(at.info)

    upload(at, "astronaut.mp4", astronaut_video.read_bytes(), name="uploaded astronaut")
    assert "queued for the workers" in texts(at.success) and not at.error and not at.exception
    wait_for(sqlite_url, 1, ("queued", "running"), state="finished")  # every chunk sent to Redis
    queue = Queue(queue_of(sqlite_url), connection=Redis.from_url(redis_url))
    assert queue.count == 4  # 60 frames at 15 fps: four 1-second chunks, as `ferstream analyze` queues them
    assert stored(tmp_path / "uploads") == []  # every frame is in Redis now: the video (faces) is gone from disk

    clear_caches()
    at.run()
    assert at.multiselect(key="sources_file").value == [1]  # the new source is chosen
    assert "No frame of uploaded astronaut has been analysed yet" in texts(at.info)
    assert "ferstream worker" in texts(at.info)

    burst_worker(redis_url, sqlite_url)
    c = counts(sqlite_url, 1)
    assert c["frames"] == 60 and c["faces"] >= 55
    clear_caches()
    at.run()
    assert metrics(at)["Faces analysed"] == str(c["faces"]) and metrics(at)["Frames analysed"] == "60"
    assert at.dataframe[0].value["status"].tolist() == ["done"]


@pytest.mark.parametrize("keep", [False, True], ids=["removed", "kept"])
def test_without_redis_an_upload_is_analysed_in_a_background_thread(astronaut_video, sqlite_url, app_env, tmp_path,
                                                                    monkeypatch, keep):
    app_env(sqlite_url)
    if keep:
        monkeypatch.setenv("FERSTREAM_KEEP_UPLOADS", "1")
    at = open_app()
    started = time.monotonic()
    upload(at, "astronaut.mp4", astronaut_video.read_bytes(), sample_fps=5)
    returned = time.monotonic() - started
    assert "being analysed in this process" in texts(at.success) and not at.error and not at.exception
    assert at.multiselect(key="sources_file").value == [1]

    done = wait_for(sqlite_url, 1, ("done", "failed"))
    assert done["status"] == "done" and returned < time.monotonic() - started  # the page came back first
    c = counts(sqlite_url, 1)
    assert c["frames"] == 20  # 4 s at the 5 frames per second asked for
    clear_caches()
    at.run()
    assert metrics(at)["Faces analysed"] == str(c["faces"]) and metrics(at)["Frames analysed"] == "20"
    kept = stored(tmp_path / "uploads", timeout=0 if keep else 10)
    assert [p.name.endswith("-astronaut.mp4") for p in kept] == ([True] if keep else [])


def test_an_upload_while_redis_is_down_is_refused_and_not_kept(astronaut_video, sqlite_url, app_env, tmp_path):
    app_env(sqlite_url, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    at = open_app()
    upload(at, "astronaut.mp4", astronaut_video.read_bytes())
    assert "Not submitted: Redis at redis://127.0.0.1:" in texts(at.error) and "unreachable" in texts(at.error)
    assert not at.success and not at.exception
    assert source_table(db.connect(sqlite_url, read_only=True)).empty  # nothing half-submitted
    assert stored(tmp_path / "uploads") == []  # the user still has the file; no stray copy of it here


def test_files_that_are_not_videos_are_refused(sqlite_url, app_env, tmp_path, monkeypatch):
    from skimage import data

    app_env(sqlite_url)
    at = open_app()
    upload(at, "notes.mp4", b"minutes of the meeting, not a video\n" * 200)
    assert "notes.mp4 is not a video" in texts(at.error)

    photo = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))[1].tobytes()
    upload(at, "astronaut.jpg", photo)
    assert "astronaut.jpg is a still image, not a video" in texts(at.error)

    upload(at, "empty.mp4", b"")
    assert "empty.mp4 is empty" in texts(at.error)

    monkeypatch.setenv("FERSTREAM_MAX_UPLOAD_MB", "1")
    at.run()  # the uploader now says 1 MB
    upload(at, "big.mp4", bytes(2 * 1024 * 1024))
    assert "videos up to 1 MB are accepted" in texts(at.error)

    assert not at.success and not at.exception
    assert source_table(db.connect(sqlite_url, read_only=True)).empty  # nothing submitted
    assert not any((tmp_path / "uploads").glob("*"))  # and nothing kept


@pytest.mark.parametrize("filename, expected", [("../../etc/passwd", "passwd"), ("my clip (1).mp4", "my_clip_1_.mp4"),
                                                ("...", "video")])
def test_stored_names_are_safe(filename, expected):
    from ferstream.dashboard.upload import safe_name

    assert safe_name(filename) == expected


def test_the_upload_form_picks_the_face_detector_the_workers_run(astronaut_video, redis_url, sqlite_url, app_env):
    app_env(sqlite_url, redis_url)
    at = open_app()
    assert list(at.selectbox(key="detector").options) == ["haar", "blazeface"]
    assert at.selectbox(key="detector").value == "blazeface"  # the settings' default
    upload(at, "astronaut.mp4", astronaut_video.read_bytes(), detector="haar")
    assert "queued for the workers" in texts(at.success) and not at.exception
    wait_for(sqlite_url, 1, ("queued", "running"), state="finished")
    jobs = Queue(queue_of(sqlite_url), connection=Redis.from_url(redis_url)).get_jobs()
    assert len(jobs) == 4 and {job.args[4] for job in jobs} == {"haar"}  # each job names the detector chosen


def test_the_rate_field_says_what_its_default_does(app_env, tmp_path):
    """Issue 35: the field showed 0.00 by default, with the meaning of 0 only in its tooltip."""
    from dashboard_testing import open_app

    app_env(f"sqlite:///{tmp_path / 'ferstream.db'}")
    at = open_app()
    rate = widget(at.number_input, "Frames per second to analyse")
    assert rate.value is None and rate.proto.placeholder == "every frame"
    assert "every frame" in rate.help
