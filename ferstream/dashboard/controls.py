"""The user's choices: UI functions that draw a control and return what was chosen.

Widget state lives under the keys below; ``init_selection`` gives the source
pickers their defaults (the newest source) and applies a pending choice (a
source just submitted) before the widgets are drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ferstream.dashboard.buckets import auto_bucket, bucket_choices, bucket_label
from ferstream.dashboard.queries import EVERYTHING, MEDIA, TimeRange
from ferstream.settings import DEFAULT_DETECTOR, DETECTORS

KIND_LABELS = {"file": "Videos", "live": "Live streams"}
KIND_KEY = "kind"
PENDING_KEY = "select_source"
#: the time windows offered for live streams, in seconds back from the latest frame
WINDOWS = {"Last 5 minutes": 300, "Last 15 minutes": 900, "Last hour": 3600, "Last 6 hours": 6 * 3600,
           "Last 24 hours": 86400, "Everything": None, "Custom": "custom"}
DEFAULT_WINDOW = "Last hour"


def picker_key(kind: str) -> str:
    return f"sources_{kind}"


def select_later(source_id: int) -> None:
    """Make ``source_id`` the chosen source on the next run (after an upload)."""
    st.session_state[PENDING_KEY] = int(source_id)


def init_selection(sources: pd.DataFrame) -> tuple[str | None, list[int]]:
    """Defaults and pending choices for the pickers; the kind and source ids they will show."""
    if sources.empty:
        return None, []
    kinds = [k for k in KIND_LABELS if k in set(sources["kind"])] or [str(sources["kind"].iloc[0])]
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending is not None and pending in set(sources["id"]):
        kind = str(sources.loc[sources["id"] == pending, "kind"].iloc[0])
        st.session_state[KIND_KEY] = kind
        st.session_state[picker_key(kind)] = [pending]
    if st.session_state.get(KIND_KEY) not in kinds:
        st.session_state[KIND_KEY] = kinds[0]
    for kind in kinds:
        ids = [int(i) for i in sources.loc[sources["kind"] == kind, "id"]]
        key = picker_key(kind)
        if key not in st.session_state:
            st.session_state[key] = ids[-1:]
        elif any(i not in ids for i in st.session_state[key]):  # a source gone from the database
            st.session_state[key] = [i for i in st.session_state[key] if i in ids]
    kind = st.session_state[KIND_KEY]
    return kind, list(st.session_state[picker_key(kind)])


def kind_ui(sources: pd.DataFrame) -> str:
    """Videos or live streams (asked only when both exist): they have different time axes."""
    kinds = [k for k in KIND_LABELS if k in set(sources["kind"])]
    if len(kinds) < 2:
        return st.session_state[KIND_KEY]
    return st.radio("Show", kinds, format_func=KIND_LABELS.get, key=KIND_KEY, horizontal=True,
                    help="Videos are charted by time in the video, live streams by wall-clock time")


def source_picker_ui(sources: pd.DataFrame, kind: str) -> list[int]:
    """The chosen sources of one kind (several are charted together); their status shows beside (``views``)."""
    rows = sources[sources["kind"] == kind]
    labels = {int(r.id): f"#{r.id} {r.name}" for r in rows.itertuples()}  # stable: the browser keeps chip labels
    return st.multiselect(KIND_LABELS[kind], list(labels), format_func=lambda i: labels.get(i, f"#{i}"),
                          key=picker_key(kind), placeholder="Pick one or more sources")


def time_range_ui(axis: str, extent: tuple[float, float]) -> TimeRange:
    """The time range to chart: a slider over the video, or a window back from a stream's latest frame."""
    first, last = extent
    if axis == MEDIA:
        step = 0.1 if last <= 120 else 1.0
        top = round(math.ceil(last / step) * step, 3)
        if top <= 0:
            return EVERYTHING
        start, end = st.slider("Time in the video (s)", 0.0, top, (0.0, top), step=step, format="%.1f")
        return EVERYTHING if (start, end) == (0.0, top) else (start, end)
    window = WINDOWS[st.selectbox("Time range", list(WINDOWS), index=list(WINDOWS).index(DEFAULT_WINDOW),
                                  key="window", help="Back from the latest analysed frame")]
    if window is None:
        return EVERYTHING
    if window != "custom":  # open-ended: it follows a running stream
        return (max(last - window, first), None)
    lo = datetime.fromtimestamp(math.floor(first), timezone.utc).replace(tzinfo=None)
    hi = datetime.fromtimestamp(math.ceil(last), timezone.utc).replace(tzinfo=None)
    if hi <= lo:
        return EVERYTHING
    start, end = st.slider("From - to (UTC)", lo, hi, (lo, hi), step=timedelta(seconds=1), format="YYYY-MM-DD HH:mm:ss")
    return (start.replace(tzinfo=timezone.utc).timestamp(), end.replace(tzinfo=timezone.utc).timestamp())


def bucket_ui(span_s: float) -> int:
    """Seconds per time bucket: chosen from the span shown, adjustable."""
    choices = bucket_choices(span_s)
    auto = auto_bucket(span_s)
    if len(choices) == 1:
        return choices[0]
    return st.select_slider("Time bucket", choices, value=auto if auto in choices else choices[0],
                            format_func=bucket_label, help=f"Chosen from the span shown: {bucket_label(auto)}")


#: the toggle's label: uncertain faces (too turned, blurred, dark or small to read) are left out unless it is on
SHOW_UNCERTAIN = "Show uncertain faces"


def uncertain_ui() -> bool:
    """Whether the charts, figures and people count uncertain faces too (off by default)."""
    return st.toggle(SHOW_UNCERTAIN, value=False, key="show_uncertain",
                     help="Faces too turned, blurred, dark or small for their emotion to be trusted are kept but left "
                          "out of the charts and figures; turn this on to count them too")


@dataclass
class UploadRequest:
    file: UploadedFile
    name: str | None
    sample_fps: float | None
    detector: str | None = None


def person_ui(people: pd.DataFrame) -> int | None:
    """A person (track) of the source shown, to chart on their own; the one seen longest first."""
    if people.empty:
        return None
    order = people.sort_values("faces", ascending=False)
    return st.selectbox("Person (track)", order["track_id"].tolist(), key="person",
                        format_func=lambda t: _person_label(order.set_index("track_id").loc[t], t))


def _person_label(row: pd.Series, track_id: int) -> str:
    emotion = row["dominant_emotion"]
    return (f"track {track_id}: {int(row['faces'])} faces, "
            + ("all uncertain" if pd.isna(emotion) else f"mostly {emotion}"))


def frame_time_ui(duration_s: float) -> float:
    """A moment of the video to show annotated, in seconds."""
    end = max(float(duration_s or 0.0), 0.1)
    return st.slider("Annotated frame at (s)", 0.0, end, min(1.0, end / 2), step=0.1, key="frame_at")


def upload_ui(max_mb: int, detector: str = DEFAULT_DETECTOR) -> UploadRequest | None:
    """A video to analyse, its name and sampling, once the user presses Analyse."""
    st.header("Submit a video")
    with st.form("submit_video", clear_on_submit=True, border=False):
        file = st.file_uploader(f"Video file (up to {max_mb} MB)", max_upload_size=max_mb, key="upload")
        name = st.text_input("Name", placeholder="the file name", help="How the source is listed")
        fps = st.number_input("Frames per second to analyse", min_value=0.0, max_value=240.0, value=None, step=1.0,
                              placeholder="every frame",
                              help="Empty (the default) analyses every frame of the video; a rate such as 5 analyses "
                                   "5 frames a second, faster (0 also means every frame)")
        chosen = st.selectbox("Face detector", DETECTORS, index=DETECTORS.index(detector), key="detector",
                              help="blazeface (neural) also finds faces turned, tilted, laughing and small; "
                                   "haar is OpenCV's frontal cascade")
        submitted = st.form_submit_button("Analyse", type="primary")
    if not submitted:
        return None
    if file is None:
        st.warning("Choose a video file first.")
        return None
    return UploadRequest(file, name.strip() or None, fps or None, chosen)
