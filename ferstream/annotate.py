"""Annotated video: the analysed faces drawn onto the original file's frames, from the database's results.

Each face gets its box, its track and its smoothed emotion with the confidence, drawn inside the
box. Frames that were not analysed (sampling) show the nearest analysed frame's faces; analysed
frames without a face show none. Video is written as browser-playable H.264 with ``ffmpeg`` when
it is installed, else with OpenCV's ``mp4v`` (which browsers may not play; a warning says so).
"""

from __future__ import annotations

import bisect
import logging
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

# the drawing lives a floor below (the workers' live pictures draw with it too); named here for the callers of old
from ferstream.drawing import COLOURS, LABEL_SHARE, MIN_LABEL_PX, draw_faces  # noqa: F401
from ferstream.errors import FerstreamError, VideoError

log = logging.getLogger(__name__)


class AnnotateError(FerstreamError):
    """A source cannot be annotated: a live stream, or its original file is gone."""


class Annotator:
    """The faces of one file source, ready to draw on any frame of its original file."""

    def __init__(self, engine: Engine, source_id: int):
        from ferstream.db.models import Frame, Source
        from ferstream.db.queries import faces_table

        with engine.connect() as conn:
            source = conn.execute(select(Source.kind, Source.uri, Source.name).where(Source.id == source_id)).one()
            self.analysed = conn.execute(select(Frame.frame_index).where(Frame.source_id == source_id)
                                         .order_by(Frame.frame_index)).scalars().all()
        if source.kind != "file":
            raise AnnotateError(f"source {source_id} ({source.name}) is a live stream: its frames were not kept, so "
                                "there is nothing to draw on")
        if "://" not in source.uri and not Path(source.uri).is_file():
            raise AnnotateError(f"source {source_id}: its original file {source.uri} is gone (annotation draws on it)")
        self.uri = source.uri
        self.faces = {i: group for i, group in faces_table(engine, source_id).groupby("frame_index")}
        self.empty = pd.DataFrame()

    def faces_at(self, frame_index: int) -> pd.DataFrame:
        """The faces of the analysed frame nearest ``frame_index``."""
        if not self.analysed:
            return self.empty
        k = bisect.bisect_left(self.analysed, frame_index)
        near = min((c for c in (k - 1, k) if 0 <= c < len(self.analysed)),
                   key=lambda c: abs(self.analysed[c] - frame_index))
        return self.faces.get(self.analysed[near], self.empty)


def annotate_video(engine: Engine, source_id: int, out: Path) -> int:
    """Write the annotated video to ``out``; returns the frames written."""
    from tqdm import tqdm

    from ferstream.ingest.video import open_video

    annotator = Annotator(engine, source_id)
    cap = open_video(annotator.uri)
    if not cap.isOpened():
        raise VideoError(f"{annotator.uri}: cannot be opened")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    writer, count = None, 0
    try:
        with tqdm(total=total, unit="frame", desc=f"annotate {out.name}", disable=None) as bar:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if writer is None:
                    writer = _writer(out, frame.shape[1], frame.shape[0], fps)
                writer.write(draw_faces(frame, annotator.faces_at(count)))
                count += 1
                bar.update()
    finally:
        cap.release()
        if writer is not None:
            writer.close()
    return count


def annotated_frame(engine: Engine, source_id: int, seconds: float) -> tuple[np.ndarray, int]:
    """The annotated frame (BGR) at ``seconds`` into a file source's original video, and its index; read now,
    nothing stored (the dashboard's view)."""
    from ferstream.ingest.video import open_video

    annotator = Annotator(engine, source_id)
    cap = open_video(annotator.uri)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        index = max(0, int(round(seconds * fps)))
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok:
        raise AnnotateError(f"no frame at {seconds:.2f} s in {annotator.uri}")
    return draw_faces(frame, annotator.faces_at(index)), index


def annotate_images(engine: Engine, source_id: int, folder: Path, times: list[float],
                    strict: bool = False) -> tuple[list[Path], str | None]:
    """Annotated PNGs of the frames at ``times`` (seconds into the video): the paths written, and which moments the
    video has no frame at (before its start or past its end; ``None`` when it has them all). With ``strict`` a
    missing moment writes nothing and raises ``AnnotateError``."""
    from ferstream.ingest.video import open_video

    annotator = Annotator(engine, source_id)
    cap = open_video(annotator.uri)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    wanted: dict[int, list[float]] = {}
    for t in times:
        wanted.setdefault(int(round(t * fps)), []).append(t)
    drawn, index = [], 0  # (frame index, annotated frame), in video order
    try:
        while index <= max(wanted):
            ok, frame = cap.read()
            if not ok:
                break
            if index in wanted:
                drawn.append((index, draw_faces(frame, annotator.faces_at(index))))
            index += 1
    finally:
        cap.release()
    found = {i for i, _ in drawn}
    missing = sorted(t for i, ts in wanted.items() if i not in found for t in ts)
    problem = (f"no frame at {', '.join(f'{t:.2f}' for t in missing)} s (the video runs from 0 to {index / fps:.2f} s)"
               if missing else None)
    if problem and strict:
        raise AnnotateError(f"{problem}: nothing written (--strict)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, image in drawn:
        path = folder / f"{Path(annotator.uri).stem}-{i / fps:08.2f}s.png"
        cv2.imwrite(str(path), image)
        written.append(path)
    return written, problem


class _Writer:
    def __init__(self, write, close):
        self.write, self.close = write, close


def _writer(out: Path, width: int, height: int, fps: float) -> _Writer:
    """H.264 through ffmpeg (browser-playable) where installed, else OpenCV's mp4v."""
    out.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        proc = subprocess.Popen(
            [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
             "-r", f"{fps:.6f}", "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)], stdin=subprocess.PIPE)

        def close() -> None:
            proc.stdin.close()
            if proc.wait() != 0:
                raise VideoError(f"ffmpeg could not write {out} (exit {proc.returncode})")

        return _Writer(lambda frame: proc.stdin.write(np.ascontiguousarray(frame).tobytes()), close)
    log.warning("ffmpeg is not installed: writing %s with OpenCV's mp4v, which browsers may not play", out)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"cannot write {out}")
    return _Writer(writer.write, writer.release)
