"""The cameras file of ``ferstream watch --config cameras.yaml``: many live sources, checked before any starts.

```yaml
retention: 30d              # optional: prune results older than this while watching (ferstream prune)
defaults:                   # optional: what every camera has unless it says otherwise
  sample_fps: 5
cameras:
  - name: lobby             # unique; the source's name in status, exports and the dashboard
    url: rtsp://cam1.local/stream   # or a device: 0, /dev/video0
    sample_fps: 5           # frames per second analysed (default 5)
    detector: blazeface     # haar | blazeface (default: --detector, FERSTREAM_DETECTOR)
    min_face: 0.05          # smallest face, share of the frame's shorter side (default: --min-face)
    enabled: true           # false: listed, not watched
    retention: 7d           # optional: this camera's results are kept this long (default: the file's retention)
rules: [...]                # optional: event rules, webhooks and MQTT, as in a --rules file (ferstream.events.rules);
webhooks: [...]             # a rule's `sources:` names cameras
mqtt: {...}
```

Every error names the file, the camera and the field.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ferstream.errors import ConfigError, UrlRefused
from ferstream.events.rules import EventsConfig, parse_events, read_yaml
from ferstream.settings import DEFAULT_LIVE_SAMPLE_FPS, DETECTORS
from ferstream.urls import check_camera_url, mask_secrets, mask_url

CAMERA_FIELDS = ("name", "url", "sample_fps", "detector", "min_face", "enabled", "retention")
TOP_FIELDS = ("cameras", "defaults", "retention", "rules", "webhooks", "mqtt")


@dataclass(frozen=True)
class Camera:
    """One live source of a cameras file."""

    name: str
    url: str
    sample_fps: float = DEFAULT_LIVE_SAMPLE_FPS
    detector: str | None = None  # None: the settings' detector
    min_face: float | None = None  # None: the settings' smallest face
    enabled: bool = True
    retention: timedelta | None = None  # None: the file's (or --retention)

    @property
    def display_url(self) -> str:
        return mask_url(self.url)


@dataclass(frozen=True)
class CameraConfig:
    cameras: tuple[Camera, ...]
    retention: timedelta | None = None
    events: EventsConfig = EventsConfig()  # the file's rules, webhooks and MQTT

    @property
    def enabled(self) -> tuple[Camera, ...]:
        return tuple(c for c in self.cameras if c.enabled)


def load_cameras(path: str | os.PathLike) -> CameraConfig:
    """Read and check a cameras file; ``ConfigError`` naming the camera and field for anything wrong."""
    path = Path(path)
    data = read_yaml(path, "cameras file")
    try:
        return parse_cameras(data, str(path))
    except ConfigError as exc:  # a value quoted in the message may be a camera's URL, password and all
        raise ConfigError(mask_secrets(str(exc))) from None


def parse_cameras(data: object, where: str = "cameras file") -> CameraConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with a `cameras:` list, got {type(data).__name__}")
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(map(str, unknown))} (known: {', '.join(TOP_FIELDS)})")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: defaults: expected a mapping of camera fields")
    _check_fields(defaults, f"{where}: defaults", allowed=set(CAMERA_FIELDS) - {"name", "url"})
    entries = data.get("cameras")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: cameras: expected a non-empty list of cameras (each with a name and a url)")
    cameras, names = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: camera #{i + 1}: expected a mapping (name, url, ...), got {entry!r}")
        label = f"{where}: camera {entry.get('name')!r}" if entry.get("name") else f"{where}: camera #{i + 1}"
        camera = _camera({**defaults, **entry}, label)
        if camera.name in names:
            raise ConfigError(f"{label}: name: used by another camera (names must be unique)")
        names.add(camera.name)
        cameras.append(camera)
    events = parse_events(data, where, sorted(names)) if any(k in data for k in ("rules", "webhooks", "mqtt")) \
        else EventsConfig()
    return CameraConfig(tuple(cameras), _duration(data.get("retention"), f"{where}: retention"), events)


def _duration(value: object, label: str) -> timedelta | None:
    if value is None:
        return None
    from ferstream.db.retention import parse_duration

    try:
        return parse_duration(str(value))
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from None


def _check_fields(entry: dict, label: str, allowed: set[str]) -> None:
    unknown = sorted(set(map(str, entry)) - allowed)
    if unknown:
        raise ConfigError(f"{label}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")


def _camera(entry: dict, label: str) -> Camera:
    _check_fields(entry, label, set(CAMERA_FIELDS))
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{label}: name: required, a non-empty string")
    url = entry.get("url")
    if isinstance(url, int) and not isinstance(url, bool):
        url = str(url)  # a camera index
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{label}: url: required: a stream URL (rtsp://, http://) or a device (0, /dev/video0)")
    try:
        url = check_camera_url(url)
    except UrlRefused as exc:
        raise ConfigError(f"{label}: url: {exc}") from None
    fps = entry.get("sample_fps", DEFAULT_LIVE_SAMPLE_FPS)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise ConfigError(f"{label}: sample_fps: a number of frames per second above 0, got {fps!r}")
    detector = entry.get("detector")
    if detector is not None and detector not in DETECTORS:
        raise ConfigError(f"{label}: detector: one of {', '.join(DETECTORS)}, got {detector!r}")
    min_face = entry.get("min_face")
    if min_face is not None and (isinstance(min_face, bool) or not isinstance(min_face, (int, float))
                                 or not 0 < min_face <= 1):
        raise ConfigError(f"{label}: min_face: a share of the frame's shorter side in (0, 1], got {min_face!r}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{label}: enabled: true or false, got {enabled!r}")
    return Camera(name.strip(), url.strip(), float(fps), detector, None if min_face is None else float(min_face), enabled,
                  _duration(entry.get("retention"), f"{label}: retention"))
