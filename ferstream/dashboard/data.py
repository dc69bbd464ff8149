"""The app's cached reads: one read-only engine per database URL, query results for a short while.

Cached functions take plain values (URL, a tuple of source ids, floats), so
Streamlit can hash them; the TTL keeps a running source's results fresh.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from ferstream import db
from ferstream.dashboard import queries
from ferstream.dashboard.defaults import DEFAULT_CACHE_TTL
from ferstream.errors import FerstreamError


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """The dashboard never writes through this engine (the upload path uses its own)."""
    return db.connect(url, read_only=True)


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def sources(url: str) -> pd.DataFrame:
    return queries.source_table(engine(url))


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def time_extent(url: str, source_ids: tuple[int, ...], axis: str) -> tuple[float, float] | None:
    return queries.time_extent(engine(url), source_ids, axis)


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def emotion_timeline(url: str, source_ids: tuple[int, ...], axis: str, time_range: queries.TimeRange,
                     bucket_s: float, track_id: int | None = None, include_uncertain: bool = False) -> pd.DataFrame:
    return queries.emotion_timeline(engine(url), source_ids, axis, time_range, bucket_s, track_id, include_uncertain)


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False, max_entries=32)
def annotated_frame(url: str, source_id: int, seconds: float):
    """The annotated frame (RGB) at ``seconds`` and its index, read from the original file now; or the reason it
    cannot be shown."""
    import cv2

    from ferstream.annotate import annotated_frame as read
    from ferstream.errors import FerstreamError

    try:
        frame, index = read(engine(url), source_id, seconds)
    except FerstreamError as exc:
        return None, str(exc)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), index


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def people(url: str, source_id: int, include_uncertain: bool = False) -> pd.DataFrame:
    return queries.people(engine(url), source_id, include_uncertain)


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def emotion_totals(url: str, source_ids: tuple[int, ...], axis: str, time_range: queries.TimeRange,
                   include_uncertain: bool = False) -> pd.DataFrame:
    return queries.emotion_totals(engine(url), source_ids, axis, time_range, include_uncertain)


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def frame_totals(url: str, source_ids: tuple[int, ...], axis: str, time_range: queries.TimeRange) -> pd.DataFrame:
    return queries.frame_totals(engine(url), source_ids, axis, time_range)


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def people_in_view(url: str, source_id: int) -> pd.DataFrame:
    return queries.people_in_view(engine(url), source_id)


@st.cache_resource(show_spinner=False)
def redis(url: str):
    """The Redis the workers put their live pictures in (``ferstream.previews``)."""
    from ferstream.ingest.queue import connect_redis

    return connect_redis(url)


def live_picture(redis_url: str, database_url: str, source_id: int, fps: float) -> tuple[bytes | None, str | None]:
    """The source's newest live picture (JPEG), the source watched from now on at ``fps`` pictures a second; or why
    there is none. Read fresh at each refresh (never cached: the newest picture only)."""
    from redis.exceptions import RedisError

    from ferstream import previews
    from ferstream.db.identity import database_id

    try:
        client = redis(redis_url)
        keys = previews.preview_keys(database_id(engine(database_url)), source_id)
        previews.watch(client, keys, fps)
        found = previews.latest(client, keys)
        if found is not None:
            return found.last.jpeg, None
        if previews.turned_off(client, keys):
            return None, "live pictures are turned off for this camera (--preview off)"
        return None, "waiting for a picture from the workers…"
    except (RedisError, FerstreamError) as exc:
        return None, f"no live picture: {exc}"
