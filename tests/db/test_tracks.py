"""Source-level face tracks from chunks that land in any order, twice, or at once (real SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlalchemy import select

from ferstream import db
from ferstream.db import writes
from ferstream.db.models import Face
from ferstream.db.queries import faces_table, tracks_table
from ferstream.results import Frame, FrameFaces
from ferstream.worker.tracker import track_chunk

FPS = 10
PER_CHUNK = 5
LEFT, RIGHT = np.array([100, 100, 80, 80]), np.array([400, 100, 80, 80])


def chunk_results(index: int, people: list[np.ndarray], drift: int = 2, label: int = 3):
    """``PER_CHUNK`` frames of chunk ``index`` with a face per person, moving right; results and their tracks."""
    results = []
    for i in range(PER_CHUNK):
        n = index * PER_CHUNK + i
        frame = Frame(n, n / FPS, np.zeros((8, 8), np.uint8))
        boxes = np.array([p + [drift * n, 0, 0, 0] for p in people], dtype=np.int32).reshape(-1, 4)
        probs = np.full((len(boxes), 7), 0.05, np.float32)
        probs[:, label] = 0.7
        results.append(FrameFaces(frame, boxes, probs))
    tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                         [r.frame.timestamp for r in results])
    return results, tracks


def land(engine, sid, index, people, **kw):
    results, tracks = chunk_results(index, people, **kw)
    writes.record_chunk(engine, sid, index, results[0].frame.index, results[-1].frame.index, PER_CHUNK, 0)
    writes.write_results(engine, sid, index, results, ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
                         "test", tracks)


def track_ids_by_person(engine, sid) -> dict[str, set[int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Face.x, Face.track_id).where(Face.source_id == sid)).all()
    return {"left": {t for x, t in rows if x < 300}, "right": {t for x, t in rows if x >= 300}}


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 1, 0, 2], [2, 0, 3, 1]])
def test_two_people_keep_one_track_each_whatever_order_the_chunks_land_in(database_url, order):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="two", kind="file", uri="mem")
    for index in order:
        land(engine, sid, index, [LEFT, RIGHT])
    ids = track_ids_by_person(engine, sid)
    assert len(ids["left"]) == 1 and len(ids["right"]) == 1 and ids["left"] != ids["right"]
    people = tracks_table(engine, sid)
    assert len(people) == 2 and (people["faces"] == 4 * PER_CHUNK).all()
    assert (people["dominant_emotion"] == "happy").all()


def test_a_retried_chunk_keeps_the_ids_and_adds_no_track(database_url):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="retried", kind="file", uri="mem")
    for index in (0, 1, 2):
        land(engine, sid, index, [LEFT])
    before = track_ids_by_person(engine, sid)
    land(engine, sid, 1, [LEFT])  # the middle chunk again, as after a worker died between commit and acknowledgement
    land(engine, sid, 0, [LEFT])
    assert track_ids_by_person(engine, sid) == before and len(before["left"]) == 1
    assert len(tracks_table(engine, sid)) == 1


def test_neighbours_landing_at_the_same_time_still_link(database_url):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="racing", kind="file", uri="mem")
    for round_ in range(3):
        base = round_ * 4
        threads = [threading.Thread(target=land, args=(engine, sid, base + i, [LEFT])) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(track_ids_by_person(engine, sid)["left"]) == 1


def test_a_person_who_leaves_for_long_comes_back_as_a_new_track(database_url):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="returns", kind="file", uri="mem")
    land(engine, sid, 0, [LEFT])
    land(engine, sid, 1, [])  # 0.5 s gone: chunk 1 has no face
    land(engine, sid, 2, [])
    land(engine, sid, 3, [LEFT])  # back 1.5 s later
    assert len(track_ids_by_person(engine, sid)["left"]) == 2


def test_the_smoothed_label_follows_the_track_not_the_single_frame(database_url):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="flicker", kind="file", uri="mem")
    for index in range(4):
        land(engine, sid, index, [LEFT], label=3)
    with engine.begin() as conn:  # one frame's label flips to sad
        conn.execute(Face.__table__.update().where(Face.source_id == sid, Face.frame_index == 12)
                     .values(emotion="sad", happy=0.05, sad=0.7))
    df = faces_table(engine, sid)
    flipped = df[df["frame_index"] == 12].iloc[0]
    assert flipped["emotion"] == "sad" and flipped["smoothed_emotion"] == "happy"
    assert df["track_id"].nunique() == 1
    assert np.allclose(df[[f"smooth_{e}" for e in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")]]
                       .sum(axis=1), 1.0, atol=1e-4)
