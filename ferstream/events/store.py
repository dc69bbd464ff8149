"""Reading events and their change feed: ``ferstream events list/export/deliveries``, the dashboard, the tests."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from ferstream.db.models import Event, EventChange, EventDelivery, Face, Frame, Source
from ferstream.emotion_model import EMOTIONS

EVENT_COLUMNS = ["id", "source", "source_id", "rule", "per", "severity", "state", "track_id", "start", "end",
                 "duration_s", "start_at", "end_at", "peak", "peak_frame", "peak_face", "peak_time", "faces"]


def list_events(engine: Engine, source_id: int | list[int] | None = None, rule: str | None = None, state: str | None = None,
                severity: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Published events (active or ended; never the pending), oldest first."""
    q = (select(Event.id, Source.name.label("source"), Event.source_id, Event.rule, Event.per, Event.severity,
                Event.state, Event.track_id, Event.start, Event.end, Event.start_at, Event.end_at, Event.peak,
                Event.peak_frame, Event.peak_face, Frame.timestamp.label("peak_time"), Event.faces)
         .join(Source, Source.id == Event.source_id)
         .outerjoin(Frame, and_(Frame.source_id == Event.source_id, Frame.frame_index == Event.peak_frame))
         .where(Event.state != "pending")
         .order_by(Event.source_id, Event.start, Event.rule, Event.id))
    if isinstance(source_id, (list, tuple)):
        q = q.where(Event.source_id.in_(source_id))
        source_id = None
    for column, value in ((Event.source_id, source_id), (Event.rule, rule), (Event.state, state),
                          (Event.severity, severity)):
        if value is not None:
            q = q.where(column == value)
    if limit:
        q = q.limit(limit)
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).mappings().all())
    if df.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    df["duration_s"] = (df["end"] - df["start"]).round(3)
    df["track_id"] = df["track_id"].astype("Int64")
    df["peak_face"] = df["peak_face"].astype("Int64")
    return df[EVENT_COLUMNS]


def changes(engine: Engine, source_id: int | None = None, event_id: str | None = None) -> list[dict]:
    """The change feed's bodies (as delivered), in order."""
    q = select(EventChange.body).order_by(EventChange.id)
    if source_id is not None:
        q = q.where(EventChange.source_id == source_id)
    if event_id is not None:
        q = q.where(EventChange.event_id == event_id)
    with engine.connect() as conn:
        return [json.loads(b) for b in conn.execute(q).scalars()]


def event_faces(engine: Engine, event_id: str) -> pd.DataFrame:
    """The faces of a person's event (its track between its start and end): time and the seven probabilities."""
    with engine.connect() as conn:
        ev = conn.execute(select(Event).where(Event.id == event_id)).mappings().one_or_none()
        if ev is None or ev["track_id"] is None:
            return pd.DataFrame(columns=["timestamp", *EMOTIONS])
        rows = conn.execute(select(Face.timestamp, *[getattr(Face, e) for e in EMOTIONS]).where(
            Face.source_id == ev["source_id"], Face.track_id == ev["track_id"],
            Face.timestamp.between(ev["start"], ev["end"])).order_by(Face.timestamp)).mappings().all()
    return pd.DataFrame(rows, columns=["timestamp", *EMOTIONS])


def undelivered(engine: Engine, endpoints: list[str] | None = None, rules: list[str] | None = None) -> pd.DataFrame:
    """Changes not yet delivered: per endpoint given (each change of ``rules`` without a delivery to it), or,
    without endpoints, every change with a failed attempt and none delivered. Columns: endpoint, change, event_id,
    rule, type, attempts, error, next_at."""
    columns = ["endpoint", "change", "event_id", "rule", "type", "created_at", "attempts", "error", "next_at"]
    frames = []
    with engine.connect() as conn:
        if endpoints:
            for endpoint in endpoints:
                d = EventDelivery.__table__.alias()
                q = (select(EventChange.id.label("change"), EventChange.event_id, EventChange.rule, EventChange.type,
                            EventChange.created_at, func.coalesce(d.c.attempts, 0).label("attempts"), d.c.error,
                            d.c.next_at)
                     .outerjoin(d, and_(d.c.change_id == EventChange.id, d.c.endpoint == endpoint))
                     .where(d.c.delivered_at.is_(None)).order_by(EventChange.id))
                if rules is not None:
                    q = q.where(EventChange.rule.in_(rules))
                df = pd.DataFrame(conn.execute(q).mappings().all())
                if len(df):
                    df.insert(0, "endpoint", endpoint)
                    frames.append(df)
        else:
            q = (select(EventDelivery.endpoint, EventChange.id.label("change"), EventChange.event_id, EventChange.rule,
                        EventChange.type, EventChange.created_at, EventDelivery.attempts, EventDelivery.error,
                        EventDelivery.next_at)
                 .join(EventChange, EventChange.id == EventDelivery.change_id)
                 .where(EventDelivery.delivered_at.is_(None)).order_by(EventDelivery.endpoint, EventChange.id))
            df = pd.DataFrame(conn.execute(q).mappings().all())
            if len(df):
                frames.append(df)
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


#: seconds of a source's latest faces that its current crowd shares (``<prefix>/<camera>/emotion``) are taken over
SHARES_WINDOW_S = 5.0


def current_shares(engine: Engine, names: list[str], window_s: float = SHARES_WINDOW_S) -> dict[str, dict]:
    """Per source name (its newest source of that name): the share of each emotion among the faces of its last
    ``window_s`` seconds of results, how many faces, and the media time they end at."""
    out = {}
    with engine.connect() as conn:
        for name in names:
            sid = conn.execute(select(func.max(Source.id)).where(Source.name == name)).scalar()
            if sid is None:
                continue
            newest = conn.execute(select(func.max(Face.timestamp)).where(Face.source_id == sid)).scalar()
            if newest is None:
                continue
            counts = dict(conn.execute(select(Face.emotion, func.count()).where(
                Face.source_id == sid, Face.timestamp > newest - window_s).group_by(Face.emotion)).all())
            total = sum(counts.values())
            out[name] = {"source": name, "source_id": sid, "faces": total, "until": round(float(newest), 3),
                         "window_s": window_s,
                         "shares": {e: round(counts.get(e, 0) / total, 4) if total else 0.0 for e in EMOTIONS}}
    return out
