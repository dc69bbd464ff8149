"""The tables: sources, their chunks, analysed frames and the faces found."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ferstream.emotion_model import EMOTIONS


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class DatabaseIdentity(Base):
    """One row: this database's id, written when its schema is created (or upgraded to revision 0003).

    Queued work names the database it belongs to, so a worker never writes results into another.
    """

    __tablename__ = "database_identity"

    database_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4, 32 hex digits
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Source(Base):
    """A video file or live stream submitted for analysis."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # file | live
    uri: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    sample_fps: Mapped[float | None] = mapped_column(Float)
    # ingest's side. Files: queued -> reading -> finished | failed | stopped. Live sources (ferstream.ingest.states):
    # starting -> running <-> reconnecting | stalled -> stopped | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    last_frame_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # live: the newest frame read
    error: Mapped[str | None] = mapped_column(Text)
    frames_read: Mapped[int] = mapped_column(Integer, default=0)  # decoded by ingest
    frames_queued: Mapped[int] = mapped_column(Integer, default=0)  # sampled and sent to the workers
    frames_dropped: Mapped[int] = mapped_column(Integer, default=0)  # thinned by backpressure (live)
    chunks_queued: Mapped[int] = mapped_column(Integer, default=0)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    next_track_id: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # face tracks: the next id
    # what retention (db/retention.py) deleted, counted as it deletes: progress = rows left + rows pruned
    pruned_frames: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pruned_frames_no_face: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pruned_faces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pruned_chunks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pruned_chunks_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pruned_frames_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Chunk(Base):
    """One work unit (one RQ job): a run of sampled frames of a source."""

    __tablename__ = "chunks"
    # retention (db/retention.py) finds a source's old chunks by it: a camera queues 9,000 chunks an hour
    __table_args__ = (Index("ix_chunks_source_queued", "source_id", "queued_at"),
                      Index("ix_chunks_done_at", "done_at"))  # the HTTP API's live feed: chunks as they are done

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    n_frames: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | done | failed
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Frame(Base):
    """An analysed frame: face_count 0 means analysed and no face, not 'not analysed'."""

    __tablename__ = "frames"
    __table_args__ = (Index("ix_frames_source_captured", "source_id", "captured_at"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    frame_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_index: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[float] = mapped_column(Float)  # media time, seconds
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # wall clock, live sources
    face_count: Mapped[int] = mapped_column(Integer)
    analysed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Face(Base):
    """One face in one frame: its box, the seven probabilities, the label and confidence, its quality and whether its
    emotion is uncertain."""

    __tablename__ = "faces"
    __table_args__ = (
        UniqueConstraint("source_id", "frame_index", "face_index", name="uq_faces_frame_face"),
        Index("ix_faces_source_time", "source_id", "timestamp"),
        Index("ix_faces_source_captured", "source_id", "captured_at"),  # live sources: wall-clock windows
        Index("ix_faces_source_track", "source_id", "track_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    frame_index: Mapped[int] = mapped_column(Integer)
    face_index: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[float] = mapped_column(Float)
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)
    h: Mapped[int] = mapped_column(Integer)
    angry: Mapped[float] = mapped_column(Float)
    disgust: Mapped[float] = mapped_column(Float)
    fear: Mapped[float] = mapped_column(Float)
    happy: Mapped[float] = mapped_column(Float)
    sad: Mapped[float] = mapped_column(Float)
    surprise: Mapped[float] = mapped_column(Float)
    neutral: Mapped[float] = mapped_column(Float)
    emotion: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(64))
    face_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)  # only with --store-faces
    track_id: Mapped[int | None] = mapped_column(Integer)  # the person's track within the source (None: before tracks)
    quality: Mapped[float | None] = mapped_column(Float)  # 0..1 (pose, sharpness, light, size); None: not measured
    # kept, but its emotion is not to be trusted: left out of distributions, summaries and track smoothing by default
    uncertain: Mapped[bool] = mapped_column(Boolean(create_constraint=False), default=False, server_default=false())


class ChunkTrack(Base):
    """A chunk's local face track: its source-level id, and its first and last sightings (to link neighbours)."""

    __tablename__ = "chunk_tracks"
    __table_args__ = (Index("ix_chunk_tracks_source_track", "source_id", "track_id"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(Integer)
    first_frame: Mapped[int] = mapped_column(Integer)
    first_time: Mapped[float] = mapped_column(Float)
    first_x: Mapped[float] = mapped_column(Float)
    first_y: Mapped[float] = mapped_column(Float)
    first_w: Mapped[float] = mapped_column(Float)
    first_h: Mapped[float] = mapped_column(Float)
    last_frame: Mapped[int] = mapped_column(Integer)
    last_time: Mapped[float] = mapped_column(Float)
    last_x: Mapped[float] = mapped_column(Float)
    last_y: Mapped[float] = mapped_column(Float)
    last_w: Mapped[float] = mapped_column(Float)
    last_h: Mapped[float] = mapped_column(Float)


PROBABILITY_COLUMNS = tuple(EMOTIONS)
assert all(hasattr(Face, c) for c in PROBABILITY_COLUMNS)


class EventRule(Base):
    """A rule of ``ferstream.events`` bound to a source by the run that watches or analyses it (its spec as JSON):
    the workers that land the source's chunks evaluate it."""

    __tablename__ = "event_rules"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)  # the rule as JSON (ferstream.events.rules.Rule.to_json)


class EventProgress(Base):
    """How far a source's rules are evaluated: every chunk up to ``chunk_index`` (in order, whatever order they
    landed in); the evaluator advances it in the transaction of the chunk that lets it."""

    __tablename__ = "event_progress"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    chunk_index: Mapped[int] = mapped_column(Integer, default=-1)
    closed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 1: the source ended, its events too


class Event(Base):
    """An event: a rule held by a person (track) or a source's crowd. ``state``: pending (held, not yet for long
    enough: never published), active, ended."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_source_rule_state", "source_id", "rule", "state"),
        Index("ix_events_start_at", "start_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid5 of database, source, rule, first face
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(128))
    per: Mapped[str] = mapped_column(String(8))  # track | source
    severity: Mapped[str] = mapped_column(String(16))  # alert | detection
    track_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))  # pending | active | ended
    start: Mapped[float] = mapped_column(Float)  # media seconds
    end: Mapped[float] = mapped_column(Float)
    start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # wall clock (live sources)
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    peak: Mapped[float] = mapped_column(Float)  # the highest value (the lowest, for a `below` crowd rule)
    peak_frame: Mapped[int] = mapped_column(Integer)
    peak_face: Mapped[int | None] = mapped_column(Integer)  # face_index in peak_frame (track rules)
    faces: Mapped[int] = mapped_column(Integer)  # faces (per track) or frames (per source) that made it
    changes: Mapped[int] = mapped_column(Integer, default=0)  # changes published (the next one's seq)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EventChange(Base):
    """The change feed (the outbox): one row per new, update or end of an event, its JSON body as delivered."""

    __tablename__ = "event_changes"
    __table_args__ = (Index("ix_event_changes_rule", "rule", "id"), Index("ix_event_changes_event", "event_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(8))  # new | update | end
    body: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EventDelivery(Base):
    """One change's delivery to one endpoint (a webhook URL or an MQTT broker, named with its password masked):
    delivered, or still being tried (attempts, the last error, when next)."""

    __tablename__ = "event_deliveries"

    change_id: Mapped[int] = mapped_column(ForeignKey("event_changes.id", ondelete="CASCADE"), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A key of ``ferstream serve``'s HTTP API: only its SHA-256 is kept; ``prefix`` (its first characters) names it
    in lists. A revoked key stays listed, refused."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole key
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CameraRow(Base):
    """A live camera of ``ferstream watch --config``, as the HTTP API and ``ferstream cameras`` manage it at run time.

    A running watch takes its cameras from these rows (the cameras file's are written in when the watch starts);
    ``origin`` says where a camera came from, ``edited`` that the API changed it since (the file then no longer
    overwrites it), ``removed`` that the API removed it (kept as a mark, so a restart does not bring a file's camera
    back). ``url`` holds the stream's credentials, if any: it is shown masked, never as it is."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(Text)
    sample_fps: Mapped[float] = mapped_column(Float)
    detector: Mapped[str | None] = mapped_column(String(16))
    min_face: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    retention: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(8))  # file | api | cli (``ferstream cameras add``)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
