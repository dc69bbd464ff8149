"""Connecting to the database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ferstream.errors import ServiceError
from ferstream.urls import mask_url

log = logging.getLogger(__name__)

#: the Alembic scripts: package data of ferstream.db, found through importlib.resources wherever ferstream is installed
MIGRATIONS = Path(str(resources.files("ferstream.db") / "migrations"))
_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()
#: an arbitrary constant: the PostgreSQL advisory lock that serialises migrations of concurrent workers
_MIGRATION_LOCK = 7_413_001


def connect(url: str, migrate: bool = True, read_only: bool = False) -> Engine:
    """An engine for ``url`` (cached per process), its schema migrated to the latest revision."""
    key = (url, read_only)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            with _sqlite_file_lock(url):  # the first connection (WAL mode) and the migration, one process at a time
                engine = _create(url, read_only)
                if migrate and not read_only:
                    upgrade(engine)
            _engines[key] = engine
    return engine


def _create(url: str, read_only: bool) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                cur = dbapi_connection.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                if read_only:
                    cur.execute("PRAGMA query_only=ON")
                cur.close()
        else:
            args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
            if read_only and url.startswith("postgresql"):
                args["options"] = "-c default_transaction_read_only=on"
            engine = create_engine(url, pool_pre_ping=True, connect_args=args)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, SQLAlchemyError) as exc:
        raise ServiceError(f"database {mask_url(url)} is unreachable: {_first_line(exc)}") from exc
    except ModuleNotFoundError as exc:
        raise ServiceError(f"database {mask_url(url)}: driver missing ({exc.name})") from exc
    return engine


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied (safe with concurrent processes: ingest and workers start together)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextlib.contextmanager
def _sqlite_file_lock(url: str):
    """An exclusive lock for a SQLite file while it is first opened and migrated (SQLite runs DDL outside
    transactions, and switching a fresh file to WAL needs it alone, so processes starting together would
    collide); a no-op for other databases.

    The lock file lives in the temporary folder, named after the database's absolute path, so nothing is
    left beside the user's database (a lock file cannot be removed safely while another process may wait on it).
    """
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - _create reports an unparseable URL
        parsed = None
    database = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    import fcntl
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(Path(database).resolve()).encode()).hexdigest()[:24]
    with open(Path(tempfile.gettempdir()) / f"ferstream-migrate-{digest}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _after_fork_in_child() -> None:
    """A forked child must not share its parent's pooled connections (SQLAlchemy's fork recipe)."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def dispose(url: str) -> None:
    """Close and forget this process's engines for ``url`` (a temporary database about to be deleted)."""
    with _lock:
        for key in [k for k in _engines if k[0] == url]:
            _engines.pop(key).dispose()


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _first_line(exc: BaseException) -> str:
    msg = str(getattr(exc, "orig", None) or exc).strip()
    return msg.splitlines()[0] if msg else type(exc).__name__
