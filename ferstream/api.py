"""The Python API: ``ferstream.analyze(...)`` for a DataFrame of faces, ``ferstream.Analyzer`` for your own frames.

This module sits on top, beside the CLI: it wires the stages (ingest, worker, db) as
``ferstream analyze`` does, and nothing below imports it.

    import ferstream

    faces = ferstream.analyze("talk.mp4", sample_fps=5)              # one row per face, as `ferstream export`
    faces = ferstream.analyze(cv2.imread("group.jpg"))               # an image: a path or a BGR / grey array
    analyzer = ferstream.Analyzer(detector="blazeface")              # detector and model loaded once
    for result in analyzer.analyze_frames(my_frames):               # your own frames (BGR or grey arrays)
        print(result.boxes, result.emotions, result.probabilities)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ferstream.errors import FrameError, VideoError
from ferstream.settings import Settings

#: file suffixes read as still images rather than videos
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class FaceResults:
    """The faces of one frame: boxes (N x 4: x, y, w, h in the frame's pixels), probabilities (N x labels),
    the label and confidence of each face, and each face's track within the frames analysed together."""

    frame_index: int
    boxes: np.ndarray
    probabilities: np.ndarray
    labels: tuple[str, ...]
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def emotions(self) -> list[str]:
        return [self.labels[i] for i in self.probabilities.argmax(axis=1)] if len(self.probabilities) else []

    @property
    def confidences(self) -> np.ndarray:
        return self.probabilities.max(axis=1) if len(self.probabilities) else np.zeros(0, np.float32)

    def __len__(self) -> int:
        return len(self.boxes)


class Analyzer:
    """Face detector and emotion model, loaded once, for frames you bring (a camera SDK, a video you decode).

    ``detector``, ``min_face`` and ``model`` default to the settings (``FERSTREAM_*``, as the CLI).
    """

    def __init__(self, *, detector: str | None = None, min_face: float | None = None, model: str | os.PathLike | None = None,
                 analysis_width: int | None = None):
        from ferstream.worker.runtime import Runtime

        self.settings = Settings.from_env(detector=detector, min_face=min_face, analysis_width=analysis_width,
                                          model_path=Path(model) if model else None)
        self._runtime = Runtime(self.settings)
        self._analyzer = self._runtime.analyzer  # loads the detector and the model now: errors surface here

    @property
    def labels(self) -> tuple[str, ...]:
        return self._analyzer.labels

    def analyze_frames(self, frames: Iterable[np.ndarray], fps: float = 25.0) -> list[FaceResults]:
        """Faces and emotions of consecutive frames (BGR ``H x W x 3`` or grey ``H x W`` uint8 arrays), ``fps`` apart."""
        from ferstream.results import Frame
        from ferstream.ingest.video import analysis_scale, to_analysis_frame
        from ferstream.worker.tracker import track_chunk

        analysed = []
        for i, image in enumerate(frames):
            image = as_image(image, f"frame {i}")
            h, w = image.shape[:2]
            scale = analysis_scale(w, self.settings.analysis_width, h, self.settings.min_face)
            analysed.append(Frame(i, i / fps, to_analysis_frame(image, scale), None, scale))
        results = self._analyzer.analyze(analysed) if analysed else []
        tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results],
                             [r.frame.timestamp for r in results])
        return [FaceResults(r.frame.index, r.boxes, r.probabilities, self.labels, ids)
                for r, ids in zip(results, tracks.local_ids)]


def as_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """``image`` as a BGR or grey uint8 array; ``FrameError`` saying what is wrong with anything else."""
    if not isinstance(image, np.ndarray):
        raise FrameError(f"{what}: expected a NumPy array (BGR H x W x 3 or grey H x W), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise FrameError(f"{what}: expected uint8 pixels (0-255), got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]  # BGRA: the alpha channel is not needed
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or min(image.shape[:2]) < 8:
        raise FrameError(f"{what}: expected a BGR (H x W x 3) or grey (H x W) image of at least 8x8 pixels, "
                         f"got shape {image.shape}")
    return image


def analyze(source: str | os.PathLike | np.ndarray, *, sample_fps: float | None = None, detector: str | None = None,
            min_face: float | None = None, database: str | None = None, name: str | None = None,
            model: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per face, with the columns of ``ferstream export`` (track ids and smoothed emotions included).

    ``source``: a video file (a path or an http(s) URL), an image file, or an image array (BGR or grey uint8).
    Videos are analysed in this process exactly as ``ferstream analyze`` does; with ``database`` (a SQLAlchemy
    URL) the results are also kept there, as a source named ``name`` (default: the file name); without, in a
    temporary database that is deleted afterwards.
    """
    if isinstance(source, np.ndarray):
        return _image_rows(as_image(source), name or "image", detector, min_face, model)
    path = str(source)
    if Path(path).suffix.lower() in IMAGE_SUFFIXES and "://" not in path:
        import cv2

        if not Path(path).is_file():
            raise VideoError(f"{path}: no such file")
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise VideoError(f"{path}: not an image OpenCV can read")
        return _image_rows(image, name or Path(path).name, detector, min_face, model)
    if database:
        return _video_rows(path, database, name, sample_fps, detector, min_face, model)
    with tempfile.TemporaryDirectory(prefix="ferstream-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'analysis.db'}"
        try:
            return _video_rows(path, url, name, sample_fps, detector, min_face, model)
        finally:
            from ferstream.db.engine import dispose

            dispose(url)  # close its connections before the temporary file goes


def _video_rows(path, database, name, sample_fps, detector, min_face, model) -> pd.DataFrame:
    from ferstream import db
    from ferstream.db.queries import faces_table
    from ferstream.sinks import make_sink
    from ferstream.ingest.files import ingest_file

    from dataclasses import replace

    from ferstream.errors import ConfigError

    if sample_fps is not None and not (np.isfinite(sample_fps) and sample_fps > 0):
        raise ConfigError(f"sample_fps must be a finite number above 0, got {sample_fps}")
    settings = replace(Settings.from_env(database_url=database, detector=detector, min_face=min_face,
                                         model_path=Path(model) if model else None),
                       redis_url=None)  # this process analyses, as `ferstream analyze` without Redis: never a queue
    engine = db.connect(settings.database_url)
    source_id = ingest_file(engine, path, make_sink(settings, engine), settings, name=name, sample_fps=sample_fps)
    return faces_table(engine, source_id)


def _image_rows(image: np.ndarray, name: str, detector, min_face, model) -> pd.DataFrame:
    from ferstream.db.queries import EXPORT_COLUMNS, smooth

    analyzer = Analyzer(detector=detector, min_face=min_face, model=model)
    (result,) = analyzer.analyze_frames([image])
    rows = []
    for i, (box, probs) in enumerate(zip(result.boxes.tolist(), result.probabilities.tolist())):
        best = int(np.argmax(probs))
        rows.append({"source": name, "frame_index": 0, "timestamp": 0.0, "captured_at": None, "face_index": i,
                     "track_id": int(result.track_ids[i]) + 1, "x": box[0], "y": box[1], "w": box[2], "h": box[3],
                     "emotion": analyzer.labels[best], "confidence": probs[best],
                     **dict(zip(analyzer.labels, probs)), "model_version": analyzer._analyzer.model_version})
    if not rows:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    df = pd.DataFrame(rows)
    df["track_id"] = df["track_id"].astype("Int64")
    return smooth(df)[EXPORT_COLUMNS]
