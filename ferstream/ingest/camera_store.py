"""Cameras kept in the database, so that they can be added, changed and removed while a watch runs.

``ferstream watch --config FILE`` writes the file's cameras in when it starts (``sync_file``) and then runs what
the table holds (``running_cameras``), looking again every few seconds; the HTTP API (``/v1/cameras``) and
``ferstream cameras`` change the rows. What they change is kept: a camera the API edited or removed is no longer
overwritten (or brought back) by the file when the watch restarts; a file's camera that was neither, is.

Every value is checked as the cameras file's are (``ingest.cameras``): the same errors, the same names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from ferstream.db.models import CameraRow, utcnow
from ferstream.errors import ConfigError, FerstreamError
from ferstream.ingest.cameras import CAMERA_FIELDS, Camera, CameraConfig, _camera
from ferstream.urls import mask_secrets, scheme

#: the fields a caller may set (a camera's name is its key: set when added, never changed)
SETTABLE = tuple(f for f in CAMERA_FIELDS if f != "name")


class CameraNotFound(FerstreamError):
    """No camera has the name asked for."""


class CameraExists(FerstreamError):
    """A camera of that name is there already."""


@dataclass(frozen=True)
class StoredCamera:
    """A camera as kept: its settings, where it came from, and when it last changed (URL masked in ``shown``)."""

    name: str
    url: str
    sample_fps: float
    detector: str | None
    min_face: float | None
    enabled: bool
    retention: str | None
    origin: str
    edited: bool
    created_at: datetime
    updated_at: datetime

    def camera(self) -> Camera:
        return check_camera(self._fields())

    def _fields(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in CAMERA_FIELDS and v is not None}

    def shown(self) -> dict:
        """What may be shown: every field, the URL's password and secret parameters masked."""
        from ferstream.urls import mask_url

        return {**asdict(self), "url": mask_url(self.url)}


def check_camera(fields: dict, label: str | None = None) -> Camera:
    """``fields`` as a ``Camera``, checked as in a cameras file; ``ConfigError`` naming the field (values masked).
    A ``file://`` URL is refused: a camera is a live stream or a device."""
    label = label or f"camera {fields.get('name')!r}"
    url = fields.get("url")
    if isinstance(url, str) and scheme(url) == "file":
        raise ConfigError(f"{label}: url: a file:// URL is a video file, not a live stream")
    try:
        return _camera(dict(fields), label)
    except ConfigError as exc:
        raise ConfigError(mask_secrets(str(exc))) from None


def list_cameras(engine: Engine) -> list[StoredCamera]:
    """Every camera kept (not removed), by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(CameraRow).where(CameraRow.removed.is_(False)).order_by(CameraRow.name)).mappings().all()
    return [_stored(r) for r in rows]


def get_camera(engine: Engine, name: str) -> StoredCamera:
    with engine.connect() as conn:
        row = conn.execute(select(CameraRow).where(CameraRow.name == name, CameraRow.removed.is_(False))).mappings().first()
    if row is None:
        raise CameraNotFound(f"no camera named {name!r} (see `ferstream cameras list`)")
    return _stored(row)


def add_camera(engine: Engine, fields: dict, origin: str = "api") -> StoredCamera:
    """Add a camera (``name``, ``url`` and any of ``SETTABLE``); ``CameraExists`` for a name in use. ``origin``:
    who adds it, ``api`` (the HTTP API) or ``cli`` (``ferstream cameras add``)."""
    camera = check_camera(fields)
    values = _values(camera, fields)
    with engine.begin() as conn:
        row = conn.execute(select(CameraRow.removed).where(CameraRow.name == camera.name)).first()
        if row is not None and not row.removed:
            raise CameraExists(f"a camera named {camera.name!r} exists: change it (PATCH, `ferstream cameras add "
                               "--replace`) or pick another name")
        if row is not None:  # a removed camera's mark: the name is free again, and the API's choice is kept
            conn.execute(update(CameraRow).where(CameraRow.name == camera.name)
                         .values(**values, origin=origin, removed=False, edited=True, updated_at=utcnow()))
        else:
            conn.execute(insert(CameraRow).values(name=camera.name, **values, origin=origin, edited=True, removed=False,
                                                  created_at=utcnow(), updated_at=utcnow()))
    return get_camera(engine, camera.name)


def update_camera(engine: Engine, name: str, changes: dict) -> StoredCamera:
    """Change some of a camera's fields (``SETTABLE``; ``None`` puts an optional one back to its default)."""
    unknown = sorted(set(changes) - set(SETTABLE))
    if unknown:
        raise ConfigError(f"camera {name!r}: cannot change {', '.join(unknown)} (can: {', '.join(SETTABLE)})")
    current = get_camera(engine, name)
    merged = {**current._fields(), **changes, "name": name}
    camera = check_camera({k: v for k, v in merged.items() if v is not None})
    with engine.begin() as conn:
        conn.execute(update(CameraRow).where(CameraRow.name == name)
                     .values(**_values(camera, merged), edited=True, updated_at=utcnow()))
    return get_camera(engine, name)


def remove_camera(engine: Engine, name: str) -> None:
    """Remove a camera: a running watch stops it; the mark stays, so that a restart does not bring it back."""
    get_camera(engine, name)
    with engine.begin() as conn:
        conn.execute(update(CameraRow).where(CameraRow.name == name)
                     .values(removed=True, edited=True, enabled=False, updated_at=utcnow()))


def sync_file(engine: Engine, config: CameraConfig) -> None:
    """Write a cameras file's cameras in, as a watch starts: new ones added, those the API has not changed brought
    up to the file; a file's camera the file no longer lists (and the API never changed) goes."""
    names = {c.name for c in config.cameras}
    with engine.begin() as conn:
        kept = {r.name: r for r in conn.execute(select(CameraRow.name, CameraRow.origin, CameraRow.edited))}
        for camera in config.cameras:
            values = _values(camera, {"retention": _retention_text(camera)})
            row = kept.get(camera.name)
            if row is None:
                conn.execute(insert(CameraRow).values(name=camera.name, **values, origin="file", edited=False,
                                                      removed=False, created_at=utcnow(), updated_at=utcnow()))
            elif not row.edited:
                conn.execute(update(CameraRow).where(CameraRow.name == camera.name)
                             .values(**values, origin="file", updated_at=utcnow()))
        gone = [n for n, r in kept.items() if r.origin == "file" and not r.edited and n not in names]
        if gone:
            conn.execute(delete(CameraRow).where(CameraRow.name.in_(gone)))


def running_cameras(engine: Engine) -> list[Camera]:
    """The cameras a watch runs now: every enabled one kept."""
    return [c.camera() for c in list_cameras(engine) if c.enabled]


def _values(camera: Camera, given: dict) -> dict:
    return dict(url=camera.url, sample_fps=camera.sample_fps, detector=camera.detector, min_face=camera.min_face,
                enabled=camera.enabled, retention=str(given["retention"]) if given.get("retention") else None)


def _retention_text(camera: Camera) -> str | None:
    if camera.retention is None:
        return None
    return f"{int(camera.retention.total_seconds())}s"


def _stored(row) -> StoredCamera:
    return StoredCamera(row["name"], row["url"], row["sample_fps"], row["detector"], row["min_face"], bool(row["enabled"]),
                        row["retention"], row["origin"], bool(row["edited"]), _utc(row["created_at"]),
                        _utc(row["updated_at"]))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at  # SQLite: naive UTC
