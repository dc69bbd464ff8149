"""The Python API: ``ferstream.analyze(...)`` for a DataFrame of faces, ``ferstream.Analyzer`` for your own frames.

This module sits on top, beside the CLI: it wires the stages (ingest, worker, db) as
``ferstream analyze`` does, and nothing below imports it.

    import ferstream

    faces = ferstream.analyze("talk.mp4", sample_fps=5)              # one row per face, as `ferstream export`
    ferstream.summarize(faces)                                       # faces per emotion, uncertain faces left out
    faces = ferstream.analyze(cv2.imread("group.jpg"))               # an image: a path or a BGR / grey array
    analyzer = ferstream.Analyzer(detector="blazeface")              # detector and model loaded once
    for result in analyzer.analyze_frames(camera_frames()):         # your own frames (BGR or grey arrays), as they come
        print(result.boxes, result.emotions, result.track_ids)
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ferstream.errors import ConfigError, FrameError
from ferstream.native_logs import quiet_video_logs
from ferstream.ingest.photos import read_photo
from ferstream.ingest.video import is_photo
from ferstream.settings import Settings, photo_min_face, positive_number

@dataclass
class FaceResults:
    """The faces of one frame: boxes (N x 4: x, y, w, h in the frame's pixels), probabilities (N x labels),
    the label and confidence of each face, and each face's track (ids from 1, as in exports) in the analyzer's
    sequence of frames; each face's ``quality`` (0..1, NaN where not measured) and whether it is ``uncertain`` (its
    emotion is not to be trusted: too turned, blurred, dark or small)."""

    frame_index: int
    boxes: np.ndarray
    probabilities: np.ndarray
    labels: tuple[str, ...]
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quality: np.ndarray | None = None
    uncertain: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.quality is None:
            self.quality = np.full(len(self.boxes), np.nan, np.float32)
        if self.uncertain is None:
            self.uncertain = np.zeros(len(self.boxes), bool)

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

    ``analyze_frames`` is a generator: it yields each frame's faces as soon as that frame is analysed, so it can
    follow a camera that never ends. Successive calls continue one sequence (the same frame count, the same tracks,
    the faces already found followed rather than searched for again); ``reset()`` starts a new video.
    ``detector``, ``min_face`` and ``model`` default to the settings (``FERSTREAM_*``, as the CLI).
    """

    def __init__(self, *, detector: str | None = None, min_face: float | None = None, model: str | os.PathLike | None = None,
                 analysis_width: int | None = None):
        from ferstream.worker.runtime import Runtime

        quiet_video_logs()
        self.settings = Settings.from_env(detector=detector, min_face=min_face, analysis_width=analysis_width,
                                          model_path=_model_path(model))
        self._runtime = Runtime(self.settings)
        self._analyzer = self._runtime.analyzer  # loads the detector and the model now: errors surface here
        self.reset()

    @property
    def labels(self) -> tuple[str, ...]:
        return self._analyzer.labels

    def reset(self) -> None:
        """Start a new sequence: frame indexes from 0, new tracks, a full search for faces in the next frame."""
        from ferstream.worker.tracker import FrameTracker

        self._sequence = self._analyzer.sequence()
        self._tracker = FrameTracker()
        self._next_index, self._next_time = 0, 0.0

    def analyze_frames(self, frames: Iterable[np.ndarray], fps: float = 25.0) -> Iterator[FaceResults]:
        """Faces and emotions of each of consecutive frames (BGR ``H x W x 3`` or grey ``H x W`` uint8 arrays),
        ``fps`` apart, yielded frame by frame as they are analysed; they continue the frames of earlier calls."""
        from ferstream.ingest.video import analysis_scale, detail_scale, to_analysis_frames
        from ferstream.results import Frame

        step = 1.0 / positive_number(fps, "fps")
        for image in frames:
            index = self._next_index
            image = as_image(image, f"frame {index}")
            h, w = image.shape[:2]
            scale = analysis_scale(w, self.settings.analysis_width, h, self.settings.min_face)
            copy = self.settings.sends_detail and self._sequence.discovery_due(self._next_time)  # as ingest sends one
            grey, detail = to_analysis_frames(image, scale, detail_scale(w, scale) if copy else None)
            (result,) = self._analyzer.analyze([Frame(index, self._next_time, grey, None, scale, detail)],
                                               self._sequence)
            ids = self._tracker.update(result.boxes, index, self._next_time)
            self._next_index, self._next_time = index + 1, self._next_time + step
            yield FaceResults(index, result.boxes, result.probabilities, self.labels, ids + 1,  # ids from 1, as exports
                              result.quality, result.uncertain)


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
            model: str | os.PathLike | None = None, include_uncertain: bool = False,
            rules: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per face, with the columns of ``ferstream export`` (track ids, smoothed emotions, each face's
    ``quality`` and ``uncertain`` flag included). Every face is a row; the smoothed emotions count a track's certain
    faces only (an uncertain face with no certain one near it has none) unless ``include_uncertain``.
    Photos are searched for faces down to ``settings.photo_min_face`` of their size unless ``min_face`` (or
    ``FERSTREAM_MIN_FACE``) says otherwise; videos down to the settings' ``min_face``.

    ``source``: a video file (a path or an http(s) URL), an image file, or an image array (BGR or grey uint8).
    Each is analysed in this process exactly as ``ferstream analyze`` does; with ``database`` (a SQLAlchemy URL)
    the results are also kept there, as a source named ``name`` (default: the file name, or "image" for an array);
    without, in a temporary database that is deleted afterwards.

    ``rules``: a rules file, as ``ferstream analyze --rules`` reads it (``ferstream.events``): its rules are evaluated
    on the source as its results land, and their changes delivered to its webhooks and MQTT broker before this
    returns; the events stay in ``database`` (``ferstream events list``). A bad rule is refused before anything runs.
    """
    from ferstream.ingest.files import ingest_file, ingest_image

    quiet_video_logs()
    image = None  # a photo's pixels (a video is read by ingest)
    if isinstance(source, np.ndarray):
        image = as_image(source)
        ingest = functools.partial(ingest_image, image=image, name=name or "image")
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if sample_fps is not None:
            sample_fps = positive_number(sample_fps, "sample_fps")
        if is_photo(path):
            image = read_photo(path)
            ingest = functools.partial(ingest_image, image=image, name=name or Path(path).name,
                                       uri=str(Path(path).resolve()), size_bytes=Path(path).stat().st_size)
        else:
            ingest = functools.partial(ingest_file, path=path, name=name, sample_fps=sample_fps)
    else:
        raise TypeError(f"ferstream.analyze: source must be a path (str or os.PathLike) of a video or an image, an "
                        f"http(s) URL of a video, or an image as a NumPy array; got {type(source).__name__}")
    if image is not None and min_face is None and not os.environ.get("FERSTREAM_MIN_FACE"):
        min_face = photo_min_face(image.shape[1], image.shape[0])  # one frame: search it for a group's small faces
    settings = Settings.from_env(detector=detector, min_face=min_face, model_path=_model_path(model))
    label = ingest.keywords.get("name") or _file_name(ingest.keywords["path"])  # the source's name (rules' sources)
    if rules is not None:
        from ferstream.events.run import rules_for_run

        events = rules_for_run(os.fspath(rules), [label])  # a bad rule is refused before anything runs
        ingest = functools.partial(_with_events, ingest, events, label)
    if database is not None:
        if not isinstance(database, str) or not database.strip():
            raise ConfigError(f"database: a SQLAlchemy URL such as sqlite:///ferstream.db, got {database!r}")
        return _rows(ingest, settings, database, include_uncertain)
    with tempfile.TemporaryDirectory(prefix="ferstream-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'analysis.db'}"
        try:
            return _rows(ingest, settings, url, include_uncertain)
        finally:
            from ferstream.db.engine import dispose

            dispose(url)  # close its connections before the temporary file goes


def _file_name(path: str) -> str:
    """A video's source name as ``ingest_file`` gives it without one."""
    from urllib.parse import urlsplit

    from ferstream.ingest.video import is_remote

    return Path(urlsplit(path).path if is_remote(path) else path).name


def _with_events(ingest, events, label: str, engine, **kwargs) -> int:
    """``ingest`` with a run's event rules bound to its source and their changes delivered before it returns."""
    from ferstream.events.run import EventsRun

    with EventsRun(engine, events, [label]) as run:
        source_id = ingest(engine, on_source=lambda sid: run.bind(sid, label), **kwargs)
        run.finish(file=io.StringIO())  # a library prints nothing: the events are in the database
    return source_id


def _rows(ingest, settings: Settings, database: str, include_uncertain: bool = False) -> pd.DataFrame:
    """Ingest into ``database`` in this process, as ``ferstream analyze`` without Redis (never a queue), and read
    the source's face rows back."""
    from ferstream import db
    from ferstream.db.queries import faces_table
    from ferstream.sinks import make_sink

    settings = replace(settings, database_url=database, redis_url=None)
    engine = db.connect(settings.database_url)
    source_id = ingest(engine, sink=make_sink(settings, engine), settings=settings)
    return faces_table(engine, source_id, include_uncertain=include_uncertain)


def summarize(faces: pd.DataFrame, *, include_uncertain: bool = False) -> pd.DataFrame:
    """Faces per emotion of a DataFrame of faces (as ``analyze`` returns, or a read ``ferstream export``): one row
    per emotion with ``faces``, ``share``, ``mean_confidence`` and ``uncertain`` (how many of the label's faces are
    uncertain), as ``ferstream analyze`` prints it. Uncertain faces are left out of faces, share and confidence
    unless ``include_uncertain``; ``summary["uncertain"].sum()`` says how many there were."""
    from ferstream.db.queries import summarize_groups

    if not isinstance(faces, pd.DataFrame) or not {"emotion", "confidence"} <= set(faces.columns):
        raise TypeError("ferstream.summarize: faces must be a DataFrame of faces with emotion and confidence columns "
                        f"(as ferstream.analyze returns), got {type(faces).__name__}")
    uncertain = faces["uncertain"].fillna(False).astype(bool) if "uncertain" in faces else False
    groups = (faces.assign(uncertain=uncertain).groupby(["emotion", "uncertain"], as_index=False)
              .agg(faces=("confidence", "size"), confidence_sum=("confidence", "sum")))
    return summarize_groups(groups, include_uncertain)


def _model_path(model: str | os.PathLike | None) -> Path | None:
    if model is None:
        return None
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model: a path to a .tflite emotion model, got {type(model).__name__}")
    return Path(model)
