"""Settings shared by every stage, read from the environment (the CLI overrides them).

Each ``DEFAULT_*`` constant documents one default.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ferstream.emotion_model import DEFAULT_MODEL
from ferstream.errors import ConfigError

#: the embedded default database: a SQLite file in the working directory
DEFAULT_DATABASE_URL = "sqlite:///ferstream.db"
#: RQ queue the workers listen on
DEFAULT_QUEUE = "ferstream"
#: seconds of video per queued work unit (one RQ job)
DEFAULT_CHUNK_SECONDS = 1.0
#: frames wider than this are scaled down (grey) before detection; 0 keeps full resolution
DEFAULT_ANALYSIS_WIDTH = 640
#: smallest face detected, as a fraction of the frame's shorter side (0.13: 47 px in 640x360). Frames are
#: scaled down for detection until such a face fills the Haar window (24 px), so detection costs the same at
#: any resolution; a smaller fraction finds smaller faces, more slowly (the cost grows with 1 / fraction^2)
DEFAULT_MIN_FACE = 0.13
#: ... and in a still photo, which costs one frame: small enough for the faces at the back of a group photo (measured
#: on labelled group photos: docs/measurements.md, "Photos"); --min-face or FERSTREAM_MIN_FACE set one size for both
DEFAULT_PHOTO_MIN_FACE = 0.03
#: ... but never a face under this many pixels, too small to read an emotion from (a 16-pixel model shuttle in
#: skimage's 512-pixel astronaut photo passed for a face at 3%)
MIN_PHOTO_FACE_PX = 24


def photo_min_face(width: int, height: int) -> float:
    """The smallest face searched in a photo of this size by default: ``DEFAULT_PHOTO_MIN_FACE`` of its shorter side,
    and at least ``MIN_PHOTO_FACE_PX`` pixels."""
    return min(1.0, max(DEFAULT_PHOTO_MIN_FACE, MIN_PHOTO_FACE_PX / max(1, min(width, height))))
#: face detectors (worker/detectors.py): "haar", OpenCV's frontal cascade, or "blazeface", MediaPipe's BlazeFace
#: full-range model run with LiteRT, which also finds faces turned, tilted, laughing and small (docs/detection-and-tracks.md)
DETECTORS = ("haar", "blazeface")
DEFAULT_DETECTOR = "blazeface"
#: Haar cascade: size step between scanned scales, and overlapping hits needed to report a face
DEFAULT_SCALE_FACTOR = 1.1
DEFAULT_MIN_NEIGHBORS = 5
#: seconds between full-frame face scans while the faces already found are followed frame to frame (a new face
#: is found at the next full scan); 0 scans every frame in full
DEFAULT_RESCAN_SECONDS = 0.25
#: seconds between discovery scans, and one at the start of every chunk: the detector's finest scan (BlazeFace:
#: the whole analysis frame in tiles at its model's own input size), for faces smaller than the full scans see, down
#: to 16 analysis pixels (3% of a 16:9 frame's height: a meeting's gallery view, an audience); the faces it finds
#: are followed between scans like any other. 0 turns it off (the smallest face is then --min-face's)
DEFAULT_DISCOVER_SECONDS = 1.0
#: the detectors with discovery scans: ingest sends them a higher-resolution copy of the frames where one may be due
#: (``results.Frame.detail``)
DISCOVERING_DETECTORS = ("blazeface",)
#: JPEG quality of the grey frames queued in Redis
DEFAULT_JPEG_QUALITY = 90
#: seconds a queued chunk's frames live in Redis before they expire
DEFAULT_CHUNK_TTL = 24 * 3600
#: seconds RQ keeps a failed job's record (its arguments hold only keys, never frames)
DEFAULT_FAILURE_TTL = 7 * 24 * 3600
#: seconds RQ keeps a finished job's record: nothing reads it (the results are in the database), and at an hour
#: finished jobs were the largest use of Redis memory with many cameras (docs/scaling.md: 6.3 kB each)
DEFAULT_RESULT_TTL = 300
#: seconds one chunk may take before RQ gives up on it
DEFAULT_JOB_TIMEOUT = 300
#: times a failed chunk is retried, and the seconds before each try. The first retry is immediate: a chunk
#: abandoned by a killed worker goes straight back to the queue (a delayed retry waits for RQ's scheduler,
#: whose lock a killed worker holds for another minute); later ones back off (a database outage)
DEFAULT_RETRIES = 6
DEFAULT_RETRY_INTERVALS = (0, 10, 30, 60, 120, 300)
#: most chunks of one source waiting in Redis; a file source waits for room
DEFAULT_MAX_PENDING_CHUNKS = 32
#: the address ``--metrics-port`` listens on unless ``--metrics-host`` says otherwise: this machine only (the figures
#: name cameras and sources); a Prometheus elsewhere needs ``--metrics-host 0.0.0.0`` (the compose file sets it)
DEFAULT_METRICS_HOST = "127.0.0.1"
#: sampling of live sources, frames per second
DEFAULT_LIVE_SAMPLE_FPS = 5.0
#: live pictures (``--preview``): the workers draw the faces they found onto the frames they analysed, for the HTTP
#: API's live.mjpeg and snapshot.jpg and the dashboard's Live page. "on": as analysed (grey, at the analysis width);
#: "blur": the faces blurred under their labels; "off": never drawn. From the most private to the least: a worker
#: draws by the more private of its own setting and the one the chunk was queued with. Pictures live in Redis only
#: (never in the database or on disk), for ``DEFAULT_PREVIEW_TTL`` seconds, and are drawn only while someone watches
PREVIEW_MODES = ("off", "blur", "on")
DEFAULT_PREVIEW = "on"
#: the most live pictures a second per source (``--preview-fps``): the bound on what drawing costs the workers
DEFAULT_PREVIEW_FPS = 5.0
#: seconds of a live source per work unit: short, so a frame reaches the database well within a second
DEFAULT_LIVE_CHUNK_SECONDS = 0.4


def positive_number(value: object, what: str) -> float:
    """``value`` as a finite number above 0 (frames per second, seconds); ``ConfigError`` naming ``what`` for
    anything else, in the command line's words (``cli.options.positive_number`` parses its text, then asks this)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{what}: not a number: {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{what}: must be a finite number above 0, got {value!r}")
    return float(value)


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    queue: str = DEFAULT_QUEUE
    model_path: Path = DEFAULT_MODEL
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    live_chunk_seconds: float = DEFAULT_LIVE_CHUNK_SECONDS
    analysis_width: int = DEFAULT_ANALYSIS_WIDTH
    min_face: float = DEFAULT_MIN_FACE
    detector: str = DEFAULT_DETECTOR
    rescan_seconds: float = DEFAULT_RESCAN_SECONDS
    discover_seconds: float = DEFAULT_DISCOVER_SECONDS
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    chunk_ttl: int = DEFAULT_CHUNK_TTL
    failure_ttl: int = DEFAULT_FAILURE_TTL
    job_timeout: int = DEFAULT_JOB_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_intervals: tuple[int, ...] = field(default=DEFAULT_RETRY_INTERVALS)
    max_pending_chunks: int = DEFAULT_MAX_PENDING_CHUNKS
    store_faces: bool = False
    preview: str = DEFAULT_PREVIEW
    preview_fps: float = DEFAULT_PREVIEW_FPS

    @property
    def sends_detail(self) -> bool:
        """Whether ingest adds a higher-resolution copy to the frames where a discovery scan may be due."""
        return self.discover_seconds > 0 and self.detector in DISCOVERING_DETECTORS

    def __post_init__(self) -> None:
        if isinstance(self.min_face, bool) or not isinstance(self.min_face, numbers.Real) or not 0 < self.min_face <= 1:
            raise ConfigError(f"min face (--min-face or FERSTREAM_MIN_FACE) is a fraction of the frame's shorter side "
                              f"in (0, 1], got {self.min_face!r}")
        if self.detector not in DETECTORS:
            raise ConfigError(f"unknown detector {self.detector!r} (--detector or FERSTREAM_DETECTOR): choose one of "
                              f"{', '.join(DETECTORS)}")
        if isinstance(self.analysis_width, bool) or not isinstance(self.analysis_width, numbers.Integral) or self.analysis_width < 0:
            raise ConfigError(f"analysis width (--analysis-width or FERSTREAM_ANALYSIS_WIDTH) is a width in pixels, "
                              f"0 for full resolution, got {self.analysis_width!r}")
        if self.preview not in PREVIEW_MODES:
            raise ConfigError(f"live pictures (--preview or FERSTREAM_PREVIEW): one of {', '.join(PREVIEW_MODES)}, got "
                              f"{self.preview!r}")
        positive_number(self.preview_fps, "live pictures a second (--preview-fps or FERSTREAM_PREVIEW_FPS)")
        if self.rescan_seconds < 0:
            raise ConfigError(f"FERSTREAM_RESCAN_SECONDS must be 0 or more, got {self.rescan_seconds}")
        if not self.discover_seconds >= 0:
            raise ConfigError(f"FERSTREAM_DISCOVER_SECONDS must be 0 (off) or more, got {self.discover_seconds}")

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Settings from ``DATABASE_URL``, ``REDIS_URL``, ``FERSTREAM_*``; ``None`` overrides are ignored."""
        env = dict(
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=os.environ.get("REDIS_URL") or None,
            queue=os.environ.get("FERSTREAM_QUEUE") or DEFAULT_QUEUE,
            model_path=Path(os.environ.get("FERSTREAM_MODEL") or DEFAULT_MODEL),
            chunk_seconds=_env_float("FERSTREAM_CHUNK_SECONDS", DEFAULT_CHUNK_SECONDS),
            live_chunk_seconds=_env_float("FERSTREAM_LIVE_CHUNK_SECONDS", DEFAULT_LIVE_CHUNK_SECONDS),
            analysis_width=int(_env_float("FERSTREAM_ANALYSIS_WIDTH", DEFAULT_ANALYSIS_WIDTH)),
            min_face=_env_float("FERSTREAM_MIN_FACE", DEFAULT_MIN_FACE),
            detector=os.environ.get("FERSTREAM_DETECTOR") or DEFAULT_DETECTOR,
            rescan_seconds=_env_float("FERSTREAM_RESCAN_SECONDS", DEFAULT_RESCAN_SECONDS),
            discover_seconds=_env_float("FERSTREAM_DISCOVER_SECONDS", DEFAULT_DISCOVER_SECONDS),
            max_pending_chunks=int(_env_float("FERSTREAM_MAX_PENDING_CHUNKS", DEFAULT_MAX_PENDING_CHUNKS)),
            store_faces=os.environ.get("FERSTREAM_STORE_FACES", "") in ("1", "true", "yes"),
            preview=os.environ.get("FERSTREAM_PREVIEW") or DEFAULT_PREVIEW,
            preview_fps=_env_float("FERSTREAM_PREVIEW_FPS", DEFAULT_PREVIEW_FPS),
        )
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**env)

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
