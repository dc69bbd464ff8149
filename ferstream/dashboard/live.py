"""The Live page: every running camera's live picture (the workers' analysed frames with the faces drawn, read from
Redis: ``ferstream.previews``), the people in view with their current smoothed emotion and the camera's last events;
one camera opened large beside its emotions over the last minutes. Refreshes itself (``st.fragment``)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from ferstream.dashboard import data, events
from ferstream.dashboard.buckets import bucket_label
from ferstream.dashboard.charts import timeline_chart
from ferstream.dashboard.defaults import (DEFAULT_LARGE_FPS, DEFAULT_LIVE_CHART_MINUTES, DEFAULT_LIVE_REFRESH_SECONDS,
                                          DEFAULT_TILE_FPS)
from ferstream.dashboard.queries import WALL
from ferstream.settings import Settings

GRID = "All cameras"
OPEN_KEY = "live_open"
LIVE_TIMELINE = "Share of faces per emotion over the last minutes of one camera"
NO_REDIS = ("**Live pictures come from the workers through Redis**, and this dashboard has none: start it with "
            "`ferstream dashboard --redis URL` (the workers' Redis). The people in view and events show below.")
NOTHING_RUNNING = ("**No camera is running.** Cameras appear here while `ferstream watch` (or `watch --config`) runs "
                   "them with `--redis`, and a worker analyses their frames.")
COLUMNS = 3


def live_page(settings: Settings) -> None:
    st.title("Live")
    if not settings.redis_url:
        st.info(NO_REDIS)
    st.fragment(live_ui, run_every=DEFAULT_LIVE_REFRESH_SECONDS)(settings)


def running_cameras(url: str) -> pd.DataFrame:
    sources = data.sources(url)
    if sources.empty:
        return sources
    return sources[(sources["kind"] == "live") & (sources["status"] == "running")].sort_values("name")


def live_ui(settings: Settings) -> None:
    """The grid of running cameras, or the one opened (the part of the page that refreshes itself)."""
    cameras = running_cameras(settings.database_url)
    if cameras.empty:
        st.info(NOTHING_RUNNING)
        return
    labels = {f"{r.name} (#{r.id})": int(r.id) for r in cameras.itertuples()}
    choice = st.selectbox("Open a camera", [GRID, *labels], key=OPEN_KEY)
    if choice in labels:
        row = cameras[cameras["id"] == labels[choice]].iloc[0]
        picture, chart = st.columns([3, 2], gap="large")
        with picture:
            show_picture(settings, row, DEFAULT_LARGE_FPS)
            show_people(settings.database_url, int(row["id"]))
        with chart:
            show_chart(settings.database_url, int(row["id"]))
            show_events(settings.database_url, int(row["id"]))
        return
    for start in range(0, len(cameras), COLUMNS):
        for column, row in zip(st.columns(COLUMNS, gap="medium"), cameras.iloc[start:start + COLUMNS].itertuples()):
            with column, st.container(border=True):
                row = pd.Series(row._asdict())
                show_picture(settings, row, DEFAULT_TILE_FPS)
                show_people(settings.database_url, int(row["id"]))
                show_events(settings.database_url, int(row["id"]), last=3)


def show_picture(settings: Settings, row: pd.Series, fps: float) -> None:
    st.markdown(f"**{row['name']}** · {row['state']}")
    if not settings.redis_url:
        return
    jpeg, why = data.live_picture(settings.redis_url, settings.database_url, int(row["id"]), fps)
    if jpeg is None:
        st.caption(why)
    else:
        st.image(jpeg, caption=f"{row['name']}: faces as analysed, with track, emotion and confidence",
                 width="stretch")


def show_people(url: str, source_id: int) -> None:
    people = data.people_in_view(url, source_id)
    if people.empty:
        st.caption("Nobody in view.")
        return
    st.caption("  \n".join(f"person #{r.track_id}: **{r.emotion}** {r.confidence:.0%}" if isinstance(r.emotion, str)
                           else f"person #{r.track_id}: uncertain" for r in people.itertuples()))


def show_events(url: str, source_id: int, last: int = 5) -> None:
    found = events.events(url, (source_id,))
    if found.empty:
        st.caption("No events.")
        return
    recent = found.sort_values("start_at").tail(last).iloc[::-1]
    st.caption("  \n".join(f"{r.rule} · {r.state} · person #{r.track_id}" if not pd.isna(r.track_id)
                           else f"{r.rule} · {r.state}" for r in recent.itertuples()))


def show_chart(url: str, source_id: int) -> None:
    st.subheader("Emotions, last minutes")
    bucket_s = 10
    now = time.time() // bucket_s * bucket_s  # the same range (and cached result) within a bucket
    timeline = data.emotion_timeline(url, (source_id,), WALL, (now - 60 * DEFAULT_LIVE_CHART_MINUTES, None), bucket_s)
    if timeline.empty:
        st.caption("No face yet in the last minutes.")
        return
    st.altair_chart(timeline_chart(timeline, WALL, bucket_label(bucket_s)), width="stretch", key="live_chart",
                    alt=LIVE_TIMELINE)
