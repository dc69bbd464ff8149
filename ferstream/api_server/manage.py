"""The CLI's side of what the HTTP API serves: ``ferstream apikey create/list/revoke`` and
``ferstream cameras add/list/remove`` (the same functions the routes call)."""

from __future__ import annotations

from ferstream.settings import Settings
from ferstream.urls import mask_url


def apikey_create(settings: Settings, name: str, read_only: bool) -> int:
    from ferstream import db
    from ferstream.db.api_keys import create_key

    info, key = create_key(db.connect(settings.database_url), name, read_only)
    print(f"API key {info.id} {info.name!r} ({'read-only' if info.read_only else 'read and write'}) made for the "
          f"database {mask_url(settings.database_url)}. Keep it now: it is not shown again, only its hash is kept.")
    print(key)
    return 0


def apikey_list(settings: Settings) -> int:
    from ferstream import db
    from ferstream.db.api_keys import list_keys

    keys = list_keys(db.connect_existing(settings.database_url))
    if not keys:
        print("no API keys yet: make one with `ferstream apikey create --name NAME`")
        return 0
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        print(f"{k.id:>4}  {k.name:<24} {k.prefix}...  {'read-only ' if k.read_only else 'read-write'}  "
              f"created {k.created_at:%Y-%m-%d %H:%M}  {state}")
    return 0


def apikey_revoke(settings: Settings, ref: str) -> int:
    from ferstream import db
    from ferstream.db.api_keys import revoke_key

    revoked, before = revoke_key(db.connect_existing(settings.database_url), ref)
    if not revoked:
        print(f"nothing to revoke: {_keys(before)} {'was' if len(before) == 1 else 'were'} revoked already")
        return 0
    print(f"revoked {len(revoked)} API key{'s' if len(revoked) > 1 else ''}: {_keys(revoked)}; refused from the next "
          "request on" + (f" ({len(before)} more of that name revoked already)" if before else ""))
    return 0


def _keys(keys) -> str:
    """"key 3 'web' (fsk_AbCdEf...)" for each key, joined."""
    return ", ".join(f"key {k.id} {k.name!r} ({k.prefix}...)" for k in keys)


#: where a camera came from (its ``origin``), as ``cameras list`` says it
ORIGINS = {"file": "from the cameras file", "api": "added over the HTTP API", "cli": "added with `ferstream cameras add`"}


def cameras_add(settings: Settings, fields: dict, replace: bool = False) -> int:
    from ferstream import db
    from ferstream.ingest.camera_store import CameraExists, add_camera, update_camera

    engine = db.connect(settings.database_url)
    try:
        stored = add_camera(engine, fields, origin="cli")
        done = "added"
    except CameraExists:
        if not replace:
            raise
        stored = update_camera(engine, fields["name"], {k: v for k, v in fields.items() if k != "name"})
        done = "changed"
    print(f"{done} camera {stored.name} ({mask_url(stored.url)}, {'enabled' if stored.enabled else 'disabled'}): a "
          "running `ferstream watch --config` picks it up within seconds")
    return 0


def cameras_list(settings: Settings) -> int:
    from ferstream import db
    from ferstream.ingest.camera_store import list_cameras

    cameras = list_cameras(db.connect_existing(settings.database_url))
    if not cameras:
        print("no cameras yet: `ferstream cameras add NAME URL`, or `ferstream watch --config FILE` writes a file's in")
        return 0
    for c in cameras:
        extra = [f"{c.sample_fps:g} fps"] + [f"{k} {v}" for k, v in (("detector", c.detector), ("min_face", c.min_face),
                                                                      ("retention", c.retention)) if v is not None]
        print(f"{c.name:<20} {'enabled ' if c.enabled else 'disabled'} {mask_url(c.url):<40} {', '.join(extra)} "
              f"({ORIGINS.get(c.origin, c.origin)}{', edited since' if c.edited and c.origin == 'file' else ''})")
    return 0


def cameras_remove(settings: Settings, name: str) -> int:
    from ferstream import db
    from ferstream.ingest.camera_store import remove_camera

    remove_camera(db.connect_existing(settings.database_url), name)
    print(f"removed camera {name}: a running `ferstream watch --config` stops it within seconds")
    return 0
