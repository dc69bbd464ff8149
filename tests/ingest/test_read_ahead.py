"""Decoding ahead in a thread keeps order, re-raises the reader's error, and stops when the consumer does."""

import threading
import time

import pytest

from ferstream.ingest.read_ahead import read_ahead


def readers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "read-ahead"}


def test_items_arrive_in_order_and_the_thread_ends():
    before = readers()  # another test's reader may still be winding down; this test answers for its own
    assert list(read_ahead(range(100), depth=3)) == list(range(100))
    assert not readers() - before


def test_an_error_in_the_reader_reaches_the_consumer_after_what_came_before():
    def frames():
        yield 1
        yield 2
        raise OSError("decoder died")

    got = []
    with pytest.raises(OSError, match="decoder died"):
        for item in read_ahead(frames()):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_the_reader():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = readers()
    items = read_ahead(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count <= 3 + 2 + 1  # bounded look-ahead, and nothing more after close
    assert not readers() - before


def test_a_reader_that_finishes_while_the_consumer_has_stopped_does_not_hang():
    """The end marker waits for room like any item: a consumer gone after the last item leaves no thread behind."""
    before = readers()
    items = read_ahead(iter(range(3)), depth=1)
    assert next(items) == 0
    time.sleep(0.3)  # the reader has put 1 and waits with 2 and then the end marker
    items.close()
    time.sleep(0.5)
    assert not readers() - before
