"""``ferstream analyze`` end to end: real videos, a real Redis, real RQ workers, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry

from ferstream.db.queries import sources
from tests.helpers import burst_worker, counts, ferstream, queue_of
from tests.videos import multi_face_video, no_face_video


@pytest.mark.parametrize("detector", ["haar", "blazeface"])
def test_inline_analysis_of_the_astronaut_clip(astronaut_video, sqlite_url, detector):
    result = ferstream("analyze", str(astronaut_video), "--database", sqlite_url, "--detector", detector)
    assert f"face detector {detector}" in result.stderr
    assert "source 1: astronaut.mp4 [done]" in result.stdout
    assert "dominant emotion: happy" in result.stdout
    c = counts(sqlite_url, 1)
    assert c["frames"] == 60 == c["distinct_frames"]  # every frame recorded once
    assert c["no_face"] <= 3  # a face in nearly every frame
    assert max(c["labels"], key=c["labels"].get) == "happy"


def test_queued_analysis_with_a_real_worker(astronaut_video, redis_url, database_url):
    result = ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", database_url, "--name", "astro")
    assert "queued 1 video(s)" in result.stdout
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_of(database_url), connection=redis)
    assert queue.count == 4  # 60 frames at 15 fps: four 1-second chunks
    for job in queue.get_jobs():  # job arguments carry keys, never frames
        assert len(repr(job.args)) < 200
        assert job.args[3].startswith("ferstream:chunk:")
    burst_worker(redis_url, database_url)
    c = counts(database_url, 1)
    assert c["frames"] == 60 and c["no_face"] <= 3 and c["people"] == 1
    assert max(c["labels"], key=c["labels"].get) == "happy"
    assert not redis.keys("ferstream:chunk:*")  # frames leave Redis once analysed
    assert FailedJobRegistry(queue=queue).count == 0
    from ferstream import db

    row = sources(db.connect(database_url)).iloc[0]
    assert (row["name"], row["status"], row["frames_queued"], row["frames_analysed"]) == ("astro", "done", 60, 60)


def test_wait_shows_the_summary_once_the_workers_finish(astronaut_video, redis_url, sqlite_url, tmp_path):
    import subprocess
    import sys

    worker = subprocess.Popen([sys.executable, "-m", "ferstream.cli", "worker", "--redis", redis_url, "--database", sqlite_url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url, "--wait", timeout=120)
    finally:
        worker.terminate()
        worker.wait(30)
    assert "[done]" in result.stdout and "dominant emotion: happy" in result.stdout


def test_video_without_faces_records_every_frame_with_zero_faces(tmp_path, sqlite_url):
    video = no_face_video(tmp_path / "coffee.mp4")
    ferstream("analyze", str(video), "--database", sqlite_url)
    c = counts(sqlite_url, 1)
    assert c["frames"] == 20 and c["no_face"] == 20 and c["faces"] == 0


def test_several_faces_in_one_frame(tmp_path, sqlite_url):
    video = multi_face_video(tmp_path / "three.mp4", faces=3)
    result = ferstream("analyze", str(video), "--database", sqlite_url)
    assert "people (face tracks): " in result.stdout and "mostly happy" in result.stdout
    c = counts(sqlite_url, 1)
    assert c["people"] == 3
    assert c["frames"] == 10 and c["faces"] == 30


def test_sample_fps_thins_frames(astronaut_video, sqlite_url):
    ferstream("analyze", str(astronaut_video), "--database", sqlite_url, "--sample-fps", "5")
    c = counts(sqlite_url, 1)
    assert c["frames"] == 20  # 4 s at 5 frames per second


@pytest.mark.media
def test_wolfgang_langer_via_redis_and_a_worker(media, redis_url, database_url, tmp_path):
    video = media / "WolfgangLanger_Pexels.mp4"
    ferstream("analyze", str(video), "--redis", redis_url, "--database", database_url)
    burst_worker(redis_url, database_url, timeout=600)
    c = counts(database_url, 1)
    assert c["frames"] == 472 == c["distinct_frames"]  # every frame accounted for, once
    assert c["faces"] >= 400
    from ferstream import db
    import pandas as pd
    from ferstream.db.queries import faces_table

    df = faces_table(db.connect(database_url), 1)
    df["window"] = (df["timestamp"] // 4).astype(int)
    dominant = df.groupby("window")["emotion"].agg(lambda s: s.value_counts().index[0])
    assert dominant.nunique() >= 2, dominant.to_dict()  # the emotion mix changes over time
    # he reads sad, then fearful, then laughs: 86% sad or fear before 9 s and 100% happy after 11 s (model 2026-11-30)
    early, late = df[df["timestamp"] < 9], df[df["timestamp"] >= 11]
    assert early["emotion"].isin(["sad", "fear"]).mean() >= 0.75, early["emotion"].value_counts().to_dict()
    assert (late["emotion"] == "happy").mean() >= 0.9, late["emotion"].value_counts().to_dict()
    assert isinstance(df, pd.DataFrame)
    assert_same_rows(df.drop(columns="window"), in_process_rows(video, tmp_path))  # one codec: the same rows with and without Redis


def in_process_rows(video, folder):
    from ferstream import db
    from ferstream.db.queries import faces_table

    url = f"sqlite:///{folder / 'in-process.db'}"
    ferstream("analyze", str(video), "--database", url)
    return faces_table(db.connect(url), 1)


@pytest.mark.parametrize("detector", ["haar", "blazeface"])
def test_the_detector_a_video_was_queued_with_is_the_one_the_worker_runs(astronaut_video, redis_url, sqlite_url, detector):
    other = "blazeface" if detector == "haar" else "haar"
    ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url, "--detector", detector)
    worker = ferstream("worker", "--burst", "--redis", redis_url, "--database", sqlite_url, "--detector", other)
    assert f"face detector {other}" in worker.stderr  # loaded at start: its own default
    assert f"face detector {detector}" in worker.stderr  # and the one the jobs asked for, once
    assert worker.stderr.count(f"face detector {detector}") == 1
    c = counts(sqlite_url, 1)
    assert c["frames"] == 60 and c["no_face"] <= 3 and max(c["labels"], key=c["labels"].get) == "happy"


def assert_same_rows(queued, inline):
    import pandas as pd

    assert len(queued) == len(inline) > 0
    pd.testing.assert_frame_equal(queued.reset_index(drop=True), inline.reset_index(drop=True), check_dtype=False,
                                  rtol=1e-6, atol=1e-6)


def test_in_process_and_queued_analysis_write_the_same_rows(astronaut_video, redis_url, sqlite_url, tmp_path):
    from ferstream import db
    from ferstream.db.queries import faces_table

    ferstream("analyze", str(astronaut_video), "--redis", redis_url, "--database", sqlite_url)
    burst_worker(redis_url, sqlite_url)
    assert_same_rows(faces_table(db.connect(sqlite_url), 1), in_process_rows(astronaut_video, tmp_path))


def test_face_pixels_are_stored_only_when_asked(astronaut_video, tmp_path):
    import cv2
    import numpy as np
    from sqlalchemy import func, select

    from ferstream import db
    from ferstream.db.models import Face

    stored = {}
    for flag in (False, True):
        url = f"sqlite:///{tmp_path / f'faces-{flag}.db'}"
        ferstream("analyze", str(astronaut_video), "--database", url, "--sample-fps", "2", *(["--store-faces"] if flag else []))
        with db.connect(url).connect() as conn:
            stored[flag] = conn.execute(select(func.count()).select_from(Face).where(Face.face_jpeg.is_not(None))).scalar()
            blob = conn.execute(select(Face.face_jpeg).where(Face.face_jpeg.is_not(None)).limit(1)).scalar()
    assert stored[False] == 0  # privacy by default: boxes, labels, probabilities only
    assert stored[True] >= 7
    crop = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert crop.shape == (48, 48)


def test_chunks_analysed_in_parallel_and_out_of_order_stitch_into_one_track_per_person(tmp_path, redis_url, sqlite_url):
    """Two workers take a video's chunks at once, so they land in any order; each person is still one track."""
    import subprocess
    import sys

    from ferstream.demo import make_astronaut_video

    video = make_astronaut_video(tmp_path / "long.mp4", seconds=8, fps=10)
    ferstream("analyze", str(video), "--redis", redis_url, "--database", sqlite_url)
    workers = [subprocess.Popen([sys.executable, "-m", "ferstream.cli", "worker", "--burst", "--redis", redis_url,
                                 "--database", sqlite_url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    assert [w.wait(60) for w in workers] == [0, 0]  # a burst worker exits once the queue is empty (it hung a minute)
    from ferstream import db
    from ferstream.db.models import Chunk
    from sqlalchemy import select

    with db.connect(sqlite_url).connect() as conn:
        landed = [i for i, _ in conn.execute(select(Chunk.chunk_index, Chunk.done_at).order_by(Chunk.done_at)).all()]
    c = counts(sqlite_url, 1)
    assert c["frames"] == 80 and c["people"] == 1, (c, landed)
    out = tmp_path / "people.csv"
    ferstream("export", "--source", "1", "--per-track", "-o", str(out), "--database", sqlite_url)
    import pandas as pd

    people = pd.read_csv(out)
    person = people.sort_values("faces").iloc[-1]
    assert (people["faces"] >= 3).sum() == 1 and person["dominant_emotion"] == "happy" and person["faces"] >= 75
    assert person["first_timestamp"] == 0 and person["last_timestamp"] > 7.5
