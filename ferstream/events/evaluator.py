"""Evaluating a source's rules where its results land: in the transaction that writes a chunk's faces.

Chunks land in any order, twice, or at once (several workers); rules are evaluated in chunk order all the
same. ``event_progress`` records the last chunk evaluated; the transaction of each chunk that lands advances
it over every chunk that has landed (or failed for good) since, in order, under the source's lock (the lock
track stitching takes: PostgreSQL's row lock, SQLite's write lock). So the events of a source are the same
whatever order its chunks land in, a chunk landing twice changes nothing, and a worker killed mid-chunk
leaves nothing half evaluated (its transaction never commits; the retry evaluates). Workers never wait for
each other: a chunk landing early is evaluated by the transaction of the one that was missing.

Per person (``per: track``): a face's value is the sum of its track's smoothed probabilities (as
``db.queries.smooth`` computes the export's ``smooth_*``: the mean over the track's last second) of the rule's
emotions. An event is pending from the
first face whose value reaches ``min_share`` and becomes active (published: ``new``) once that has held
for ``for``; it ends (``end``) at the first face of the track that falls below, or when the track is not
seen for longer than a track's gap, or when the source ends. Per crowd (``per: source``): at each frame,
the share of the faces of the last ``for`` seconds (the window) whose label is one of the emotions; the
event is active while the share is at least ``min_share`` (at most ``max_share``) with ``min_faces`` in the
window. A rule's next event for the same person (crowd) starts no sooner than ``cooldown`` after its last
ended. Each change is a row of ``event_changes`` (the outbox that webhooks and MQTT deliver), its body the
JSON delivered, with ``before`` and ``after``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from ferstream.db.models import (Chunk, DatabaseIdentity, Event, EventChange, EventProgress, EventRule, Face, Frame,
                                 Source, utcnow)
from ferstream.db.queries import SMOOTH_SECONDS
from ferstream.emotion_model import EMOTIONS
from ferstream.events.rules import Rule
from ferstream.tracks import DEFAULT_MAX_GAP_S

#: ingest states of a source that sends no more chunks: its open events end once every chunk is evaluated
ENDED_STATES = ("finished", "stopped", "failed")
#: namespace of the event ids (uuid5 of database, source, rule and the face that started the event)
EVENT_NAMESPACE = uuid.UUID("6f1f3c1e-5d2a-4b7e-9a51-3c0e2f7d9b11")
PUBLIC = ("id", "rule", "per", "severity", "source", "source_id", "track", "state", "start", "end", "last",
          "start_at", "end_at", "peak", "peak_frame", "peak_face", "faces")


def bind_rules(engine: Engine, source_id: int, rules: tuple[Rule, ...] | list[Rule]) -> None:
    """The rules a source's chunks are evaluated against (recorded before its first chunk is sent)."""
    if not rules:
        return
    with engine.begin() as conn:
        conn.execute(delete(EventRule).where(EventRule.source_id == source_id))
        conn.execute(insert(EventRule), [dict(source_id=source_id, name=r.name, spec=r.to_json()) for r in rules])


@dataclass
class Evaluation:
    """The hook ``db.writes.write_results`` runs in a chunk's transaction; ``changes`` the (rule, type) published."""

    changes: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, conn: Connection, source_id: int) -> None:
        self.changes = advance(conn, source_id)


def settle(engine: Engine, source_id: int) -> list[tuple[str, str]]:
    """Advance a source's evaluation outside a chunk's transaction: after ingest has ended it (its open events
    end once every chunk is in), or after a chunk failed for good."""
    with engine.begin() as conn:
        return advance(conn, source_id)


def advance(conn: Connection, source_id: int) -> list[tuple[str, str]]:
    """Evaluate every chunk of the source that has landed since the last evaluated one, in order; end the open
    events if the source has ended and every chunk is in. Returns the (rule, type) of the changes published."""
    specs = conn.execute(select(EventRule.spec).where(EventRule.source_id == source_id)
                         .order_by(EventRule.name)).scalars().all()
    if not specs:
        return []
    locked = select(Source.name, Source.state).where(Source.id == source_id)
    if conn.dialect.name == "postgresql":
        locked = locked.with_for_update()
    source = conn.execute(locked).one()
    progress = conn.execute(select(EventProgress.chunk_index, EventProgress.closed)
                            .where(EventProgress.source_id == source_id)).one_or_none()
    if progress is None:
        conn.execute(insert(EventProgress).values(source_id=source_id, chunk_index=-1, closed=0))
        last, closed = -1, 0
    else:
        last, closed = progress
    if closed:
        return []
    ctx = _Context(conn, source_id, source.name, [Rule.from_json(s) for s in specs], _database_id(conn))
    statuses = dict(conn.execute(select(Chunk.chunk_index, Chunk.status).where(
        Chunk.source_id == source_id, Chunk.chunk_index > last).order_by(Chunk.chunk_index)).all())
    start = last
    while statuses.get(last + 1) in ("done", "failed"):
        last += 1
        if statuses[last] == "done":
            ctx.evaluate_chunk(last)
    if source.state in ENDED_STATES and not any(i > last for i in statuses):
        ctx.close_all()
        closed = 1
    if last != start or closed:
        conn.execute(update(EventProgress).where(EventProgress.source_id == source_id)
                     .values(chunk_index=last, closed=closed))
    return ctx.flush()


def _database_id(conn: Connection) -> str:
    return conn.execute(select(DatabaseIdentity.database_id)).scalar() or "-"


def _iso(at) -> str | None:
    if at is None or (not isinstance(at, datetime) and pd.isna(at)):
        return None
    at = pd.Timestamp(at).to_pydatetime()
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).isoformat()


class _Context:
    """One advance's rules and the events they touch, written back (with their changes) by ``flush``."""

    def __init__(self, conn: Connection, source_id: int, source_name: str, rules: list[Rule], database_id: str):
        self.conn, self.source_id, self.source_name, self.rules = conn, source_id, source_name, rules
        self.database_id = database_id
        self.open: dict[str, dict] = {}  # rule name -> {track (None: crowd) -> event}
        self.loaded: set[str] = set()
        self.touched: dict[str, dict] = {}  # event id -> event (with its _published snapshot)
        self.pending_changes: list[tuple[dict, str, dict | None, dict, object]] = []
        self.deleted: set[str] = set()
        self.ends: dict[tuple, float | None] = {}  # (rule, track) -> when its last event ended

    # --- events of a rule ---
    def _open_events(self, rule: Rule) -> dict:
        if rule.name not in self.loaded:
            rows = self.conn.execute(select(Event).where(Event.source_id == self.source_id, Event.rule == rule.name,
                                                         Event.state.in_(("pending", "active")))).mappings().all()
            events = {}
            for r in rows:
                ev = {c: r[c] for c in r.keys()}
                ev["_stored"] = True
                ev["_published"] = self._public(ev) if ev["state"] == "active" else None
                ev["_dirty"] = False
                events[ev["track_id"]] = ev
            self.open[rule.name] = events
            self.loaded.add(rule.name)
        return self.open[rule.name]

    def _last_end(self, rule: Rule, track) -> float | None:
        """When the rule's last event for this track (crowd) ended (read once per advance, then kept up to date)."""
        key = (rule.name, track)
        if key not in self.ends:
            q = select(func.max(Event.end)).where(Event.source_id == self.source_id, Event.rule == rule.name,
                                                  Event.state == "ended",
                                                  Event.track_id.is_(None) if track is None else Event.track_id == track)
            self.ends[key] = self.conn.execute(q).scalar()
        return self.ends[key]

    def _public(self, ev: dict) -> dict:
        return {"id": ev["id"], "rule": ev["rule"], "per": ev["per"], "severity": ev["severity"],
                "source": self.source_name, "source_id": self.source_id, "track": ev["track_id"], "state": ev["state"],
                "start": round(ev["start"], 3), "end": round(ev["end"], 3) if ev["state"] == "ended" else None,
                "last": round(ev["end"], 3), "start_at": _iso(ev["start_at"]),
                "end_at": _iso(ev["end_at"]) if ev["state"] == "ended" else None, "peak": round(ev["peak"], 4),
                "peak_frame": ev["peak_frame"], "peak_face": ev["peak_face"], "faces": ev["faces"]}

    def _begin(self, rule: Rule, track, t: float, at, frame: int, face, value: float) -> dict:
        key = f"{self.database_id}/{self.source_id}/{rule.name}/{frame}/{'-' if face is None else face}"
        ev = dict(id=str(uuid.uuid5(EVENT_NAMESPACE, key)), source_id=self.source_id, rule=rule.name, per=rule.per,
                  severity=rule.severity, track_id=track, state="pending", start=t, end=t, start_at=at, end_at=at,
                  start_frame=frame, end_frame=frame, peak=value, peak_frame=frame, peak_face=face, faces=1, changes=0,
                  _stored=False, _published=None, _dirty=True)
        self.touched[ev["id"]] = ev
        self._open_events(rule)[track] = ev
        return ev

    def _extend(self, rule: Rule, ev: dict, t: float, at, frame: int, face, value: float) -> None:
        ev.update(end=t, end_at=at, end_frame=frame, faces=ev["faces"] + 1, _dirty=True)
        if rule.better(value, ev["peak"]):
            ev.update(peak=value, peak_frame=frame, peak_face=face)
        self.touched[ev["id"]] = ev

    def _activate_if_held(self, rule: Rule, ev: dict, at) -> None:
        if ev["state"] == "pending" and ev["end"] - ev["start"] >= rule.hold_s - 1e-9:
            ev["state"] = "active"
            self._publish(ev, "new", None, at)

    def _step(self, rule: Rule, track, ok: bool, t: float, at, frame: int, face, value: float) -> None:
        """One face (a track rule) or frame (a crowd rule) of the rule: it holds (``ok``) or not."""
        ev = self._open_events(rule).get(track)
        if ok:
            if ev is None:
                ended = self._last_end(rule, track) if rule.cooldown_s else None
                if ended is not None and t - ended < rule.cooldown_s:
                    return
                ev = self._begin(rule, track, t, at, frame, face, value)
            else:
                self._extend(rule, ev, t, at, frame, face, value)
            self._activate_if_held(rule, ev, at)
        elif ev is not None:
            self._close(rule, ev, at)

    def _close(self, rule: Rule, ev: dict, at) -> None:
        self._open_events(rule).pop(ev["track_id"], None)
        if ev["state"] == "pending":
            if ev["_stored"]:
                self.deleted.add(ev["id"])
            self.touched.pop(ev["id"], None)
            return
        before = ev["_published"]
        ev.update(state="ended", _dirty=True)
        if rule.cooldown_s:
            self._last_end(rule, ev["track_id"])
            self.ends[(rule.name, ev["track_id"])] = ev["end"]
        self.touched[ev["id"]] = ev
        self._publish(ev, "end", before, at)

    def _publish(self, ev: dict, kind: str, before: dict | None, at) -> None:
        after = self._public(ev)
        ev["_published"] = after
        ev["_dirty"] = False
        self.pending_changes.append((ev, kind, before, after, at))

    # --- evaluation ---
    def evaluate_chunk(self, chunk_index: int) -> None:
        frames = self.conn.execute(select(Frame.frame_index, Frame.timestamp, Frame.captured_at).where(
            Frame.source_id == self.source_id, Frame.chunk_index == chunk_index).order_by(Frame.frame_index)).all()
        if not frames:
            return
        faces = self._chunk_faces(frames) if any(r.per == "track" for r in self.rules) else None
        for rule in self.rules:
            if rule.per == "track":
                self._track_rule(rule, frames, faces)
            else:
                self._crowd_rule(rule, frames)
        for rule in self.rules:  # an active event that grew in this chunk: one update
            for ev in list(self._open_events(rule).values()):
                if ev["state"] == "active" and ev["_dirty"]:
                    self._publish(ev, "update", ev["_published"], frames[-1].captured_at)

    def _chunk_faces(self, frames) -> dict | None:
        """The chunk's tracked faces in time order, each with its track's smoothed probabilities (the mean over the
        track's faces of the last ``SMOOTH_SECONDS``, as ``db.queries.smooth`` computes them for the export);
        read once per chunk for every track rule."""
        t0, t1 = frames[0].timestamp, frames[-1].timestamp
        first, last = frames[0].frame_index, frames[-1].frame_index
        quality = getattr(Face, "quality", None)
        cols = [Face.frame_index, Face.face_index, Face.timestamp, Face.captured_at, Face.track_id,
                *[getattr(Face, e) for e in EMOTIONS]]
        if quality is not None:
            cols.append(quality)
        rows = self.conn.execute(select(*cols).where(
            Face.source_id == self.source_id, Face.track_id.is_not(None),
            Face.timestamp.between(t0 - SMOOTH_SECONDS, t1)).order_by(Face.track_id, Face.timestamp,
                                                                        Face.frame_index)).all()
        if not rows:
            return None
        frame = np.array([r[0] for r in rows])
        times = np.array([r[2] for r in rows], dtype=float)
        tracks = np.array([r[4] for r in rows])
        probs = np.array([r[5:12] for r in rows], dtype=float)
        smoothed = np.empty_like(probs)
        ns = pd.to_timedelta(times, unit="s").asi8  # pandas' own nanoseconds: the same window edges as the export
        window = int(pd.Timedelta(seconds=SMOOTH_SECONDS).value)
        bounds = np.flatnonzero(np.diff(tracks)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(rows)]):  # per track, times ascending
            start = np.searchsorted(ns[lo:hi], ns[lo:hi] - window, side="right")  # the window (t - 1 s, t]
            for k in range(hi - lo):
                smoothed[lo + k] = probs[lo + start[k]:lo + k + 1].mean(axis=0)
        mine = np.flatnonzero((frame >= first) & (frame <= last))
        order = mine[np.lexsort((np.array([rows[k][1] for k in mine]), frame[mine], times[mine]))]
        return {"rows": [rows[k] for k in order], "smoothed": smoothed[order],
                "quality": np.array([rows[k][12] if quality is not None else None for k in order], dtype=object)}

    def _track_rule(self, rule: Rule, frames, faces: dict | None) -> None:
        t1 = frames[-1].timestamp
        events = self._open_events(rule)
        if faces is not None:
            values = faces["smoothed"][:, [EMOTIONS.index(e) for e in rule.emotions]].sum(axis=1)
            for k, row in enumerate(faces["rows"]):
                frame_index, face_index, t, at, track = int(row[0]), int(row[1]), float(row[2]), row[3], int(row[4])
                value = float(values[k])
                ok = rule.holds(value)
                q = faces["quality"][k]
                if ok and rule.min_quality is not None and q is not None:  # faces of unknown quality count
                    ok = q >= rule.min_quality
                self._step(rule, track, ok, t, at, frame_index, face_index, value)
        for ev in list(events.values()):  # a track not seen for longer than a gap has ended
            if t1 - ev["end"] > DEFAULT_MAX_GAP_S:
                self._close(rule, ev, frames[-1].captured_at)

    def _crowd_rule(self, rule: Rule, frames) -> None:
        t0, t1 = frames[0].timestamp, frames[-1].timestamp
        rows = self.conn.execute(select(Face.timestamp, Face.emotion).where(
            Face.source_id == self.source_id, Face.timestamp.between(t0 - rule.hold_s, t1))
            .order_by(Face.timestamp)).all()
        times = np.array([r.timestamp for r in rows], dtype=float)
        hits = np.cumsum([r.emotion in rule.emotions for r in rows], dtype=np.int64)
        for f in frames:
            t = float(f.timestamp)
            lo, hi = np.searchsorted(times, t - rule.hold_s, "right"), np.searchsorted(times, t, "right")
            n = int(hi - lo)
            matched = int((hits[hi - 1] if hi else 0) - (hits[lo - 1] if lo else 0))
            ok = t >= rule.hold_s - 1e-9 and n >= rule.min_faces and rule.holds(matched / n if n else 0.0)
            share = matched / n if n else 0.0
            self._step(rule, None, ok, t, f.captured_at, int(f.frame_index), None, share)

    def close_all(self) -> None:
        """The source has ended: so have its open events (pending ones are dropped)."""
        for rule in self.rules:
            for ev in list(self._open_events(rule).values()):
                self._close(rule, ev, ev["end_at"])

    # --- writing back ---
    def flush(self) -> list[tuple[str, str]]:
        """Write the touched events and their changes (in the order they happened); their (rule, type)."""
        conn, now = self.conn, utcnow()
        if self.deleted:
            conn.execute(delete(Event).where(Event.id.in_(self.deleted)))
        changes = []
        for ev, kind, before, after, at in self.pending_changes:
            body = {"id": ev["id"], "seq": ev["changes"], "type": kind, "rule": ev["rule"], "severity": ev["severity"],
                    "source": self.source_name, "source_id": self.source_id, "track": ev["track_id"],
                    "start": after["start"], "end": after["end"], "frame_at": _iso(at), "before": before,
                    "after": after}
            ev["changes"] += 1
            changes.append(dict(event_id=ev["id"], source_id=self.source_id, rule=ev["rule"], type=kind,
                                body=json.dumps(body, sort_keys=True), created_at=now))
        columns = [c.name for c in Event.__table__.columns if c.name not in ("id", "created_at", "updated_at")]
        for ev in self.touched.values():
            values = {c: ev[c] for c in columns}
            if ev["_stored"]:
                conn.execute(update(Event).where(Event.id == ev["id"]).values(updated_at=now, **values))
            else:
                conn.execute(insert(Event).values(id=ev["id"], created_at=now, updated_at=now, **values))
                ev["_stored"] = True
        if changes:
            conn.execute(insert(EventChange), changes)
        return [(c["rule"], c["type"]) for c in changes]
