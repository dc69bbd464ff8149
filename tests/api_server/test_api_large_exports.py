"""A source with hundreds of thousands of faces streams as CSV and Parquet page by page: every row arrives, and the
server's memory stays far below what holding the rows would take."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import insert

from tests.api_server.conftest import make_key

pytestmark = pytest.mark.long

ROWS = 300_000


def _peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_three_hundred_thousand_faces_stream_in_bounded_memory(serve, sqlite_url):
    from ferstream import db
    from ferstream.db import writes
    from ferstream.db.models import Face

    engine = db.connect(sqlite_url)
    sid = writes.create_source(engine, name="big", kind="file", uri="/big.mp4", state="finished")
    probs = dict(angry=0.1, disgust=0.0, fear=0.1, happy=0.5, sad=0.1, surprise=0.1, neutral=0.1)
    with engine.begin() as conn:
        for start in range(0, ROWS, 50_000):
            conn.execute(insert(Face), [dict(source_id=sid, frame_index=i, face_index=0, timestamp=i / 25, x=1, y=2, w=3,
                                             h=4, emotion="happy", confidence=0.5, model_version="t", track_id=1, **probs)
                                        for i in range(start, start + 50_000)])
    key = make_key(sqlite_url, "export")
    server = serve(sqlite_url)
    with server.client(key, timeout=600) as client:
        for kind in ("csv", "parquet"):  # the libraries loaded and warm: what grows after is the rows' share
            client.get(f"/v1/sources/{sid}/faces", params={"format": kind, "limit": 10}).raise_for_status()
        before = _peak_rss_mb(server.proc.pid)
        with client.stream("GET", f"/v1/sources/{sid}/faces", params={"format": "csv"}) as response:
            lines = sum(chunk.count(b"\n") for chunk in response.iter_bytes())
        parquet = client.get(f"/v1/sources/{sid}/faces", params={"format": "parquet"}).content
    grown = _peak_rss_mb(server.proc.pid) - before
    assert lines == ROWS + 1  # the header and every row
    table = pd.read_parquet(io.BytesIO(parquet))
    assert len(table) == ROWS and table["frame_index"].is_monotonic_increasing
    # holding the rows would take several hundred MB (a dict per row); a page at a time takes a few
    assert grown < 100, f"the server's peak memory grew by {grown:.0f} MB"
