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


class NoDatabase(ServiceError):
    """A command that only reads found no ferstream database there: a missing SQLite file, or an empty database."""


class NotFerstreamDatabase(ServiceError):
    """The database holds tables of its own and no ferstream identity: a command that only reads leaves it alone."""


#: the tables by which a database is ferstream's: its identity (revision 0003 on), or the schema of 0001 and 0002
_OWN_TABLES = ({"database_identity"}, {"alembic_version", "sources", "frames", "faces"})


def connect_existing(url: str) -> Engine:
    """An engine for a database ferstream has written (migrated first, when it is ferstream's at an older revision),
    for the commands that only read it (status, export, annotate) or prune it: they never create a database, nor
    write ferstream's schema into someone else's. ``NoDatabase`` for a missing SQLite file or an empty database,
    ``NotFerstreamDatabase`` for one with other tables."""
    with _lock:
        known = _engines.get((url, False))
    if known is not None:  # this process has migrated it already
        return known
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - the same message as connect() gives
        raise ServiceError(f"database {shown} is unreachable: {_first_line(exc)}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:") and not Path(parsed.database).is_file():
        raise NoDatabase(f"no ferstream database at {shown} yet: `ferstream analyze VIDEO` creates it")
    try:
        probe = create_engine(url, connect_args={"connect_timeout": 10} if url.startswith("postgresql") else {})
        try:
            tables = set(inspect(probe).get_table_names())
        finally:
            probe.dispose()
    except (OperationalError, SQLAlchemyError) as exc:
        raise ServiceError(f"database {shown} is unreachable: {_first_line(exc)}") from exc
    except ModuleNotFoundError as exc:
        raise ServiceError(f"database {shown}: driver missing ({exc.name})") from exc
    if not tables:
        raise NoDatabase(f"database {shown} is empty: `ferstream analyze VIDEO` fills it")
    if not any(own <= tables for own in _OWN_TABLES):
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise NotFerstreamDatabase(f"database {shown} is not a ferstream database (it holds other tables: {listed}): "
                                   "it was left as it is; point --database or DATABASE_URL at ferstream's")
    return connect(url)


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

    The lock file lives in the temporary folder, named after the database's absolute path, and goes when the
    lock is released: its holder removes it, and a process that waited on a file since removed opens it anew
    (the inode it locked must still be the path's), so nothing is left behind.
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
    path = Path(tempfile.gettempdir()) / f"ferstream-migrate-{digest}.lock"
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break  # the file still at the path is the one locked
        except FileNotFoundError:  # its holder removed it while this process waited: lock a fresh one
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):  # removed by hand meanwhile: nothing left to remove
            os.unlink(path)
        os.close(fd)  # closing releases the lock, after the file has gone


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
