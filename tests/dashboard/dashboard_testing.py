"""Reading the dashboard as a test: the app under AppTest, its charts' data, and live-stream rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from ferstream import db
from ferstream.db import writes
from ferstream.emotion_model import EMOTIONS
from ferstream.results import Frame, FrameFaces

APP = Path(__file__).resolve().parents[2] / "ferstream" / "dashboard" / "app.py"
TIMELINE = "Share of faces per emotion over time"
DISTRIBUTION = "Share of faces per emotion"


def open_app(timeout: float = 60) -> AppTest:
    """The dashboard, run once, with the environment the test set (DATABASE_URL, REDIS_URL)."""
    clear_caches()
    return AppTest.from_file(str(APP), default_timeout=timeout).run()


def clear_caches() -> None:
    """Forget cached query results, as their TTL would a moment later."""
    import streamlit as st

    st.cache_data.clear()


def chart_data(at: AppTest, alt_text: str) -> pd.DataFrame | None:
    """The data behind the chart named ``alt_text`` (its Arrow datasets), or ``None`` when it is not shown."""
    charts = [c for c in at.get("vega_lite_chart") if c.proto.alt == alt_text]
    if not charts:
        return None
    (chart,) = charts
    blobs = [d.data.data for d in chart.proto.datasets] or [chart.proto.data.data]
    return pd.concat([pa.ipc.open_stream(b).read_all().to_pandas() for b in blobs], ignore_index=True)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


def widget(widgets, label: str):
    (found,) = [w for w in widgets if w.label == label]
    return found


def write_live_stream(url: str, name: str, start: datetime, frames: list[list[str]], *, step_s: float = 1.0,
                      running: bool = False) -> int:
    """A live source whose frame ``i`` was captured at ``start + i * step_s`` and shows faces of these emotions.

    Written through the same db.writes calls that ingest and the workers make.
    """
    engine = db.connect(url)
    source_id = writes.create_source(engine, name=name, kind="live", uri=f"rtsp://camera.test/{name}", sample_fps=1 / step_s)
    append_live_frames(url, source_id, start, frames, step_s=step_s, first=0)
    if not running:
        writes.update_source(engine, source_id, state="finished")
    else:  # as a watch records a live stream: its state, and when its newest frame came
        writes.update_source(engine, source_id, state="running", last_frame_at=datetime.now(timezone.utc))
    return source_id


def append_live_frames(url: str, source_id: int, start: datetime, frames: list[list[str]], *, step_s: float = 1.0,
                       first: int = 0) -> None:
    """One more chunk of a live source: frames ``first`` onwards."""
    engine = db.connect(url)
    results = []
    for i, emotions in enumerate(frames, start=first):
        t = i * step_s
        probs = np.full((len(emotions), len(EMOTIONS)), 0.05, np.float32)
        for j, e in enumerate(emotions):
            probs[j, EMOTIONS.index(e)] = 0.7
        boxes = np.array([[10 + 60 * j, 10, 50, 50] for j in range(len(emotions))], np.int32).reshape(-1, 4)
        frame = Frame(i, t, np.zeros((8, 8), np.uint8), captured_at=start + timedelta(seconds=t))
        results.append(FrameFaces(frame, boxes, probs))
    chunk = first  # one chunk per call, numbered by its first frame
    writes.record_chunk(engine, source_id, chunk, first, first + len(frames) - 1, len(frames), first + len(frames))
    writes.write_results(engine, source_id, chunk, results, tuple(EMOTIONS), "test")
