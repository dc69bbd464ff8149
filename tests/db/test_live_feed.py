"""The live feed's order (``db.live_feed``, the HTTP API's ``/v1/live``): a follower that has seen a chunk has seen
every chunk done before it, also when two chunks of different sources land at once and the first is slow to commit
(real SQLite and PostgreSQL), so that resuming after the last event id misses nothing."""

from __future__ import annotations

import threading
import time

import numpy as np

from ferstream import db
from ferstream.db import live_feed, writes
from ferstream.emotion_model import EMOTIONS
from ferstream.results import Frame, FrameFaces


def _results(first: int) -> list[FrameFaces]:
    row = np.full(7, 0.1, np.float32)
    return [FrameFaces(Frame(first + i, (first + i) / 10, np.zeros((8, 8), np.uint8)),
                       np.array([[10, 10, 40, 40]], np.int32), row[None].copy()) for i in range(3)]


def _land(engine, sid, then=None):
    writes.record_chunk(engine, sid, 0, 0, 2, 3, 0)
    writes.write_results(engine, sid, 0, _results(0), tuple(EMOTIONS), "test", then=then)


def test_a_chunk_seen_means_every_chunk_done_before_it_is_seen(database_url):
    engine = db.connect(database_url)
    slow, quick = (writes.create_source(engine, name=n, kind="file", uri="mem") for n in ("slow", "quick"))
    landing = threading.Event()

    def linger(conn, source_id):  # the slow chunk's transaction goes on after it is marked done
        landing.set()
        time.sleep(1.5)

    first = threading.Thread(target=_land, args=(engine, slow, linger))
    first.start()
    assert landing.wait(30)
    second = threading.Thread(target=_land, args=(engine, quick))
    second.start()
    seen: list[list] = []
    while first.is_alive() or second.is_alive():
        seen.append([key for key, *_ in live_feed.done_since(engine, (0, 0, 0), None)])
        time.sleep(0.05)
    first.join()
    second.join()
    final = [key for key, *_ in live_feed.done_since(engine, (0, 0, 0), None)]
    assert [k[1] for k in final] == [slow, quick]  # done in this order
    for look in seen:  # every look saw a prefix of that order: never the quick chunk without the slow one
        assert look == final[:len(look)], (look, final)
