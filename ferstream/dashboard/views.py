"""What the page shows: the source list, the charts and figures, and the empty states that explain themselves."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from ferstream.dashboard.buckets import bucket_label
from ferstream.dashboard.charts import distribution_chart, timeline_chart
from ferstream.dashboard.queries import MEDIA
from ferstream.db.queries import last_frame_age
from ferstream.urls import mask_url

ACTIVE = ("queued", "running")
NO_SOURCES = ("**No sources yet.** Submit a video with the panel on the left, or analyse one from a terminal "
              "with `ferstream analyze VIDEO`. Sources show up here with their progress.")
NOTHING_CHOSEN = "Pick one or more sources above to chart their emotions."


def needs_refresh(sources: pd.DataFrame, chosen_ids: list[int]) -> bool:
    """Whether the page should refresh itself: a chosen source is queued or running (or none exists yet)."""
    if sources.empty:
        return True
    return bool(sources[sources["id"].isin(chosen_ids)]["status"].isin(ACTIVE).any())


def show_outcome(outcome: tuple[str, str] | None) -> None:
    """The last upload's outcome: ``("success" | "error", message)``."""
    if outcome:
        level, message = outcome
        (st.success if level == "success" else st.error)(message)


def show_connection(database_url: str, redis_url: str | None) -> None:
    db = mask_url(database_url)
    queue = (f"videos are queued for `ferstream worker` at {mask_url(redis_url)}" if redis_url
             else "no Redis configured: videos are analysed in this process")
    st.caption(f"Database: `{db}`  \n{queue}")


def show_sources(sources: pd.DataFrame) -> None:
    st.dataframe(
        sources.assign(kind=sources["kind"].map({"file": "video", "live": "live"}).fillna(sources["kind"]),
                       error=sources["error"].fillna("")),
        hide_index=True,
        column_order=["id", "name", "kind", "status", "state", "progress", "frames_analysed", "faces", "last_frame_at",
                      "error", "created_at"],
        column_config={
            "id": st.column_config.NumberColumn("#", width="small"),
            "name": "source",
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "frames_analysed": st.column_config.NumberColumn("frames analysed"),
            "state": st.column_config.TextColumn("ingest", help="files: queued, reading, finished; live sources: starting, "
                                                 "running, reconnecting, stalled, failed, stopped"),
            "last_frame_at": st.column_config.DatetimeColumn("last frame", format="HH:mm:ss",
                                                             help="live sources: when the newest frame was read"),
            "created_at": st.column_config.DatetimeColumn("submitted", format="YYYY-MM-DD HH:mm:ss"),
        },
        height=min(36 * (len(sources) + 1) + 3, 250),
        key="source_table",
    )


def show_status(chosen: pd.DataFrame) -> None:
    """One line per chosen source: its status, and how far its analysis has come."""
    lines = []
    for row in chosen.itertuples():
        done = f"{row.frames_analysed:,} frames, {row.faces:,} faces"
        if row.status in ACTIVE and not pd.isna(row.progress):
            done = f"{row.progress:.0%} · {done}"
        if row.kind == "live" and row.status in ACTIVE:  # the stream's own state while it is watched
            age = last_frame_age(row.last_frame_at)
            done = f"stream {row.state}{f', last frame {age}' if age else ''} · {done}"
        lines.append(f"**{row.name}**: {row.status} · {done}")
    if lines:
        st.caption("  \n".join(lines))


def show_problems(chosen: pd.DataFrame) -> None:
    """A warning per chosen source that failed, with its error."""
    for row in chosen[chosen["status"] == "failed"].itertuples():
        st.warning(f"**{row.name}** failed: {row.error or 'some chunks could not be analysed'}")


def not_analysed_yet(chosen: pd.DataFrame, redis_url: str | None) -> None:
    """Why the chosen sources have no results to chart: waiting, failed, or every result pruned by retention."""
    names = ", ".join(chosen["name"])
    pruned = int(chosen["pruned_frames"].sum())
    if pruned and pruned == int(chosen["frames_analysed"].sum()):
        st.info(f"**Every result of {names} has been deleted by retention** ({pruned} analysed frames, older than "
                "the retention `ferstream prune` or `watch --retention` keeps).")
    elif chosen["status"].isin(ACTIVE).any():
        hint = ("Its chunks wait in the queue: is `ferstream worker` running?" if redis_url
                else "The analysis has started; results appear here as frames are analysed.")
        st.info(f"**No frame of {names} has been analysed yet.** {hint}")
    else:
        st.info(f"**{names}: no frame was analysed.** See the error in the source list.")


def show_results(timeline: pd.DataFrame, totals: pd.DataFrame, frames: pd.DataFrame, axis: str, bucket_s: float,
                 names: list[str], include_uncertain: bool = False) -> None:
    """The headline chart, and beside it the overall distribution and figures; or why there is nothing to chart.
    Uncertain faces are counted in the charts only with ``include_uncertain``; the page says how many there were."""
    f = frames.iloc[0]
    faces = int(totals["faces"].sum())
    uncertain = int(totals["uncertain"].sum())
    left, right = st.columns([2.2, 1], gap="large")
    with left:
        st.subheader("Emotions over time")
        if faces == 0 and uncertain:
            st.info(f"**All {uncertain:,} faces in this range are uncertain** (too turned, blurred, dark or small for "
                    "their emotion to be trusted). Turn on *Show uncertain faces* to chart them anyway.")
        elif faces == 0:
            st.info(_no_faces(int(f["frames"])))
        else:
            st.altair_chart(timeline_chart(timeline, axis, bucket_label(bucket_s)), width="stretch",
                            key="timeline_chart", alt="Share of faces per emotion over time")
            st.caption(f"{', '.join(names)} · {bucket_label(bucket_s)} buckets · "
                       f"{'time in the video' if axis == MEDIA else 'wall-clock time, UTC'}")
            download_csv(timeline, names, bucket_s)
    with right:
        st.subheader("Overall")
        show_figures(totals, f, include_uncertain)
        if faces:
            st.altair_chart(distribution_chart(totals), width="stretch", key="distribution_chart",
                            alt="Share of faces per emotion")
        st.caption(uncertain_note(faces, uncertain, include_uncertain))


def uncertain_note(faces: int, uncertain: int, include_uncertain: bool) -> str:
    """How many of the faces in range were uncertain, and whether the charts count them."""
    total = faces if include_uncertain else faces + uncertain
    if not uncertain:
        return f"{total:,} faces in this range, none uncertain."
    if include_uncertain:
        return f"{total:,} faces in this range, {uncertain:,} uncertain: all are counted in the charts."
    return (f"{total:,} faces in this range, {uncertain:,} uncertain: left out of the charts and figures "
            "(*Show uncertain faces* counts them).")


PERSON_TIMELINE = "Share of one person's faces per emotion over time"


def show_people(people: pd.DataFrame) -> None:
    """The people (face tracks) of one source: when each was seen, for how long, and their dominant emotion."""
    st.subheader("People")
    st.caption(f"{len(people)} face track(s): one person while visible, a new track after more than a second away")
    st.dataframe(
        people, hide_index=True, key="people",
        column_order=["track_id", "first_timestamp", "last_timestamp", "seen_s", "faces", "uncertain_faces",
                      "dominant_emotion"],
        column_config={
            "track_id": st.column_config.NumberColumn("person (track)", width="small"),
            "first_timestamp": st.column_config.NumberColumn("first seen (s)", format="%.1f"),
            "last_timestamp": st.column_config.NumberColumn("last seen (s)", format="%.1f"),
            "seen_s": st.column_config.NumberColumn("seen for (s)", format="%.1f"),
            "faces": st.column_config.NumberColumn("faces"),
            "uncertain_faces": st.column_config.NumberColumn("uncertain", help="faces whose emotion is not trusted"),
            "dominant_emotion": st.column_config.TextColumn("dominant emotion",
                                                            help="empty: every face of the track is uncertain"),
        },
    )


def show_person(timeline: pd.DataFrame, axis: str, bucket_s: float, track_id: int) -> None:
    """The emotion timeline of one person (track)."""
    if timeline.empty:
        st.info(f"No face of track {track_id} to chart in the time range shown (uncertain faces are charted only "
                "with *Show uncertain faces*).")
        return
    st.altair_chart(timeline_chart(timeline, axis, bucket_label(bucket_s)), width="stretch", key="person_chart",
                    alt=PERSON_TIMELINE)


def show_annotated(image, index_or_reason, seconds: float) -> None:
    """The original frame at the chosen time with its faces drawn, or why it cannot be shown."""
    st.subheader("Annotated frame")
    if image is None:
        st.info(f"The annotated frame cannot be shown: {index_or_reason}")
        return
    st.image(image, caption=f"{seconds:.1f} s (frame {index_or_reason}): boxes, tracks and smoothed emotions, "
                            "read from the original file now", width="stretch")


def _no_faces(frames: int) -> str:
    if frames == 0:
        return "**No frame was analysed in this time range.** Widen the range, or pick another source."
    return (f"**No faces in this range.** {frames:,} frame(s) were analysed and none held a face. "
            "Widen the range, or pick another source.")


def show_figures(totals: pd.DataFrame, frames: pd.Series, include_uncertain: bool = False) -> None:
    """Faces (every one, uncertain too) and frames analysed; the mean confidence and the dominant emotion of the faces
    the charts count."""
    faces = int(totals["faces"].sum())
    uncertain = int(totals["uncertain"].sum())
    a, b = st.columns(2)
    a.metric("Faces analysed", f"{faces if include_uncertain else faces + uncertain:,}")
    b.metric("Frames analysed", f"{int(frames['frames']):,}")
    a.metric("Frames with no face", f"{int(frames['frames_no_face']):,}")
    b.metric("Uncertain faces", f"{uncertain:,}",
             help="Too turned, blurred, dark or small for their emotion to be trusted: "
                  + ("counted in the charts" if include_uncertain else "left out of the charts and figures"))
    if not faces:
        a.metric("Mean confidence", "-")
        st.metric("Dominant emotion", "-")
        return
    mean = float((totals["faces"] * totals["mean_confidence"].fillna(0)).sum() / faces)
    a.metric("Mean confidence", f"{mean:.2f}")
    top = totals.sort_values("faces", ascending=False, kind="stable").iloc[0]
    st.metric("Dominant emotion", str(top["emotion"]), delta=f"{top['share']:.0%} of faces", delta_color="off",
              delta_arrow="off")


def download_csv(timeline: pd.DataFrame, names: list[str], bucket_s: float) -> None:
    """The charted numbers (one row per time bucket and emotion) as a CSV file."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", "-".join(names)).strip("-")[:60] or "sources"
    file_name = f"ferstream-{slug}-{bucket_label(bucket_s).replace(' ', '')}.csv"
    st.download_button("Download CSV", timeline.to_csv(index=False), file_name=file_name, mime="text/csv",
                       on_click="ignore", icon=":material/download:",
                       help="The charted data: faces per time bucket and emotion")
