"""What a worker process loads once and reuses for every job: settings, database, analyzer.

Loaded lazily on first use (after any fork), never per job or per frame.
"""

from __future__ import annotations

import logging
import os
from functools import cached_property

from ferstream.emotion_model import EmotionModel
from ferstream.settings import Settings
from ferstream.worker.analysis import Analyzer
from ferstream.worker.detectors import make_detector

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.pid = os.getpid()
        self._analyzers: dict[tuple[str, float], Analyzer] = {}

    @cached_property
    def engine(self):
        from ferstream import db

        return db.connect(self.settings.database_url)

    @cached_property
    def database_id(self) -> str:
        from ferstream.db.identity import database_id

        return database_id(self.engine)

    @cached_property
    def model(self) -> EmotionModel:
        threads = int(os.environ.get("FERSTREAM_MODEL_THREADS") or 0)
        if threads:  # several worker processes share the cores: OpenCV takes the same share as the model
            import cv2

            cv2.setNumThreads(threads)
        model = EmotionModel(self.settings.model_path)
        log.info("loaded model %s (version %s) in process %d", model.path, model.version, os.getpid())
        return model

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer with this process's settings (loaded on first use)."""
        return self.analyzer_for()

    def analyzer_for(self, detector: str | None = None, min_face: float | None = None) -> Analyzer:
        """The analyzer for a detector and smallest face (default: the settings'), loaded once per process and kept."""
        key = (detector or self.settings.detector, min_face or self.settings.min_face)
        if key not in self._analyzers:
            self._analyzers[key] = self.new_analyzer(*key)
        return self._analyzers[key]

    def new_analyzer(self, detector: str, min_face: float) -> Analyzer:
        """An analyzer of this runtime's model with a detector of its own (the HTTP API keeps a few, for photos)."""
        found = make_detector(detector, min_face)
        log.info("face detector %s (smallest face %.0f%% of the frame's shorter side) in process %d", found.name,
                 100 * min_face, os.getpid())
        return Analyzer(self.model, found, keep_crops=self.settings.store_faces, rescan_s=self.settings.rescan_seconds,
                        discover_s=self.settings.discover_seconds)


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """This process's runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    elif _runtime.pid != os.getpid():  # a forked child (RQ's WorkerPool): same settings, its own resources
        _runtime = Runtime(_runtime.settings)
    return _runtime


def set_runtime(runtime: Runtime) -> None:
    """Use ``runtime`` in this process (the CLI does this with its own settings)."""
    global _runtime
    _runtime = runtime
