"""Running the real CLI and real workers from tests, and reading the database they wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from ferstream import db
from ferstream.db.models import Face, Frame

CLI = [sys.executable, "-m", "ferstream.cli"]
REPO = Path(__file__).resolve().parent.parent


def ferstream(*args: str, timeout: float = 300, env: dict | None = None, check: bool = True,
              cwd=None) -> subprocess.CompletedProcess:
    """Run ``ferstream ARGS`` as a user would (in the folder ``cwd``); returns the completed process."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}  # only where a test passes them
    full_env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO), **(env or {}))
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"ferstream {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def burst_worker(redis_url: str, database_url: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """A real RQ worker process in burst mode: it drains the queue and exits."""
    return ferstream("worker", "--burst", "--redis", redis_url, "--database", database_url, timeout=timeout)


def counts(database_url: str, source_id: int) -> dict:
    engine = db.connect(database_url)
    with engine.connect() as conn:
        frames = conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id == source_id)).scalar()
        no_face = conn.execute(select(func.count()).select_from(Frame).where(Frame.source_id == source_id, Frame.face_count == 0)).scalar()
        faces = conn.execute(select(func.count()).select_from(Face).where(Face.source_id == source_id)).scalar()
        # the labels of the faces counted in shares (uncertain faces are left out of them by default)
        labels = dict(conn.execute(select(Face.emotion, func.count()).where(Face.source_id == source_id,
                                                                           Face.uncertain.is_(False))
                                   .group_by(Face.emotion)).all())
        uncertain = conn.execute(select(func.count()).where(Face.source_id == source_id, Face.uncertain)).scalar()
        distinct_frames = conn.execute(select(func.count(func.distinct(Frame.frame_index))).where(Frame.source_id == source_id)).scalar()
        sizes = conn.execute(select(func.count()).where(Face.source_id == source_id).group_by(Face.track_id)).scalars().all()
    # people: tracks of 3 faces or more (a one-frame false detection is a track of its own, not a person)
    return {"frames": frames, "distinct_frames": distinct_frames, "no_face": no_face, "faces": faces, "labels": labels,
            "uncertain": uncertain,
            "tracks": len(sizes), "people": sum(1 for n in sizes if n >= 3)}


def start_worker(redis_url: str, database_url: str, name: str, log=None) -> subprocess.Popen:
    """A long-running ``ferstream worker`` in its own process group (so the tests can signal all of it)."""
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen([*CLI, "worker", "--redis", redis_url, "--database", database_url, "--name", name],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process_group(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM a process started with ``start_new_session`` and wait for it, if it still runs."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)


def scrape_metrics(port: int, text: list | None = None) -> dict[tuple, float]:
    """The samples of a real /metrics endpoint on loopback: (name, sorted labels) -> value; the page as scraped is
    appended to ``text`` when given. The page is checked as strictly as Prometheus reads it (``check_exposition``)."""
    import urllib.request

    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    if text is not None:
        text.append(page)
    return check_exposition(page)


def check_exposition(page: str) -> dict[tuple, float]:
    """The samples of a Prometheus text page, after checking what prometheus-client's lenient parser lets through
    and Prometheus (promtool) refuses: one HELP and one TYPE per metric family, each family in one block, and each
    series (name and label set) once."""
    from collections import Counter

    from prometheus_client.parser import text_string_to_metric_families

    for kind in ("HELP", "TYPE"):
        names = Counter(line.split()[2] for line in page.splitlines() if line.startswith(f"# {kind} "))
        repeated = sorted(n for n, k in names.items() if k > 1)
        assert not repeated, f"# {kind} repeated for {repeated} in\n{page}"
    families = [f.name for f in text_string_to_metric_families(page)]
    assert len(families) == len(set(families)), f"a metric family in several blocks: {families}"
    series = Counter((s.name, tuple(sorted(s.labels.items())))
                     for family in text_string_to_metric_families(page) for s in family.samples)
    repeated = sorted(k for k, n in series.items() if n > 1)
    assert not repeated, f"series repeated: {repeated}"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(page) for s in family.samples}


def metric(samples: dict, name: str, default: float | None = None, **labels) -> float | None:
    """One sample of ``scrape_metrics``; ``default`` when absent (a labelled counter shows no sample before its
    first count)."""
    return samples.get((name, tuple(sorted(labels.items()))), default)


def wait_until(predicate, timeout: float, poll: float = 0.05):
    """The first truthy value of ``predicate()``, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"condition not met within {timeout}s")


def queue_of(database_url: str) -> str:
    """The RQ queue of this database's work (each database has its own)."""
    from ferstream.db.identity import database_id
    from ferstream.settings import DEFAULT_QUEUE
    from ferstream.ingest.queue import queue_name

    return queue_name(DEFAULT_QUEUE, database_id(db.connect(database_url)))


def chunk_key_of(database_url: str, source_id: int, chunk_index: int) -> str:
    """The Redis key of a queued chunk's frames."""
    from ferstream.db.identity import database_id
    from ferstream.ingest.queue import chunk_key

    return chunk_key(database_id(db.connect(database_url)), source_id, chunk_index)


def astronaut_chunk(source_id: int, index: int = 0, n: int = 5):
    """A chunk of ``n`` real frames panning over skimage's astronaut photo, ready for a sink or the analyzer."""
    from ferstream.demo import astronaut_frames
    from ferstream.results import Chunk, Frame as FrameData
    from ferstream.ingest.video import to_analysis_frame

    return Chunk(source_id, index, [FrameData(i, i / 15, to_analysis_frame(f, 1.0))
                                    for i, f in enumerate(astronaut_frames(n))])


#: ``write_flagged_source``'s faces: two people over 10 frames at 10 fps. The left one is happy and certain in frames
#: 0-3, then sad but uncertain (frames 4-9); the right one is neutral and uncertain throughout.
FLAGGED_FPS, FLAGGED_FRAMES, FLAGGED_CERTAIN = 10, 10, 4


def write_flagged_source(database_url: str, name: str = "flagged") -> int:
    """A file source whose faces carry quality scores and ``uncertain`` flags, written through ``db.writes`` as the
    worker writes them (one chunk, with its face tracks); its id."""
    import numpy as np

    from ferstream.db import writes
    from ferstream.emotion_model import EMOTIONS
    from ferstream.results import Frame as FrameData, FrameFaces
    from ferstream.worker.tracker import track_chunk

    engine = db.connect(database_url)
    sid = writes.create_source(engine, name=name, kind="file", uri=f"/videos/{name}.mp4",
                               duration_s=FLAGGED_FRAMES / FLAGGED_FPS, fps=FLAGGED_FPS, sample_fps=FLAGGED_FPS)
    results = []
    for n in range(FLAGGED_FRAMES):
        certain = n < FLAGGED_CERTAIN
        probs = np.full((2, len(EMOTIONS)), 0.05, np.float32)
        probs[0, EMOTIONS.index("happy" if certain else "sad")] = 0.7
        probs[1, EMOTIONS.index("neutral")] = 0.7
        quality = np.array([np.nan if n == 0 else (0.8 if certain else 0.2), 0.1], np.float32)  # frame 0: not measured
        results.append(FrameFaces(FrameData(n, n / FLAGGED_FPS, np.zeros((8, 8), np.uint8)),
                                  np.array([[100, 100, 80, 80], [400, 100, 80, 80]], np.int32), probs,
                                  quality=quality, uncertain=np.array([not certain, True])))
    tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                         [r.frame.timestamp for r in results])
    writes.record_chunk(engine, sid, 0, 0, FLAGGED_FRAMES - 1, FLAGGED_FRAMES, FLAGGED_FRAMES)
    writes.write_results(engine, sid, 0, results, tuple(EMOTIONS), "test", tracks)
    writes.update_source(engine, sid, state="finished")
    return sid
