"""Which database this is: the id its migration wrote, read once per engine."""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ferstream.db.models import DatabaseIdentity
from ferstream.errors import ServiceError
from ferstream.urls import mask_url

_ids: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def database_id(engine: Engine) -> str:
    """This database's id (32 hex digits); ``ServiceError`` if the database has none (not migrated)."""
    key = engine
    with _lock:
        if key not in _ids:
            try:
                with engine.connect() as conn:
                    found = conn.execute(select(DatabaseIdentity.database_id)).scalars().all()
            except SQLAlchemyError as exc:
                raise ServiceError(f"database {mask_url(str(engine.url))}: cannot read its identity: {exc}") from exc
            if len(found) != 1:
                raise ServiceError(f"database {mask_url(str(engine.url))} holds {len(found)} identities, not one: "
                                   "was it migrated by ferstream?")
            _ids[key] = found[0]
        return _ids[key]
