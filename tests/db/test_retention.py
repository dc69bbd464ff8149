"""Retention: prune deletes exactly the old frames, faces, chunks and chunk tracks (real SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import delete, func, select, update

from ferstream import db
from ferstream.db import retention, writes
from ferstream.db.models import Chunk, ChunkTrack, Face, Frame, Source
from ferstream.db.retention import DEFAULT_BATCH, PruneCounts, parse_duration, prune
from ferstream.emotion_model import EMOTIONS
from ferstream.errors import ConfigError
from ferstream.results import Frame as SampledFrame
from ferstream.results import FrameFaces
from ferstream.worker.tracker import track_chunk

FPS = 5
PER_CHUNK = 2  # 0.4 s chunks at 5 fps, as live sources send them
NOW = datetime.now(timezone.utc).replace(microsecond=0)
OLD, NEW = NOW - timedelta(days=3), NOW - timedelta(hours=1)
KEEP = timedelta(days=1)


def land(engine, sid: int, index: int, captured: datetime | None, faces: int = 2) -> None:
    """Chunk ``index``: recorded, then its results written with their tracks, as ingest and a worker do."""
    results = []
    for i in range(PER_CHUNK):
        n = index * PER_CHUNK + i
        at = captured + timedelta(seconds=i / FPS) if captured else None
        boxes = np.array([[60 + 120 * k + n, 80, 64, 64] for k in range(faces)], dtype=np.int32).reshape(-1, 4)
        probs = np.full((faces, 7), 0.1, np.float32)
        probs[:, 3] = 0.4
        results.append(FrameFaces(SampledFrame(n, n / FPS, np.zeros((8, 8), np.uint8), captured_at=at), boxes, probs))
    tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                         [r.frame.timestamp for r in results])
    writes.record_chunk(engine, sid, index, index * PER_CHUNK, index * PER_CHUNK + PER_CHUNK - 1, PER_CHUNK, 0)
    writes.write_results(engine, sid, index, results, EMOTIONS, "test", tracks)


def backdate(engine, sid: int, chunks: range, when: datetime) -> None:
    """The chunks were queued, analysed and done at ``when`` (their frames' analysed_at too)."""
    with engine.begin() as conn:
        conn.execute(update(Chunk).where(Chunk.source_id == sid, Chunk.chunk_index.in_(list(chunks)))
                     .values(queued_at=when, done_at=when))
        conn.execute(update(Frame).where(Frame.source_id == sid, Frame.chunk_index.in_(list(chunks)))
                     .values(analysed_at=when))


def record_only(engine, sid: int, index: int, status: str, when: datetime) -> None:
    """A chunk with no frames: still queued, retrying or failed since ``when``."""
    writes.record_chunk(engine, sid, index, index * PER_CHUNK, index * PER_CHUNK + PER_CHUNK - 1, PER_CHUNK, 0)
    with engine.begin() as conn:
        conn.execute(update(Chunk).where(Chunk.source_id == sid, Chunk.chunk_index == index)
                     .values(status=status, queued_at=when))


def rows(engine) -> dict[str, set[tuple]]:
    """The key of every row, per table."""
    with engine.connect() as conn:
        return {
            "frames": set(conn.execute(select(Frame.source_id, Frame.frame_index)).all()),
            "faces": set(conn.execute(select(Face.source_id, Face.frame_index, Face.face_index)).all()),
            "chunks": set(conn.execute(select(Chunk.source_id, Chunk.chunk_index)).all()),
            "chunk_tracks": set(conn.execute(
                select(ChunkTrack.source_id, ChunkTrack.chunk_index, ChunkTrack.local_id)).all()),
            "sources": set(conn.execute(select(Source.id)).all()),
        }


def of_chunks(table: set[tuple], sid: int, chunks, column: str) -> set[tuple]:
    """The keys of ``table`` that belong to these chunks of source ``sid``."""
    chunks = set(chunks)
    if column == "frame":
        return {k for k in table if k[0] == sid and k[1] // PER_CHUNK in chunks}
    return {k for k in table if k[0] == sid and k[1] in chunks}


def consistent(engine) -> None:
    """Every face has its frame, and every frame as many faces as its face_count says."""
    with engine.connect() as conn:
        per_frame = dict(((s, f), n) for s, f, n in conn.execute(
            select(Face.source_id, Face.frame_index, func.count()).group_by(Face.source_id, Face.frame_index)).all())
        frames = {(s, f): n for s, f, n in conn.execute(
            select(Frame.source_id, Frame.frame_index, Frame.face_count)).all()}
    assert set(per_frame) <= set(frames), "faces left without their frame"
    assert all(per_frame.get(k, 0) == n for k, n in frames.items()), "a frame lost some of its faces"


@pytest.fixture
def two_sources(database_url):
    """A live camera (chunks 0-4 three days old, 5-9 an hour old) and a file source (its age: analysed_at)."""
    engine = db.connect(database_url)
    live = writes.create_source(engine, name="camera", kind="live", uri="rtsp://cam")
    for index in range(10):
        land(engine, live, index, (OLD if index < 5 else NEW) + timedelta(seconds=index * PER_CHUNK / FPS))
    backdate(engine, live, range(0, 5), OLD + timedelta(seconds=30))
    record_only(engine, live, 10, "queued", OLD)  # a chunk lost in a queue for three days: never deleted
    record_only(engine, live, 11, "retrying", OLD)
    record_only(engine, live, 12, "failed", OLD)  # failed long ago, no frames: deleted
    file = writes.create_source(engine, name="clip.mp4", kind="file", uri="/videos/clip.mp4")
    for index in range(6):
        land(engine, file, index, None, faces=1 + index % 3)
    backdate(engine, file, range(0, 3), OLD)
    return engine, live, file


def expected_after(before: dict[str, set[tuple]], gone: dict[int, set[int]]) -> dict[str, set[tuple]]:
    """``before`` less the rows of the chunks in ``gone`` (source id -> chunk indexes)."""
    after = {table: set(keys) for table, keys in before.items()}
    for sid, chunks in gone.items():
        for table in ("frames", "faces"):
            after[table] -= of_chunks(before[table], sid, chunks, "frame")
        for table in ("chunks", "chunk_tracks"):
            after[table] -= of_chunks(before[table], sid, chunks, "chunk")
    return after


@pytest.mark.parametrize("batch", [1, 3, DEFAULT_BATCH])
def test_prune_deletes_exactly_the_old_rows_whatever_the_batch(two_sources, batch):
    engine, live, file = two_sources
    before = rows(engine)
    counts = prune(engine, KEEP, batch=batch, now=NOW)
    after = rows(engine)
    gone = {live: set(range(5)) | {12}, file: {0, 1, 2}}
    assert after == expected_after(before, gone)
    assert after["sources"] == before["sources"] == {(live,), (file,)}
    assert counts == PruneCounts(frames=len(before["frames"]) - len(after["frames"]),
                                 faces=len(before["faces"]) - len(after["faces"]),
                                 chunks=len(before["chunks"]) - len(after["chunks"]),
                                 chunk_tracks=len(before["chunk_tracks"]) - len(after["chunk_tracks"]))
    assert counts == PruneCounts(frames=(5 + 3) * PER_CHUNK, faces=PER_CHUNK * (5 * 2 + 1 + 2 + 3),
                                 chunks=5 + 1 + 3, chunk_tracks=5 * 2 + 1 + 2 + 3)
    consistent(engine)
    assert prune(engine, KEEP, batch=batch, now=NOW) == PruneCounts()  # nothing old is left


PROGRESS = ["status", "frames_analysed", "frames_no_face", "faces", "chunks_done", "chunks_failed", "frames_failed"]


@pytest.mark.parametrize("batch", [1, DEFAULT_BATCH])
def test_what_a_source_has_done_stays_true_after_any_prune(database_url, batch):
    """Issue 32: a stopped source whose chunks are all done stayed "done" only while its chunk rows did."""
    from ferstream.db.queries import progress, sources

    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="lobby", kind="live", uri="rtsp://cam")
    for index in range(6):
        land(engine, sid, index, OLD + timedelta(seconds=index), faces=index % 3)  # some frames without a face
    record_only(engine, sid, 6, "failed", OLD)
    writes.update_source(engine, sid, state="stopped")
    backdate(engine, sid, range(6), OLD)
    before = progress(engine, sid)
    assert before["status"] == "failed" and before["frames_failed"] == PER_CHUNK and before["frames_no_face"] > 0
    with engine.begin() as conn:  # the failed chunk is retried and done: the source is done
        conn.execute(update(Chunk).where(Chunk.source_id == sid, Chunk.chunk_index == 6).values(status="done"))
    before = progress(engine, sid)
    assert before["status"] == "done"

    half = prune(engine, KEEP, batch=batch, now=OLD + timedelta(days=1, seconds=3))  # the older half
    assert 0 < half.frames < before["frames_analysed"]
    assert {k: progress(engine, sid)[k] for k in PROGRESS} == {k: before[k] for k in PROGRESS}
    everything = prune(engine, KEEP, batch=batch, now=NOW)
    assert half.frames + everything.frames == before["frames_analysed"] and rows(engine)["chunks"] == set()
    after = sources(engine).set_index("id").loc[sid]
    assert {k: after[k] for k in PROGRESS} == {k: before[k] for k in PROGRESS}
    assert after["pruned_frames"] == before["frames_analysed"]


def test_source_id_limits_the_prune_to_one_source(two_sources):
    engine, live, file = two_sources
    before = rows(engine)
    counts = prune(engine, KEEP, source_id=file, now=NOW)
    assert rows(engine) == expected_after(before, {file: {0, 1, 2}})
    assert counts.chunks == 3 and counts.frames == 3 * PER_CHUNK
    assert prune(engine, KEEP, source_id=live, now=NOW).chunks == 6
    assert rows(engine) == expected_after(before, {file: {0, 1, 2}, live: set(range(5)) | {12}})


def test_a_chunk_done_recently_stays_until_it_is_old_itself(database_url):
    """A recording with a wall clock analysed today: its frames are old, its chunk rows are not (yet)."""
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="backfill", kind="live", uri="rtsp://cam")
    for index in range(4):
        land(engine, sid, index, OLD + timedelta(seconds=index))
    counts = prune(engine, KEEP, now=NOW)
    assert (counts.frames, counts.chunks, counts.chunk_tracks) == (4 * PER_CHUNK, 0, 0)
    assert len(rows(engine)["chunks"]) == 4 and len(rows(engine)["chunk_tracks"]) == 8
    later = prune(engine, KEEP, batch=3, now=NOW + timedelta(days=2))  # the chunks' own age passes the cutoff
    assert (later.frames, later.chunks, later.chunk_tracks) == (0, 4, 8)
    assert rows(engine)["chunks"] == set() and rows(engine)["sources"] == {(sid,)}


def test_a_live_writer_loses_nothing_while_prune_runs_in_small_batches(database_url):
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="camera", kind="live", uri="rtsp://cam")
    old_chunks = range(40)
    for index in old_chunks:
        land(engine, sid, index, OLD + timedelta(seconds=index * PER_CHUNK / FPS), faces=3)
    backdate(engine, sid, old_chunks, OLD + timedelta(minutes=1))
    new_chunks = range(100, 130)
    errors: list[BaseException] = []
    started = threading.Event()

    def write_live() -> None:
        try:
            for index in new_chunks:
                land(engine, sid, index, datetime.now(timezone.utc), faces=3)
                started.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            started.set()

    writer = threading.Thread(target=write_live)
    writer.start()
    started.wait(30)
    runs = []
    while writer.is_alive():  # prune again and again, two frames per transaction, while the camera writes
        runs.append(prune(engine, KEEP, batch=2, now=NOW))
    writer.join()
    assert not errors, errors
    runs.append(prune(engine, KEEP, batch=2, now=NOW))
    after = rows(engine)
    assert after["chunks"] == {(sid, i) for i in new_chunks}
    assert after["frames"] == {(sid, i * PER_CHUNK + k) for i in new_chunks for k in range(PER_CHUNK)}
    assert len(after["faces"]) == len(new_chunks) * PER_CHUNK * 3
    assert len(after["chunk_tracks"]) == len(new_chunks) * 3
    assert sum(c.frames for c in runs) == len(old_chunks) * PER_CHUNK
    assert sum(c.chunks for c in runs) == len(old_chunks)
    consistent(engine)


def test_prune_beside_retried_old_chunks_leaves_no_face_without_its_frame(database_url):
    """Workers retrying old chunks while prune runs: each frame goes with all its faces or stays with all of them."""
    engine = db.connect(database_url)
    sid = writes.create_source(engine, name="camera", kind="live", uri="rtsp://cam")
    for index in range(30):
        land(engine, sid, index, OLD + timedelta(seconds=index), faces=2)
    errors: list[BaseException] = []

    def retry_all() -> None:
        try:
            for index in range(30):
                land(engine, sid, index, OLD + timedelta(seconds=index), faces=2)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    writer = threading.Thread(target=retry_all)
    writer.start()
    while writer.is_alive():
        prune(engine, KEEP, batch=3, now=NOW)
    writer.join()
    assert not errors, errors
    consistent(engine)
    prune(engine, KEEP, now=NOW)
    assert rows(engine)["frames"] == set() and rows(engine)["faces"] == set()


def test_prune_gives_way_to_a_writer_that_holds_a_lock(postgres_url, monkeypatch, caplog):
    """A worker mid-transaction on old rows: prune waits a moment, steps back (holding nothing) and tries again."""
    engine = db.connect(postgres_url)
    sid = writes.create_source(engine, name="camera", kind="live", uri="rtsp://cam")
    for index in range(3):
        land(engine, sid, index, OLD + timedelta(seconds=index))
    monkeypatch.setattr(retention, "LOCK_TIMEOUT_MS", 100)
    done: list[PruneCounts] = []
    with engine.connect() as worker:
        worker.exec_driver_sql("SET LOCAL statement_timeout = 1000")  # the worker must never wait on prune
        worker.execute(delete(Face).where(Face.source_id == sid, Face.frame_index == 0))  # write_results' order
        pruning = threading.Thread(target=lambda: done.append(prune(engine, KEEP, batch=2, now=NOW)))
        with caplog.at_level(logging.INFO, logger="ferstream.db.retention"):
            pruning.start()
            time.sleep(0.4)
            worker.execute(delete(Frame).where(Frame.source_id == sid, Frame.frame_index.in_([0, 1, 2, 3])))
            assert pruning.is_alive()
            worker.rollback()
            pruning.join(30)
    assert "gave way to a writer" in caplog.text
    assert done and done[0].frames == 3 * PER_CHUNK and rows(engine)["frames"] == set()


def test_prune_refuses_a_period_or_batch_that_is_not_positive(sqlite_url):
    engine = db.connect(sqlite_url)
    with pytest.raises(ConfigError, match="positive"):
        prune(engine, timedelta(0))
    with pytest.raises(ConfigError, match="batch"):
        prune(engine, KEEP, batch=0)


@pytest.mark.parametrize("text, expected", [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
    ("45s", timedelta(seconds=45)), ("2w", timedelta(weeks=2)), ("1d12h", timedelta(days=1, hours=12)),
    (" 1h 30m ", timedelta(hours=1, minutes=30)), ("0d6h", timedelta(hours=6)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   ", "empty"), ("0d", "zero"), ("0h0m", "zero"), ("-5d", "negative"), ("5y", "unknown unit 'y'"),
    ("3M", "unknown unit 'M'"), ("30", "not a duration"), ("1.5h", "not a duration"), ("d", "not a duration"),
    ("12h-", "not a duration"), ("99999999999999w", "too long"),
])
def test_parse_duration_names_what_is_wrong(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_duration(text)
