"""Face tracks against known people, and how much the smoothed label flickers and lags, on real footage.

Each clip goes through ``ferstream analyze`` (in-process, SQLite; its chunks tracked apart and
stitched as the workers do). Known people: WolfgangLanger, single_face.mp4 and the two .mov
clips show one person each; clips built here pan and zoom across multi_face.jpg (5 people),
obama_biden.jpg (3) and two_people.jpg (2), and one shows the astronaut, then no one for 3 s,
then the astronaut again (one person, two tracks expected: a track is continuity, not identity).

Per clip: tracks, tracks per person, and id switches (a person's faces split over more tracks
than the person has appearances). Flicker: label changes per second per track, raw and
smoothed. Delay: for each change of the raw label that then holds for a second (a real change
of expression), the frames until the smoothed label shows it.

    python bench/tracks.py [--quick]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a file: python bench/tracks.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import CLIP, media_file, write_video
from bench.ferstream_side import sqlite_url
from bench.processes import CLI, run_child
from bench.script import base_parser, run_main
from bench.tables import Report, Row, fmt, markdown_table


@dataclass
class Clip:
    path: Path
    people: int  # people in it
    appearances: int  # times a person comes into view (a person who leaves and comes back counts twice)


def pan_clip(photo: Path, out: Path, seconds: float = 4.0, fps: float = 10.0, size=(1280, 720)) -> Path:
    """A camera panning and zooming across ``photo``: every face stays in view, moving and changing size."""
    image = cv2.imread(str(photo))
    h, w = image.shape[:2]
    n = int(seconds * fps)

    def views():
        for i in range(n):
            t = i / max(n - 1, 1)
            zoom = 1.0 - 0.15 * np.sin(np.pi * t)  # the window narrows to 85% and back
            cw, ch = int(w * zoom), int(min(h, w * zoom * size[1] / size[0]))
            x0, y0 = int((w - cw) * t), int((h - ch) * (0.5 + 0.5 * np.sin(2 * np.pi * t)) / 1)
            y0 = min(max(y0, 0), h - ch)
            yield cv2.resize(image[y0:y0 + ch, x0:x0 + cw], size, interpolation=cv2.INTER_AREA)

    return write_video(out, views(), fps, size)


def leave_and_return_clip(out: Path, fps: float = 10.0) -> Path:
    """The astronaut for 2 s, an empty room for 3 s, the astronaut again for 2 s."""
    from ferstream.demo import astronaut_frames

    frames = astronaut_frames(40)
    empty = np.full_like(frames[0], 60)
    return write_video(out, frames[:20] + [empty] * 30 + frames[20:], fps)


def clips(args, folder: Path) -> list[Clip]:
    media = args.media
    found = [Clip(media_file(args, CLIP), 1, 1), Clip(media / "single_face.mp4", 1, 1),
             Clip(media / "noface_face.mov", 1, 1), Clip(media / "face_noface.mov", 1, 1)]
    for name, people in (("multi_face.jpg", 5), ("obama_biden.jpg", 3), ("two_people.jpg", 2)):
        found.append(Clip(pan_clip(media / name, folder / f"pan-{Path(name).stem}.mp4", seconds=2 if args.quick else 4),
                          people, people))
    found.append(Clip(leave_and_return_clip(folder / "leave-and-return.mp4"), 1, 2))
    return found[::3] if args.quick else found


def shown(labels: pd.Series) -> np.ndarray:
    """The labels as a viewer sees them: a face with no smoothed label (its track had no certain face in the last
    second) shows "uncertain". pandas gives such a face NaN, and NaN != NaN would count every one as a change."""
    return labels.astype(object).where(labels.notna(), "uncertain").to_numpy()


def flicker(labels: np.ndarray, times: np.ndarray) -> float:
    """Label changes per second (``labels`` as ``shown`` gives them)."""
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return float(np.sum(labels[1:] != labels[:-1]) / span) if span > 0 else 0.0


def delays(raw: np.ndarray, smoothed: np.ndarray, times: np.ndarray, hold_s: float = 1.0) -> list[int]:
    """Frames from each lasting change of the raw label (it holds ``hold_s``) until the smoothed label shows it."""
    out = []
    for i in range(1, len(raw)):
        if raw[i] == raw[i - 1]:
            continue
        held = np.flatnonzero(times >= times[i] + hold_s)
        if not len(held) or not (raw[i:held[0] + 1] == raw[i]).all():
            continue
        shown = np.flatnonzero(smoothed[i:] == raw[i])
        if len(shown):
            out.append(int(shown[0]))
    return out


def measure(args, folder: Path) -> Report:
    from ferstream.db.queries import faces_table

    from ferstream import db

    rows, raw_flicker, smooth_flicker, lags = [], [], [], []
    total_people = total_tracks = total_switches = 0
    for clip in clips(args, folder):
        url = sqlite_url(folder, clip.path.stem)
        run_child([*CLI, "analyze", str(clip.path), "--database", url]).check(f"ferstream analyze {clip.path.name}")
        df = faces_table(db.connect(url), 1)
        tracks = int(df["track_id"].nunique())
        long_tracks = int((df.groupby("track_id").size() >= 5).sum())  # tracks of at least 5 faces: people, not blips
        switches = max(0, long_tracks - clip.appearances)
        total_people += clip.people
        total_tracks += tracks
        total_switches += switches
        clip_raw, clip_smooth = [], []
        for _, track in df.sort_values("timestamp").groupby("track_id"):
            times = track["timestamp"].to_numpy()
            raw, smoothed = shown(track["emotion"]), shown(track["smoothed_emotion"])
            if len(track) >= 5:
                clip_raw.append(flicker(raw, times))
                clip_smooth.append(flicker(smoothed, times))
                lags += delays(raw, smoothed, times)
        raw_flicker += clip_raw
        smooth_flicker += clip_smooth
        rows.append([clip.path.name, clip.people, clip.appearances, tracks, long_tracks, switches,
                     f"{np.mean(clip_raw):.2f}" if clip_raw else "", f"{np.mean(clip_smooth):.2f}" if clip_smooth else ""])
    report = Report("Face tracks and the smoothed emotion")
    report.details.append(markdown_table(["clip", "people", "appearances", "tracks", "tracks of 5+ faces",
                                          "id switches", "label changes/s, raw", "smoothed"], rows))
    report.details.append(f"Delay of the smoothed label after a lasting change of expression: "
                          f"{np.mean(lags) if lags else float('nan'):.1f} frames on average (median "
                          f"{np.median(lags) if lags else float('nan'):.0f}, max {max(lags) if lags else 0}, "
                          f"{len(lags)} changes).")
    report.rows += [
        Row("tracks", f"tracks per person, {total_people} people in {len(rows)} clips (id switches: {total_switches})",
            fmt(total_tracks / max(total_people, 1), 2)),
        Row("tracks", "label changes per second per track, raw -> smoothed",
            f"{np.mean(raw_flicker):.2f} -> {np.mean(smooth_flicker):.2f}" if raw_flicker else ""),
        Row("tracks", "frames the smoothed label lags a lasting change", fmt(np.mean(lags) if lags else None, 1)),
    ]
    return report


def build_parser():
    return base_parser(__doc__, frames_help=None)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
