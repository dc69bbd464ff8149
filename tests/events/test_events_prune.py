"""`ferstream prune` removes ended events with the results, with their change feed and its deliveries; active
events stay (real SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from ferstream import db
from ferstream.db import writes
from ferstream.db.models import EventChange, EventDelivery, utcnow
from ferstream.db.retention import prune
from ferstream.events.dispatcher import record
from ferstream.events.evaluator import bind_rules, settle
from ferstream.events.rules import Rule
from ferstream.events.store import changes, list_events
from tests.events.chunks import land, record_all

SAD = Rule("sad", "track", ("sad",), min_share=0.6, hold_s=1.0)


def sad_from_1(t, person):
    return "sad" if t >= 1.0 else "happy"


def test_prune_removes_ended_events_with_their_feed_and_keeps_active_ones(database_url):
    engine = db.connect(database_url)
    ended = writes.create_source(engine, name="ended", kind="file", uri="mem")
    active = writes.create_source(engine, name="active", kind="live", uri="mem")
    for sid in (ended, active):
        bind_rules(engine, sid, [SAD])
        record_all(engine, sid, 4)
        for index in range(4):
            land(engine, sid, index, sad_from_1, record=False)
    writes.update_source(engine, ended, state="finished")
    settle(engine, ended)
    assert list_events(engine, ended)["state"].tolist() == ["ended"]
    assert list_events(engine, active)["state"].tolist() == ["active"]
    with engine.connect() as conn:
        first = conn.execute(select(func.min(EventChange.id)).where(EventChange.source_id == ended)).scalar()
    record(engine, "webhook http://x/hook", first)

    counts = prune(engine, timedelta(days=1), now=utcnow() + timedelta(days=2))
    assert counts.events == 1 and "1 events" in str(counts)
    assert list_events(engine, ended).empty and changes(engine, ended) == []
    assert list_events(engine, active)["state"].tolist() == ["active"] and changes(engine, active)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EventDelivery)).scalar() == 0
