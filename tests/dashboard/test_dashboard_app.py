"""The app under ``streamlit.testing.v1.AppTest``, on databases filled by the real pipeline.

The figures on the page are checked against the database the pipeline wrote
(``tests.helpers.counts`` and the exported face rows), not against the dashboard's own queries.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from ferstream import db
from ferstream.db import writes
from ferstream.db.queries import faces_table
from tests.helpers import counts

from conftest import ASTRONAUT, ASTRONAUT_5FPS, NO_FACE
from dashboard_testing import (
    DISTRIBUTION, TIMELINE, chart_data, metrics, open_app, texts, widget, write_live_stream,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def assert_shows(at, database_url: str, source_ids: list[int], faces_in_range: int | None = None,
                 uncertain_in_range: int = 0) -> None:
    """Figures and both charts agree with what the pipeline wrote for these sources (uncertain faces left out of the
    charts)."""
    c = [counts(database_url, s) for s in source_ids]
    faces = sum(x["faces"] for x in c) if faces_in_range is None else faces_in_range
    uncertain = sum(x["uncertain"] for x in c) if faces_in_range is None else uncertain_in_range
    m = metrics(at)
    assert m["Faces analysed"] == f"{faces:,}"
    if faces_in_range is None:
        assert m["Frames analysed"] == f"{sum(x['frames'] for x in c):,}"
        assert m["Frames with no face"] == f"{sum(x['no_face'] for x in c):,}"
        labels = {e: sum(x["labels"].get(e, 0) for x in c) for e in {e for x in c for e in x["labels"]}}
        assert m["Dominant emotion"] == max(labels, key=labels.get)
        distribution = chart_data(at, DISTRIBUTION).set_index("emotion")["faces"]
        assert {e: n for e, n in distribution.items() if n} == labels
    assert m["Uncertain faces"] == f"{uncertain:,}"
    assert chart_data(at, TIMELINE)["faces"].sum() == faces - uncertain
    assert not at.exception and not at.error


def test_the_chart_and_figures_carry_the_pipelines_totals(pipeline_db, app_env):
    app_env(pipeline_db)
    at = open_app()
    assert at.multiselect(key="sources_file").value == [ASTRONAUT_5FPS]  # the newest source by default
    assert_shows(at, pipeline_db, [ASTRONAUT_5FPS])
    assert metrics(at)["Dominant emotion"] == "happy"
    sources = at.dataframe[0].value
    assert sources["name"].tolist() == ["astronaut.mp4", "coffee.mp4", "astronaut-5fps"]
    assert sources["status"].tolist() == ["done"] * 3 and sources["progress"].tolist() == [1.0] * 3
    assert at.get("download_button")[0].label == "Download CSV"
    assert not at.info and not at.warning  # no empty state, no problem


def test_the_source_picker_changes_the_figures(pipeline_db, app_env):
    app_env(pipeline_db)
    at = open_app()
    at.multiselect(key="sources_file").set_value([ASTRONAUT]).run()
    assert_shows(at, pipeline_db, [ASTRONAUT])
    at.multiselect(key="sources_file").set_value([ASTRONAUT, ASTRONAUT_5FPS]).run()
    assert_shows(at, pipeline_db, [ASTRONAUT, ASTRONAUT_5FPS])
    assert metrics(at)["Frames analysed"] == "80"


def test_the_time_range_and_bucket_change_the_chart(pipeline_db, app_env):
    app_env(pipeline_db)
    at = open_app()
    at.multiselect(key="sources_file").set_value([ASTRONAUT]).run()
    assert widget(at.select_slider, "Time bucket").value == 1  # a 4 s clip: 1 s buckets
    assert chart_data(at, TIMELINE)["bucket_start"].nunique() == 4

    widget(at.slider, "Time in the video (s)").set_value((0.0, 2.0)).run()
    rows = faces_table(db.connect(pipeline_db), ASTRONAUT)
    in_range = int((rows["timestamp"] <= 2.0).sum())
    assert 0 < in_range < len(rows)
    assert_shows(at, pipeline_db, [ASTRONAUT], faces_in_range=in_range,
                 uncertain_in_range=int((rows["uncertain"] & (rows["timestamp"] <= 2.0)).sum()))
    assert metrics(at)["Frames analysed"] == "31"  # frames 0 to 30 at 15 fps
    assert chart_data(at, TIMELINE)["bucket_end"].max() <= 3.0

    widget(at.select_slider, "Time bucket").set_value(2).run()
    timeline = chart_data(at, TIMELINE)
    assert set(timeline["bucket_start"]) == {0.0, 2.0} and timeline["faces"].sum() == in_range


def test_empty_states_explain_themselves(pipeline_db, app_env, tmp_path):
    app_env(pipeline_db)
    at = open_app()
    at.multiselect(key="sources_file").set_value([NO_FACE]).run()
    assert "No faces in this range" in texts(at.info) and "20 frame(s) were analysed" in texts(at.info)
    assert metrics(at)["Frames with no face"] == "20" and metrics(at)["Faces analysed"] == "0"
    assert chart_data(at, TIMELINE) is None and chart_data(at, DISTRIBUTION) is None

    at.multiselect(key="sources_file").set_value([ASTRONAUT]).run()
    widget(at.slider, "Time in the video (s)").set_value((3.95, 4.0)).run()  # after the last frame (3.93 s)
    assert "No frame was analysed in this time range" in texts(at.info)

    at.multiselect(key="sources_file").set_value([]).run()
    assert "Pick one or more sources" in texts(at.info)
    assert not at.exception and not at.error

    app_env(f"sqlite:///{tmp_path / 'new.db'}")
    at = open_app()
    assert "No sources yet" in texts(at.info) and "ferstream analyze" in texts(at.info)
    assert not at.exception and not at.error


def test_a_source_whose_results_were_all_pruned_is_done_and_says_so(app_env, tmp_path, astronaut_video):
    """Issue 32: after a prune the page said "No frame of lobby has been analysed yet. Its chunks wait in the queue"."""
    import time

    from tests.helpers import ferstream

    url = f"sqlite:///{tmp_path / 'pruned.db'}"
    ferstream("analyze", str(astronaut_video), "--database", url, "--name", "lobby", "--sample-fps", "5")
    time.sleep(1.2)
    ferstream("prune", "--older-than", "1s", "--database", url)
    app_env(url)
    at = open_app()
    sources = at.dataframe[0].value
    assert sources["status"].tolist() == ["done"] and sources["progress"].tolist() == [1.0]
    assert sources["frames_analysed"].tolist() == [20]
    info = texts(at.info)
    assert "Every result of lobby has been deleted by retention" in info and "20 analysed frames" in info
    assert "wait in the queue" not in info and "not been analysed" not in info
    assert not at.exception and not at.error


def test_an_unreachable_database_is_an_error_message_not_a_traceback(app_env):
    app_env("postgresql+psycopg2://nobody@127.0.0.1:1/ferstream")
    at = open_app()
    assert "unreachable" in texts(at.error)
    assert not at.exception


def test_live_streams_are_charted_by_wall_clock_time(pipeline_db, app_env, tmp_path):
    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    with sqlite3.connect(pipeline_db.removeprefix("sqlite:///")) as src, sqlite3.connect(url.removeprefix("sqlite:///")) as dst:
        src.backup(dst)  # the pipeline's videos, plus two streams
    lobby = write_live_stream(url, "lobby", T0, [["happy"]] * 60 + [["sad"]] * 60 + [["surprise", "neutral"]] * 30)
    door = write_live_stream(url, "door", T0, [["angry"]] * 10)
    writes.update_source(db.connect(url), door, state="failed", error="VideoError: the stream ended: connection reset")
    app_env(url)
    at = open_app()
    assert at.radio(key="kind").value == "file"
    at.radio(key="kind").set_value("live").run()
    assert at.multiselect(key="sources_live").value == [door]
    assert "connection reset" in texts(at.warning)  # a failed source says why

    at.multiselect(key="sources_live").set_value([lobby]).run()
    assert widget(at.selectbox, "Time range").value == "Last hour"
    assert metrics(at)["Faces analysed"] == "180" and metrics(at)["Frames analysed"] == "150"
    timeline = chart_data(at, TIMELINE)
    assert widget(at.select_slider, "Time bucket").value == 5  # 150 s: 5 s buckets
    assert timeline["faces"].sum() == 180 and timeline["bucket_start"].nunique() == 30
    assert str(timeline["bucket_start"].min().tz) == "UTC" and timeline["bucket_start"].min() == T0

    widget(at.selectbox, "Time range").set_value("Custom").run()
    widget(at.slider, "From - to (UTC)").set_value((datetime(2026, 3, 1, 12, 1, 0), datetime(2026, 3, 1, 12, 1, 59))).run()
    distribution = chart_data(at, DISTRIBUTION).set_index("emotion")["faces"]
    assert distribution["sad"] == 60 and distribution.sum() == 60
    assert not at.exception and not at.error


@pytest.mark.media
def test_wolfgang_langer(wolfgang_db, app_env):
    app_env(wolfgang_db)
    at = open_app()
    assert_shows(at, wolfgang_db, [1])
    assert metrics(at)["Frames analysed"] == "472"
    rows = faces_table(db.connect(wolfgang_db), 1)
    mixes = []
    for start, end in [(0.0, 6.0), (12.0, 19.7)]:
        widget(at.slider, "Time in the video (s)").set_value((start, end)).run()
        in_range = rows[(rows["timestamp"] >= start) & (rows["timestamp"] <= end)]
        assert_shows(at, wolfgang_db, [1], faces_in_range=len(in_range), uncertain_in_range=int(in_range["uncertain"].sum()))
        shown = chart_data(at, DISTRIBUTION).set_index("emotion")["faces"]
        counted = in_range[~in_range["uncertain"]]  # the charts leave uncertain faces out
        assert {e: n for e, n in shown.items() if n} == counted["emotion"].value_counts().to_dict()
        mixes.append(shown / shown.sum())
    assert (mixes[0] - mixes[1]).abs().max() > 0.2  # her expression changes over the clip


def test_the_people_of_a_source_and_one_persons_timeline(pipeline_db, app_env):
    from dashboard_testing import chart_data as data_of
    from ferstream.db.queries import tracks_table
    from ferstream.dashboard.views import PERSON_TIMELINE

    app_env(pipeline_db)
    at = open_app()
    at.multiselect(key="sources_file").set_value([ASTRONAUT]).run()
    (people,) = [d.value for d in at.dataframe if "dominant_emotion" in d.value.columns]
    expected = tracks_table(db.connect(pipeline_db), ASTRONAUT)
    assert people["track_id"].tolist() == expected["track_id"].tolist() and len(people) >= 1
    assert people["faces"].sum() == counts(pipeline_db, ASTRONAUT)["faces"]  # every face belongs to a person
    track = at.selectbox(key="person").value
    assert track == expected.sort_values("faces").iloc[-1]["track_id"]
    person = data_of(at, PERSON_TIMELINE)
    shown = expected.set_index("track_id").loc[track]
    assert person["faces"].sum() == shown["faces"] - shown["uncertain_faces"]  # uncertain faces left out
    assert "Annotated frame" in [h.value for h in at.subheader]  # the video's frame with its faces, read now
    assert at.slider(key="frame_at").value == 1.0 and len(at.get("image")) == 1 and not at.info, [i.value for i in at.info]
    at.slider(key="frame_at").set_value(3.0).run()
    assert len(at.get("image")) == 1 and not at.exception
    at.multiselect(key="sources_file").set_value([ASTRONAUT, ASTRONAUT_5FPS]).run()
    assert not [d for d in at.dataframe if "dominant_emotion" in d.value.columns]  # per source: one at a time
    assert not at.exception and not at.error


def test_uncertain_faces_are_left_out_until_the_toggle_shows_them(app_env, tmp_path):
    from ferstream.dashboard.controls import SHOW_UNCERTAIN
    from tests.helpers import write_flagged_source

    url = f"sqlite:///{tmp_path / 'flagged.db'}"
    write_flagged_source(url)
    app_env(url)
    at = open_app()
    toggle = widget(at.toggle, SHOW_UNCERTAIN)
    assert toggle.value is False
    assert metrics(at)["Faces analysed"] == "20" and metrics(at)["Uncertain faces"] == "16"
    assert metrics(at)["Dominant emotion"] == "happy"
    distribution = chart_data(at, DISTRIBUTION).set_index("emotion")["faces"]
    assert {e: n for e, n in distribution.items() if n} == {"happy": 4}
    assert chart_data(at, TIMELINE)["faces"].sum() == 4
    assert "20 faces in this range, 16 uncertain: left out of the charts" in texts(at.caption)
    (people,) = [d.value for d in at.dataframe if "dominant_emotion" in d.value.columns]
    assert people["uncertain_faces"].tolist() == [6, 10] and people["dominant_emotion"].isna().tolist() == [False, True]

    toggle.set_value(True).run()
    assert metrics(at)["Faces analysed"] == "20" and metrics(at)["Uncertain faces"] == "16"
    assert metrics(at)["Dominant emotion"] == "neutral"
    distribution = chart_data(at, DISTRIBUTION).set_index("emotion")["faces"]
    assert {e: n for e, n in distribution.items() if n} == {"happy": 4, "sad": 6, "neutral": 10}
    assert chart_data(at, TIMELINE)["faces"].sum() == 20
    assert "16 uncertain: all are counted in the charts" in texts(at.caption)
    (people,) = [d.value for d in at.dataframe if "dominant_emotion" in d.value.columns]
    assert people["dominant_emotion"].tolist() == ["sad", "neutral"]
    assert not at.exception and not at.error
