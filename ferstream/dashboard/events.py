"""The events view: the rules' events of the chosen sources on a timeline per source, filtered by rule, severity
and state; one opened shows its annotated frame (at its peak) and the person's emotions over the event."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ferstream.dashboard import data
from ferstream.dashboard.charts import EMOTION_SCALE
from ferstream.dashboard.defaults import DEFAULT_CACHE_TTL
from ferstream.emotion_model import EMOTIONS

EVENTS_TIMELINE = "Events over time"
EVENT_EMOTIONS = "The person's emotions over the event"
NO_EVENTS = ("No events for these sources. Rules raise them: `ferstream analyze VIDEO --rules FILE`, "
             "`ferstream watch --rules FILE`, or `rules:` in the cameras file.")
SEVERITY_COLORS = alt.Scale(domain=["alert", "detection"], range=["#d62728", "#1f77b4"])


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def events(url: str, source_ids: tuple[int, ...]) -> pd.DataFrame:
    from ferstream.events.store import list_events

    return list_events(data.engine(url), list(source_ids))


@st.cache_data(ttl=DEFAULT_CACHE_TTL, show_spinner=False)
def event_faces(url: str, event_id: str) -> pd.DataFrame:
    from ferstream.events.store import event_faces as read

    return read(data.engine(url), event_id)


def filters_ui(df: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """The rules, severities and states chosen (none chosen: all)."""
    rule, severity, state = st.columns(3, gap="medium")
    rules = rule.multiselect("Rule", sorted(df["rule"].unique()), key="event_rules", placeholder="every rule")
    severities = severity.multiselect("Severity", ["alert", "detection"], key="event_severities",
                                      placeholder="alerts and detections")
    states = state.multiselect("State", ["active", "ended"], key="event_states", placeholder="active and ended")
    return rules, severities, states


def chosen(df: pd.DataFrame, rules, severities, states) -> pd.DataFrame:
    for column, values in (("rule", rules), ("severity", severities), ("state", states)):
        if values:
            df = df[df[column].isin(values)]
    return df


def timeline_chart(df: pd.DataFrame) -> alt.Chart:
    """A bar per event from its start to its end (so far, while active), a row per source."""
    return (alt.Chart(df.assign(track=df["track_id"].astype(object).where(df["track_id"].notna(), "crowd")
                                .astype(str)))
            .mark_bar(height=14, cornerRadius=3)
            .encode(x=alt.X("start:Q", title="time in the source (s)"), x2="end:Q",
                    y=alt.Y("source:N", title=None), color=alt.Color("severity:N", scale=SEVERITY_COLORS,
                                                                     legend=alt.Legend(orient="bottom", title=None)),
                    tooltip=["rule:N", "severity:N", "state:N", "track:N", alt.Tooltip("start:Q", format=".1f"),
                             alt.Tooltip("end:Q", format=".1f"), alt.Tooltip("peak:Q", format=".2f")])
            .properties(height=max(80, 40 * df["source"].nunique())))


def emotions_chart(faces: pd.DataFrame) -> alt.Chart:
    long = faces.melt(id_vars="timestamp", value_vars=list(EMOTIONS), var_name="emotion", value_name="probability")
    return (alt.Chart(long).mark_line()
            .encode(x=alt.X("timestamp:Q", title="time in the source (s)", scale=alt.Scale(zero=False)),
                    y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("emotion:N", scale=EMOTION_SCALE, legend=alt.Legend(orient="bottom", title=None)))
            .properties(height=260))


def label(row) -> str:
    who = f"person {row.track_id}" if not pd.isna(row.track_id) else "crowd"
    return f"{row.rule} · {row.source} · {who} · {row.start:.1f}-{row.end:.1f} s ({row.state})"


def events_ui(url: str, source_ids: tuple[int, ...], files: bool) -> None:
    """The events section; ``files``: the sources are video files, whose frames can be shown annotated."""
    st.subheader("Events")
    df = events(url, source_ids)
    if df.empty:
        st.caption(NO_EVENTS)
        return
    shown = chosen(df, *filters_ui(df))
    st.caption(f"{len(shown)} of {len(df)} event(s)")
    if shown.empty:
        return
    st.altair_chart(timeline_chart(shown), width="stretch", key="events_chart", alt=EVENTS_TIMELINE)
    st.dataframe(shown, hide_index=True, key="events_table",
                 column_order=["source", "rule", "severity", "state", "track_id", "start", "end", "duration_s", "peak",
                               "faces", "start_at"],
                 column_config={"track_id": st.column_config.NumberColumn("person (track)"),
                                "start": st.column_config.NumberColumn("start (s)", format="%.1f"),
                                "end": st.column_config.NumberColumn("end (s)", format="%.1f"),
                                "duration_s": st.column_config.NumberColumn("for (s)", format="%.1f"),
                                "peak": st.column_config.NumberColumn("peak", format="%.2f"),
                                "start_at": st.column_config.DatetimeColumn("started (UTC)")})
    rows = {row.id: row for row in shown.itertuples()}
    opened = st.selectbox("Open an event", list(rows), format_func=lambda i: label(rows[i]), index=None,
                          key="event_open", placeholder="choose an event to see its frame and the person's emotions")
    if opened is not None:
        show_event(url, rows[opened], files)


def show_event(url: str, row, files: bool) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        if row.track_id is not None and not pd.isna(row.track_id):
            faces = event_faces(url, row.id)
            if faces.empty:
                st.info("This event's faces are no longer stored (pruned).")
            else:
                st.altair_chart(emotions_chart(faces), width="stretch", key="event_emotions", alt=EVENT_EMOTIONS)
        else:
            st.metric("Share at its peak", f"{row.peak:.0%}")
    with right:
        if not files:
            st.caption("Live sources keep no frames: no annotated frame to show.")
        elif row.peak_time is None or pd.isna(row.peak_time):
            st.caption("The peak frame is no longer stored (pruned).")
        else:
            image, index = data.annotated_frame(url, int(row.source_id), float(row.peak_time))
            if image is None:
                st.info(f"The annotated frame cannot be shown: {index}")
            else:
                st.image(image, caption=f"{row.peak_time:.1f} s (frame {index}), the peak of the event", width="stretch")
