"""The HTTP API's keys: made here, shown once, kept only as a SHA-256 hash; listed and revoked by id or name.
A name belongs to one active key at a time (a revoked key's name may be used again).

A key is ``fsk_`` and 43 random URL-safe characters (256 bits): a hash without salt is enough for a secret that
long and random (nothing to guess from a dictionary), and it lets a request's key be found by one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from ferstream.db.models import ApiKey, utcnow
from ferstream.errors import ConfigError, FerstreamError

KEY_PREFIX = "fsk_"
#: characters of a key shown in lists (its prefix and the first random ones): enough to tell keys apart
SHOWN_CHARS = 10


class KeyNotFound(FerstreamError):
    """No API key has the id or name asked for."""


class KeyNameTaken(ConfigError):
    """An active API key already has the name asked for."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    read_only: bool
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, name: str, read_only: bool = False) -> tuple[KeyInfo, str]:
    """A new key named ``name``: its record and the key itself (the only time it exists outside the caller).
    ``KeyNameTaken`` when an active key has that name: a name says which key to revoke."""
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ConfigError("an API key's name: 1 to 255 characters, say who uses it (--name)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        taken = conn.execute(select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))).scalar()
        if taken is not None:
            raise KeyNameTaken(f"the active API key {taken} is already named {name!r}: choose another --name (or "
                               f"revoke that one first: `ferstream apikey revoke {taken}`)")
        key_id = conn.execute(insert(ApiKey).values(name=name, prefix=key[:SHOWN_CHARS], key_hash=hash_key(key),
                                                    read_only=read_only, created_at=utcnow())
                              .returning(ApiKey.id)).scalar_one()
    return _info(engine, key_id), key


def list_keys(engine: Engine) -> list[KeyInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(ApiKey).order_by(ApiKey.id)).mappings().all()
    return [_from_row(r) for r in rows]


def revoke_key(engine: Engine, ref: str | int) -> tuple[list[KeyInfo], list[KeyInfo]]:
    """Revoke the key with this id or name (every active key of that name: a database from before names were
    unique may hold several); ``KeyNotFound`` when none has it. Returns the keys revoked now and those that
    matched but were revoked before."""
    ref = str(ref).strip()
    with engine.begin() as conn:
        match = (ApiKey.id == int(ref)) if ref.isdigit() else (ApiKey.name == ref)
        rows = conn.execute(select(ApiKey).where(match).order_by(ApiKey.id)).mappings().all()
        if not rows:
            raise KeyNotFound(f"no API key with id or name {ref!r} (see `ferstream apikey list`)")
        live = [r["id"] for r in rows if r["revoked_at"] is None]
        if live:
            conn.execute(update(ApiKey).where(ApiKey.id.in_(live)).values(revoked_at=utcnow()))
        rows = conn.execute(select(ApiKey).where(ApiKey.id.in_([r["id"] for r in rows]))
                            .order_by(ApiKey.id)).mappings().all()
    keys = [_from_row(r) for r in rows]
    return [k for k in keys if k.id in live], [k for k in keys if k.id not in live]


def verify_key(engine: Engine, key: str) -> KeyInfo | None:
    """The active key ``key`` is, or None (unknown, malformed or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).mappings().first()
    if row is None or row["revoked_at"] is not None:
        return None
    return _from_row(row)


def active_keys(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))).scalar_one()


def revoked_keys(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_not(None))).scalar_one()


def _info(engine: Engine, key_id: int) -> KeyInfo:
    with engine.connect() as conn:
        return _from_row(conn.execute(select(ApiKey).where(ApiKey.id == key_id)).mappings().one())


def _from_row(row) -> KeyInfo:
    return KeyInfo(row["id"], row["name"], row["prefix"], bool(row["read_only"]), row["created_at"], row["revoked_at"])
