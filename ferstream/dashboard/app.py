"""ferstream's dashboard: emotions of the faces in each video or stream, over time and overall.

``ferstream dashboard`` serves it (``streamlit run dashboard/app.py`` works
too); it reads ``DATABASE_URL`` and ``REDIS_URL`` like every other stage.
"""

from __future__ import annotations

import streamlit as st

from ferstream.dashboard import controls, data, views
from ferstream.dashboard.events import events_ui
from ferstream.dashboard.live import live_page
from ferstream.dashboard.defaults import DEFAULT_REFRESH_SECONDS, keep_uploads, max_upload_mb, upload_dir
from ferstream.dashboard.queries import AXIS_OF_KIND, MEDIA
from ferstream.dashboard.submit import submit_video
from ferstream.dashboard.upload import store_upload
from ferstream.console import setup_logging
from ferstream.errors import FerstreamError
from ferstream.settings import Settings

#: set while the whole script runs, so the results fragment knows a run of its own from a full one
FULL_RUN_KEY = "_full_run"
#: the outcome of the last upload, shown in the sidebar until the next one
OUTCOME_KEY = "upload_outcome"


def main() -> None:
    st.set_page_config(page_title="ferstream", page_icon=":material/mood:", layout="wide")
    setup_logging()  # once per process: later calls find the root logger configured
    settings = Settings.from_env()
    page = st.navigation([st.Page(lambda: results_page(settings), title="Results", icon=":material/insights:",
                                  url_path="results", default=True),
                          st.Page(lambda: live_page(settings), title="Live", icon=":material/videocam:",
                                  url_path="live")])
    page.run()


def results_page(settings: Settings) -> None:
    """Sources, their charts and figures, events, and the upload panel."""
    with st.sidebar:
        request = controls.upload_ui(max_upload_mb(), settings.detector)
        if request is not None:
            st.session_state[OUTCOME_KEY] = submit(settings, request)
        views.show_outcome(st.session_state.get(OUTCOME_KEY))  # until the next upload
        views.show_connection(settings.database_url, settings.redis_url)
    st.title("Emotions in video")
    try:
        sources = data.sources(settings.database_url)
    except FerstreamError as exc:
        st.error(str(exc))
        return
    _, chosen = controls.init_selection(sources)
    live = views.needs_refresh(sources, chosen)
    st.session_state[FULL_RUN_KEY] = True
    try:
        st.fragment(results, run_every=DEFAULT_REFRESH_SECONDS if live else None)(settings, live)
    finally:
        st.session_state[FULL_RUN_KEY] = False


def submit(settings: Settings, request: controls.UploadRequest) -> tuple[str, str]:
    """Store, check and submit an uploaded video; what to tell the user (``success`` or ``error``, and why)."""
    name = request.name or request.file.name
    try:
        path = store_upload(request.file.name, request.file, request.file.size, upload_dir(), max_upload_mb())
        source_id = submit_video(settings.with_(detector=request.detector), path, name=name,
                                 sample_fps=request.sample_fps, remove=not keep_uploads())
    except FerstreamError as exc:
        return "error", f"Not submitted: {exc}"
    data.sources.clear()
    controls.select_later(source_id)
    where = "queued for the workers" if settings.redis_url else "being analysed in this process"
    return "success", f"**{name}** is {where} (source #{source_id}). Its progress shows in the source list."


def results(settings: Settings, live: bool) -> None:
    """Sources, time controls, charts and figures: the part of the page that refreshes itself."""
    url = settings.database_url
    try:
        sources = data.sources(url)
    except FerstreamError as exc:
        st.error(str(exc))
        return
    _, chosen = controls.init_selection(sources)
    if views.needs_refresh(sources, chosen) != live and not st.session_state.get(FULL_RUN_KEY):
        st.rerun(scope="app")  # start or stop refreshing
    if sources.empty:
        st.info(views.NO_SOURCES)
        return
    st.subheader("Sources")
    views.show_sources(sources)
    kind = controls.kind_ui(sources)
    pick, when, bucket = st.columns([4, 3, 2], gap="medium")
    with pick:
        ids = tuple(controls.source_picker_ui(sources, kind))
        chosen_rows = sources[sources["id"].isin(ids)]
        views.show_status(chosen_rows)
    if not ids:
        st.info(views.NOTHING_CHOSEN)
        return
    views.show_problems(chosen_rows)
    axis = AXIS_OF_KIND.get(kind, MEDIA)
    extent = data.time_extent(url, ids, axis)
    if extent is None:
        views.not_analysed_yet(chosen_rows, settings.redis_url)
        return
    if axis == MEDIA:  # the whole video, known before its analysis ends
        extent = (0.0, max(extent[1], float(chosen_rows["duration_s"].fillna(0).max())))
    with when:
        time_range = controls.time_range_ui(axis, extent)
    start, end = time_range
    span = (extent[1] if end is None else end) - (extent[0] if start is None else start)
    with bucket:
        bucket_s = controls.bucket_ui(span)
        everything = controls.uncertain_ui()
    views.show_results(
        data.emotion_timeline(url, ids, axis, time_range, bucket_s, include_uncertain=everything),
        data.emotion_totals(url, ids, axis, time_range, include_uncertain=everything),
        data.frame_totals(url, ids, axis, time_range),
        axis, bucket_s, list(chosen_rows["name"]), include_uncertain=everything,
    )
    if len(ids) == 1:  # people are tracks within one source
        people = data.people(url, ids[0], include_uncertain=everything)
        if not people.empty:
            views.show_people(people)
            track = controls.person_ui(people)
            views.show_person(data.emotion_timeline(url, ids, axis, time_range, bucket_s, track, everything), axis,
                              bucket_s, track)
        if kind == "file":  # the video's own frames, with the faces drawn: read from the file at view time
            seconds = controls.frame_time_ui(float(chosen_rows["duration_s"].fillna(0).max()))
            views.show_annotated(*data.annotated_frame(url, ids[0], seconds), seconds)
    events_ui(url, ids, kind == "file")


if __name__ == "__main__":
    main()
