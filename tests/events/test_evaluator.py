"""Events evaluated where chunks land: the same events in any landing order, twice, or with neighbours at once
(real SQLite and PostgreSQL, through the worker's own write path)."""

from __future__ import annotations

import pandas as pd
import pytest

from ferstream import db
from ferstream.db import writes
from ferstream.events.evaluator import bind_rules, settle
from ferstream.events.rules import Rule
from ferstream.events.store import changes, list_events
from tests.events.chunks import LEFT, RIGHT, land, record_all

SAD = Rule("sad-person", "track", ("sad", "fear"), min_share=0.6, hold_s=3.0)


def sad_from_2_to_7(t, person):
    return "sad" if 2.0 <= t < 7.0 else "happy"


def source(engine, rules=(SAD,), name="clip"):
    sid = writes.create_source(engine, name=name, kind="file", uri="mem")
    bind_rules(engine, sid, list(rules))
    return sid


def finish(engine, sid):
    writes.update_source(engine, sid, state="finished")
    settle(engine, sid)


def run(engine, order, mood=sad_from_2_to_7, n=10, rules=(SAD,), people=(LEFT,), quality=None):
    sid = source(engine, rules)
    record_all(engine, sid, n)
    for index in order:
        land(engine, sid, index, mood, people, record=False, quality=quality)
    finish(engine, sid)
    return sid


def test_a_face_sad_long_enough_raises_one_event_with_its_span(database_url):
    engine = db.connect(database_url)
    sid = run(engine, range(10))
    events = list_events(engine, sid)
    assert len(events) == 1
    ev = events.iloc[0]
    # smoothing over 1 s: the smoothed sad share passes 0.6 about half a second after the face turns sad
    assert ev["state"] == "ended" and 2.3 <= ev["start"] <= 2.8 and 7.2 <= ev["end"] <= 7.7
    feed = changes(engine, sid)
    assert [c["type"] for c in feed][0] == "new" and feed[-1]["type"] == "end"
    assert {c["id"] for c in feed} == {ev["id"]} and [c["seq"] for c in feed] == list(range(len(feed)))
    new = feed[0]
    assert new["before"] is None and new["after"]["state"] == "active" and new["end"] is None
    assert new["after"]["last"] - new["start"] >= 3.0 - 1e-6  # published once it has held for 3 s
    end = feed[-1]
    assert end["before"]["state"] == "active" and end["after"]["state"] == "ended"
    assert end["start"] == pytest.approx(ev["start"]) and end["end"] == pytest.approx(ev["end"])
    assert all(c["rule"] == "sad-person" and c["source"] == "clip" and c["track"] == ev["track_id"] for c in feed)


def test_sad_for_less_than_the_rule_holds_raises_nothing(database_url):
    engine = db.connect(database_url)
    sid = run(engine, range(6), mood=lambda t, p: "sad" if 2.0 <= t < 4.0 else "happy")
    assert list_events(engine, sid).empty and changes(engine, sid) == []


def test_cooldown_holds_back_the_second_event_of_the_same_person(database_url):
    engine = db.connect(database_url)
    twice = lambda t, p: "sad" if 1.0 <= t < 3.0 or 4.0 <= t < 6.0 else "neutral"  # noqa: E731
    quick = Rule("sad", "track", ("sad",), min_share=0.6, hold_s=1.0)
    assert len(list_events(engine, run(engine, range(8), twice, rules=(quick,)))) == 2
    slow = Rule("sad", "track", ("sad",), min_share=0.6, hold_s=1.0, cooldown_s=5.0)
    assert len(list_events(engine, run(engine, range(8), twice, rules=(slow,)))) == 1


@pytest.mark.parametrize("order", [[9, 3, 0, 5, 1, 8, 2, 7, 4, 6], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
                                   [0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 9, 0]])
def test_chunks_out_of_order_and_twice_give_the_same_events_and_feed(database_url, order):
    engine = db.connect(database_url)
    people = (LEFT, RIGHT)
    mood = lambda t, p: "sad" if (2.0 <= t < 7.0 if p == 0 else 5.0 <= t < 9.5) else "happy"  # noqa: E731
    expected_sid = run(engine, range(10), mood, people=people)
    sid = run(engine, order, mood, people=people)

    def shape(s):
        return [(r.rule, r.state, r.start, r.end, r.faces, r.peak_frame) for r in list_events(engine, s).itertuples()]

    assert len(shape(expected_sid)) == 2 and shape(sid) == shape(expected_sid)
    strip = lambda feed: [(c["type"], c["seq"], c["start"], c["end"], c["after"]["faces"]) for c in feed]  # noqa: E731
    assert strip(changes(engine, sid)) == strip(changes(engine, expected_sid))
    tracks = list_events(engine, sid)["track_id"]
    assert tracks.nunique() == 2  # one per person, whatever ids the landing order gave


def test_a_crowd_rule_over_a_window(database_url):
    engine = db.connect(database_url)
    gloomy = Rule("gloomy", "source", ("happy",), max_share=0.3, hold_s=2.0, min_faces=5)
    mood = lambda t, p: "happy" if t < 4.0 else "sad"  # noqa: E731
    sid = run(engine, range(8), mood, rules=(gloomy,), people=(LEFT, RIGHT))
    events = list_events(engine, sid)
    assert len(events) == 1 and events.iloc[0]["per"] == "source" and pd.isna(events.iloc[0]["track_id"])
    # the share of happy faces over the last 2 s falls to 0.3 once 70% of the window is sad: 1.4 s after 4.0
    assert 5.2 <= events.iloc[0]["start"] <= 5.6 and events.iloc[0]["end"] == pytest.approx(7.9)


def test_no_rules_no_events_and_no_progress_row(database_url):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="plain", kind="file", uri="mem")
    assert land(engine, sid, 0, sad_from_2_to_7) == []
    assert list_events(engine, sid).empty


def test_a_person_s_events_are_the_runs_of_the_exported_smoothed_emotion(sqlite_url):
    """The evaluator smooths as the export does: each event spans a run of faces whose exported
    smooth_sad + smooth_fear reaches the threshold (hold 0), and every such run is an event."""
    import numpy as np

    from ferstream.db.queries import faces_table

    engine = db.connect(sqlite_url)
    rng = np.random.default_rng(7)
    pattern = rng.choice(["sad", "fear", "happy", "neutral"], size=200, p=[0.35, 0.15, 0.3, 0.2])
    rule = Rule("gloom", "track", ("sad", "fear"), min_share=0.55)
    sid = run(engine, range(20), mood=lambda t, p: pattern[int(round(t * 10))], n=20, rules=(rule,))
    faces = faces_table(engine, sid).sort_values("timestamp")
    held = (faces["smooth_sad"] + faces["smooth_fear"] >= 0.55).to_numpy()
    times = faces["timestamp"].to_numpy()
    runs, start = [], None
    for k, ok in enumerate(held):
        if ok and start is None:
            start = times[k]
        if not ok and start is not None:
            runs.append((start, times[k - 1]))
            start = None
    if start is not None:
        runs.append((start, times[-1]))
    events = list_events(engine, sid)
    assert len(runs) > 3
    assert [(round(r.start, 6), round(r.end, 6)) for r in events.itertuples()] == \
        [(round(a, 6), round(b, 6)) for a, b in runs]


def test_chunks_landing_at_once_from_several_workers_give_the_same_events(database_url):
    import random
    import threading

    engine = db.connect(database_url)
    people = (LEFT, RIGHT)
    mood = lambda t, p: "sad" if (2.0 <= t < 7.0 if p == 0 else 5.0 <= t < 9.5) else "happy"  # noqa: E731
    expected = run(engine, range(10), mood, people=people)
    sid = source(engine)
    record_all(engine, sid, 10)
    order = list(range(10)) + [3, 7]  # two chunks landing twice (a retried job)
    random.Random(5).shuffle(order)
    errors = []

    def worker(indices):
        from sqlalchemy.exc import IntegrityError

        try:
            for index in indices:
                try:
                    land(engine, sid, index, mood, people, record=False)
                except IntegrityError:  # the same chunk written by another worker at that moment: RQ retries it
                    land(engine, sid, index, mood, people, record=False)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(order[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    finish(engine, sid)

    def shape(s):
        return [(r.rule, r.state, r.start, r.end, r.faces) for r in list_events(engine, s).itertuples()]

    assert shape(sid) == shape(expected) and len(shape(sid)) == 2
    feed = changes(engine, sid)
    assert len({(c["id"], c["seq"]) for c in feed}) == len(feed)


def test_a_chunk_that_fails_for_good_is_passed_over_and_a_last_one_ends_the_events(database_url):
    engine = db.connect(database_url)
    sid = source(engine, rules=(Rule("sad", "track", ("sad",), min_share=0.6, hold_s=1.0),))
    record_all(engine, sid, 10)
    sad_from_2 = lambda t, p: "sad" if t >= 2.0 else "happy"  # noqa: E731
    for index in (0, 1, 2, 3, 5, 6, 7, 8):  # chunk 4 failed for good, chunk 9 is still being tried
        land(engine, sid, index, sad_from_2, record=False)
    writes.chunk_failed(engine, sid, 4, "poison chunk")
    writes.update_source(engine, sid, state="finished")
    settle(engine, sid)
    events = list_events(engine, sid)
    # the person is lost over the failed second: one event ends before it, a new track's starts after it
    assert events["state"].tolist() == ["ended", "active"]
    assert events.iloc[0]["end"] == pytest.approx(3.9) and events.iloc[1]["start"] == pytest.approx(5.0)
    writes.chunk_failed(engine, sid, 9, "poison chunk")  # what the worker's final failure does, then settles
    settle(engine, sid)
    events = list_events(engine, sid)
    assert events["state"].tolist() == ["ended", "ended"] and events.iloc[1]["end"] == pytest.approx(8.9)
    assert changes(engine, sid)[-1]["type"] == "end"


def test_min_quality_leaves_out_the_faces_below_it_and_only_those(database_url):
    """A per-track rule with min_quality counts only the faces whose stored quality reaches it: the same sad span
    raises its event from when the faces turn sharp, none where every sad face is poor, and, without min_quality,
    the event as ever."""
    engine = db.connect(database_url)
    strict = Rule("sad-sharp", "track", ("sad", "fear"), min_share=0.6, hold_s=3.0, min_quality=0.5)

    def sharp_from_4(t, person):
        return 0.2 if t < 4.0 else 0.9

    events = list_events(engine, run(engine, range(10), rules=(strict,), quality=sharp_from_4))
    assert len(events) == 1
    assert 4.0 <= events.iloc[0]["start"] <= 4.2 and 7.2 <= events.iloc[0]["end"] <= 7.7
    assert list_events(engine, run(engine, range(10), rules=(strict,), quality=lambda t, p: 0.2)).empty
    plain = list_events(engine, run(engine, range(10), quality=lambda t, p: 0.2))
    assert len(plain) == 1 and 2.3 <= plain.iloc[0]["start"] <= 2.8
