"""The dashboard's queries on their own, on a real SQLite file and a real PostgreSQL database.

Video sources are filled by the real pipeline (``ferstream analyze``); live streams, which need a
camera, by the same db.writes calls the workers make, with known captured_at times and emotions.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from ferstream import db
from ferstream.dashboard import queries
from ferstream.db.queries import faces_table
from ferstream.emotion_model import EMOTIONS
from tests.helpers import counts, ferstream

from dashboard_testing import write_live_stream

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def astronaut_db(astronaut_video, database_url) -> str:
    ferstream("analyze", str(astronaut_video), "--database", database_url)
    return database_url


def test_media_time_aggregates_match_the_pipelines_rows(astronaut_db):
    engine = db.connect(astronaut_db, read_only=True)
    c = counts(astronaut_db, 1)
    assert queries.time_extent(engine, [1], queries.MEDIA) == (0.0, pytest.approx(59 / 15))

    timeline = queries.emotion_timeline(engine, [1], queries.MEDIA, queries.EVERYTHING, 1)
    assert list(timeline.columns) == queries.TIMELINE_COLUMNS
    assert timeline["faces"].sum() == c["faces"] - c["uncertain"]  # uncertain faces are left out
    assert sorted(timeline["bucket_start"].unique()) == [0.0, 1.0, 2.0, 3.0]  # 4 s at 1 s buckets
    assert (timeline.groupby("bucket_start")["emotion"].apply(list) == [list(EMOTIONS)] * 4).all()
    assert timeline.groupby("bucket_start")["share"].sum().tolist() == pytest.approx([1.0] * 4)

    totals = queries.emotion_totals(engine, [1], queries.MEDIA, queries.EVERYTHING)
    assert totals["emotion"].tolist() == list(EMOTIONS)
    assert totals.set_index("emotion")["faces"].to_dict() == {e: c["labels"].get(e, 0) for e in EMOTIONS}
    assert totals["share"].sum() == pytest.approx(1.0)

    frames = queries.frame_totals(engine, [1], queries.MEDIA, queries.EVERYTHING).iloc[0]
    assert (frames["frames"], frames["frames_no_face"], frames["faces"]) == (c["frames"], c["no_face"], c["faces"])


def test_time_range_filters_like_the_exported_rows(astronaut_db):
    engine = db.connect(astronaut_db, read_only=True)
    rows = faces_table(engine, 1)
    rows = rows[~rows["uncertain"]]  # the charts leave uncertain faces out
    inside = rows[(rows["timestamp"] >= 1.0) & (rows["timestamp"] <= 2.5)]
    assert 0 < len(inside) < len(rows)

    totals = queries.emotion_totals(engine, [1], queries.MEDIA, (1.0, 2.5))
    assert totals.set_index("emotion")["faces"][inside["emotion"].value_counts().index].tolist() == \
        inside["emotion"].value_counts().tolist()
    timeline = queries.emotion_timeline(engine, [1], queries.MEDIA, (1.0, 2.5), 0.5)
    assert timeline["faces"].sum() == len(inside)
    assert timeline["bucket_start"].min() == 1.0 and timeline["bucket_end"].max() == 2.5  # last frame 37/15 s
    by_bucket = timeline.groupby("bucket_start")["faces"].sum()
    expected = inside.groupby((inside["timestamp"] // 0.5) * 0.5).size()
    assert by_bucket.to_dict() == expected.to_dict()
    frames = queries.frame_totals(engine, [1], queries.MEDIA, (1.0, None)).iloc[0]
    assert frames["frames"] == 45  # frames 15..59 at 15 fps


def test_wall_clock_buckets_of_a_live_stream(database_url):
    # 150 frames, one a second from 12:00:00 UTC: happy for the first minute, then sad, then two faces each
    frames = [["happy"]] * 60 + [["sad"]] * 60 + [["surprise", "neutral"]] * 30
    sid = write_live_stream(database_url, "lobby", T0, frames)
    engine = db.connect(database_url, read_only=True)

    first, last = queries.time_extent(engine, [sid], queries.WALL)
    assert (first, last) == (pytest.approx(T0.timestamp(), abs=1e-3), pytest.approx(T0.timestamp() + 149, abs=1e-3))

    timeline = queries.emotion_timeline(engine, [sid], queries.WALL, queries.EVERYTHING, 60)
    faces = timeline.pivot(index="bucket_start", columns="emotion", values="faces")
    assert list(faces.index) == [pd.Timestamp("2026-03-01 12:00", tz="UTC"), pd.Timestamp("2026-03-01 12:01", tz="UTC"),
                                 pd.Timestamp("2026-03-01 12:02", tz="UTC")]
    assert faces.loc[:, "happy"].tolist() == [60, 0, 0]
    assert faces.loc[:, "sad"].tolist() == [0, 60, 0]
    assert faces.loc[:, "surprise"].tolist() == [0, 0, 30] and faces.loc[:, "neutral"].tolist() == [0, 0, 30]
    assert timeline[timeline["emotion"] == "surprise"]["share"].tolist() == [0.0, 0.0, 0.5]

    ninety = (T0.timestamp() + 30, T0.timestamp() + 89)  # 12:00:30 - 12:01:29, both ends included
    totals = queries.emotion_totals(engine, [sid], queries.WALL, ninety).set_index("emotion")["faces"]
    assert (totals["happy"], totals["sad"], totals.sum()) == (30, 30, 60)
    frames = queries.frame_totals(engine, [sid], queries.WALL, (T0.timestamp() + 120, None)).iloc[0]
    assert (frames["frames"], frames["faces"], frames["frames_no_face"]) == (30, 60, 0)


def test_several_sources_are_counted_together_and_others_left_out(database_url, astronaut_video):
    ferstream("analyze", str(astronaut_video), "--database", database_url, "--sample-fps", "5")
    write_live_stream(database_url, "lobby", T0, [["angry"]] * 5)
    ferstream("analyze", str(astronaut_video), "--database", database_url)
    engine = db.connect(database_url, read_only=True)
    both = queries.emotion_totals(engine, [1, 3], queries.MEDIA, queries.EVERYTHING)["faces"].sum()
    assert both == counts(database_url, 1)["faces"] + counts(database_url, 3)["faces"]
    assert queries.emotion_totals(engine, [1, 3], queries.MEDIA, queries.EVERYTHING).set_index("emotion")["faces"]["angry"] == 0
    assert queries.frame_totals(engine, [1, 3], queries.MEDIA, queries.EVERYTHING).iloc[0]["frames"] == 20 + 60


def test_source_table_statuses_and_progress(database_url, astronaut_video):
    ferstream("analyze", str(astronaut_video), "--database", database_url)
    write_live_stream(database_url, "camera", T0, [["happy"]] * 3, running=True)
    df = queries.source_table(db.connect(database_url, read_only=True))
    assert list(df.columns) == queries.SOURCE_COLUMNS
    video, camera = df.iloc[0], df.iloc[1]
    assert (video["name"], video["kind"], video["status"], video["progress"]) == ("astronaut.mp4", "file", "done", 1.0)
    assert (camera["kind"], camera["status"], camera["frames_analysed"], camera["faces"]) == ("live", "running", 3, 3)
    assert pd.isna(camera["progress"])  # a stream has no end


def test_empty_database_and_empty_choice(tmp_path):
    url = f"sqlite:///{tmp_path / 'never-written.db'}"
    engine = db.connect(url, read_only=True)  # no tables: nothing has run against this database yet
    assert queries.source_table(engine).empty
    assert queries.time_extent(engine, [], queries.MEDIA) is None
    assert queries.emotion_timeline(engine, [], queries.MEDIA, queries.EVERYTHING, 1).empty
    assert queries.emotion_totals(engine, [], queries.MEDIA, queries.EVERYTHING)["faces"].sum() == 0
    assert queries.frame_totals(engine, [], queries.MEDIA, queries.EVERYTHING).iloc[0].tolist() == [0, 0, 0]


def test_aggregation_happens_in_sql_with_bound_parameters(database_url):
    """One GROUP BY query per chart, its filters and bucket size bound, not spliced into the SQL."""
    from sqlalchemy import event

    sid = write_live_stream(database_url, "crowd", T0, [["happy", "sad", "happy"]] * 600)  # 1,800 faces
    engine = db.connect(database_url, read_only=True)
    executed = []

    def record(conn, cursor, statement, parameters, context, executemany):
        executed.append((statement, parameters))

    event.listen(engine, "after_cursor_execute", record)
    try:
        timeline = queries.emotion_timeline(engine, [sid], queries.WALL, (T0.timestamp(), None), 60)
    finally:
        event.remove(engine, "after_cursor_execute", record)
    assert timeline["faces"].sum() == 1800 and timeline["bucket_start"].nunique() == 10
    ((statement, parameters),) = executed
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
    assert "GROUP BY" in statement.upper()
    assert 60.0 in values and sid in values  # bucket size and source id are bound
    assert "2026" not in statement  # so is the time range


def test_uncertain_faces_are_left_out_of_the_charts_unless_asked(database_url):
    from tests.helpers import write_flagged_source

    sid = write_flagged_source(database_url)
    engine = db.connect(database_url, read_only=True)
    totals = queries.emotion_totals(engine, [sid], queries.MEDIA, queries.EVERYTHING).set_index("emotion")
    assert totals["faces"].sum() == totals.loc["happy", "faces"] == 4 and totals.loc["happy", "share"] == 1.0
    assert totals["uncertain"].sum() == 16 and totals.loc["neutral", "uncertain"] == 10
    everything = queries.emotion_totals(engine, [sid], queries.MEDIA, queries.EVERYTHING,
                                        include_uncertain=True).set_index("emotion")
    assert everything.loc[["happy", "sad", "neutral"], "faces"].tolist() == [4, 6, 10]
    assert everything.loc["neutral", "share"] == 0.5

    timeline = queries.emotion_timeline(engine, [sid], queries.MEDIA, queries.EVERYTHING, 0.5)
    assert timeline.groupby("bucket_start")["faces"].sum().to_dict() == {0.0: 4}  # 0.5-1.0 s: only uncertain faces
    everything = queries.emotion_timeline(engine, [sid], queries.MEDIA, queries.EVERYTHING, 0.5, include_uncertain=True)
    assert everything.groupby("bucket_start")["faces"].sum().to_dict() == {0.0: 10, 0.5: 10}
    people = queries.people(engine, sid)
    assert people["dominant_emotion"].isna().sum() == 1  # the person whose faces are all uncertain
    assert queries.people(engine, sid, include_uncertain=True)["dominant_emotion"].tolist() == ["sad", "neutral"]
