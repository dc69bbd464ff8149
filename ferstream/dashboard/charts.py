"""Altair charts of the query results: emotion shares over time, and overall."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ferstream.dashboard.queries import MEDIA
from ferstream.emotion_model import EMOTIONS

#: one colour per emotion, the same in every chart
EMOTION_COLORS = {"angry": "#d62728", "disgust": "#8c9a2e", "fear": "#9467bd", "happy": "#f2b400",
                  "sad": "#1f77b4", "surprise": "#ff7f0e", "neutral": "#9a9a9a"}
EMOTION_SCALE = alt.Scale(domain=list(EMOTIONS), range=[EMOTION_COLORS[e] for e in EMOTIONS])


def timeline_chart(timeline: pd.DataFrame, axis: str, bucket_label: str) -> alt.Chart:
    """Stacked bars, one per time bucket: the share of its faces showing each emotion, in label order."""
    df = stacked(timeline)
    if axis == MEDIA:
        x = alt.X("bucket_start:Q", title="time in the video (s)", scale=alt.Scale(nice=False, zero=False))
        when = alt.Tooltip("bucket_start:Q", title="from (s)", format=".1f")
    else:
        x = alt.X("bucket_start:T", title="wall-clock time (UTC)", scale=alt.Scale(type="utc"))
        when = alt.Tooltip("utcyearmonthdatehoursminutesseconds(bucket_start):T", title="from (UTC)")
    return (
        alt.Chart(df)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=x,
            x2="bucket_end",
            y=alt.Y("share_from:Q", title=f"share of faces per {bucket_label}", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            y2="share_to",
            color=alt.Color("emotion:N", scale=EMOTION_SCALE, legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[when, alt.Tooltip("emotion:N"), alt.Tooltip("faces:Q"), alt.Tooltip("share:Q", format=".1%"),
                     alt.Tooltip("mean_confidence:Q", title="mean confidence", format=".2f")],
        )
        .properties(height=360)
    )


def stacked(timeline: pd.DataFrame) -> pd.DataFrame:
    """The timeline with each emotion's band in its bucket (``share_from`` to ``share_to``), empty bands dropped."""
    order = {e: i for i, e in enumerate(EMOTIONS)}
    df = timeline.assign(order=timeline["emotion"].map(order)).sort_values(["bucket_start", "order"], kind="stable")
    df["share_to"] = df.groupby("bucket_start")["share"].cumsum()
    df["share_from"] = df["share_to"] - df["share"]
    return df[df["faces"] > 0].drop(columns="order")


def distribution_chart(totals: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: the share of all faces in range showing each emotion, labelled."""
    base = alt.Chart(totals).encode(
        y=alt.Y("emotion:N", sort=list(EMOTIONS), title=None),
        x=alt.X("share:Q", title="share of faces", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("emotion:N"), alt.Tooltip("faces:Q"), alt.Tooltip("share:Q", format=".1%"),
                 alt.Tooltip("mean_confidence:Q", title="mean confidence", format=".2f")],
    )
    bars = base.mark_bar().encode(color=alt.Color("emotion:N", scale=EMOTION_SCALE, legend=None))
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".0%"))
    return (bars + labels).properties(height=220)
