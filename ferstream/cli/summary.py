"""What a command prints about its sources when they are done: the summary of each (faces per emotion, people), a
watch's live counters, and the wait for queued sources with a progress bar."""

from __future__ import annotations

import sys
import time

from ferstream.errors import FerstreamError


def wait_for_sources(engine, source_ids: list[int], poll: float = 0.5, timeout: float | None = None,
                     tick=None) -> None:
    """Block until every source is done or failed, with a progress bar fed by the workers' results."""
    from tqdm import tqdm

    from ferstream.db.queries import sources

    start = time.monotonic()
    bar = tqdm(unit="frame", desc="workers", disable=None)
    try:
        while True:
            df = sources(engine, source_ids)
            bar.total = int(df["frames_queued"].sum())
            bar.update(int(df["frames_analysed"].sum() + df["frames_failed"].sum()) - bar.n)
            if df["status"].isin(["done", "failed"]).all():
                return
            if tick:
                tick()
            if timeout is not None and time.monotonic() - start > timeout:
                raise FerstreamError(f"sources {source_ids} not finished after {timeout:.0f}s")
            time.sleep(poll)
    finally:
        bar.close()


def print_summary(engine, source_id: int, file=None, include_uncertain: bool = False) -> None:
    """A source's progress, its faces per emotion and its people; uncertain faces are left out of the shares (and
    counted) unless ``include_uncertain``."""
    from ferstream.db.queries import emotion_summary, progress

    file = file or sys.stdout
    p = progress(engine, source_id)
    summary = emotion_summary(engine, source_id, include_uncertain=include_uncertain)
    print(f"\nsource {source_id}: {p['name']} [{p['status']}]", file=file)
    print(f"  frames analysed {p['frames_analysed']} (of {p['frames_read']} decoded), "
          f"{p['frames_no_face']} without a face, {p['frames_failed']} failed; faces {p['faces']}", file=file)
    if p["error"]:
        print(f"  error: {p['error']}", file=file)
    if p["pruned_frames"]:
        print(f"  {p['pruned_frames']} of these frames were deleted by retention since; the table counts the faces kept",
              file=file)
    print(f"  {uncertain_line(summary, include_uncertain)}", file=file)
    table = summary.assign(share=(summary["share"] * 100).round(1).astype(str) + "%",
                           mean_confidence=summary["mean_confidence"].round(3))
    print(table.to_string(index=False), file=file)
    if summary["faces"].sum():
        top = summary.sort_values("faces", ascending=False).iloc[0]
        counted = "certain faces" if summary["uncertain"].sum() and not include_uncertain else "faces"
        print(f"  dominant emotion: {top['emotion']} ({top['share'] * 100:.1f}% of {counted})", file=file)
    if p["faces"]:
        print_people(engine, source_id, file=file, include_uncertain=include_uncertain)


def uncertain_line(summary, include_uncertain: bool) -> str:
    """"312 faces, 41 uncertain (left out of the shares)" for an emotion summary (``db.queries.emotion_summary``)."""
    uncertain = int(summary["uncertain"].sum())
    faces = int(summary["faces"].sum()) + (0 if include_uncertain else uncertain)
    if not uncertain:
        return f"{faces} faces, none uncertain"
    if include_uncertain:
        return f"{faces} faces, {uncertain} uncertain (counted in the shares: --include-uncertain)"
    return f"{faces} faces, {uncertain} uncertain (left out of the shares; --include-uncertain counts them)"


def print_people(engine, source_id: int, file=None, most: int = 20, include_uncertain: bool = False) -> None:
    """How many people (face tracks) were seen, and each one's dominant emotion (the ``most`` seen longest); a
    track's emotion counts its certain faces unless ``include_uncertain``."""
    import pandas as pd

    from ferstream.db.queries import tracks_table

    people = tracks_table(engine, source_id, include_uncertain=include_uncertain)
    if people.empty:
        return
    print(f"  people (face tracks): {len(people)}", file=file)
    shown = people.sort_values("faces", ascending=False).head(most).sort_values("first_timestamp")
    for row in shown.itertuples():
        seen = f"    track {row.track_id}: {row.first_timestamp:.1f}-{row.last_timestamp:.1f} s, {row.faces} faces"
        flagged = f", {row.uncertain_faces} uncertain" if row.uncertain_faces else ""
        if pd.isna(row.dominant_emotion):
            print(f"{seen}{flagged}, emotion uncertain (every face uncertain)", file=file)
            continue
        share = getattr(row, f"share_{row.dominant_emotion}")
        print(f"{seen}{flagged}, mostly {row.dominant_emotion} ({share * 100:.0f}%)", file=file)
    if len(people) > most:
        print(f"    ... and {len(people) - most} more (`ferstream export --per-track`)", file=file)



def print_watch_summary(engine, source_id: int, queued: bool, file=None, include_uncertain: bool = False) -> None:
    """In-process: the usual summary; either way the live counters (sampled, sent, dropped, reconnects)."""
    from ferstream.db.queries import progress

    file = file or sys.stdout
    p = progress(engine, source_id)
    if queued:
        print(f"\nsource {source_id}: {p['name']} [{p['state']}]", file=file)
        if p["error"]:
            print(f"  error: {p['error']}", file=file)
    else:
        print_summary(engine, source_id, file=file, include_uncertain=include_uncertain)
    print(f"  live: {p['frames_queued'] + p['frames_dropped']} frames sampled, {p['frames_queued']} "
          f"{'queued' if queued else 'analysed'}, {p['frames_dropped']} dropped (workers behind), "
          f"{p['reconnects']} reconnects", file=file)
    if queued:
        print("  run `ferstream worker` to analyse the queued frames and `ferstream status` to follow them", file=file)
