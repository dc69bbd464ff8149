"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ferstream import db
from ferstream.db.models import Base


def test_migrations_match_the_models(database_url):
    engine = db.connect(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_connect_twice_is_a_no_op(database_url):
    assert db.connect(database_url) is db.connect(database_url)


def test_processes_that_start_together_on_a_fresh_sqlite_file_all_get_the_schema(tmp_path):
    """Ingest and a worker often start at once on a new file; SQLite's DDL is not transactional."""
    import subprocess
    import sys

    code = "import sys; from ferstream import db; db.connect(sys.argv[1])"
    for attempt in range(10):
        url = f"sqlite:///{tmp_path}/fresh-{attempt}.db"
        procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(errors)[-3000:]


def test_a_database_of_the_previous_revision_with_rows_upgrades_in_place_and_gets_an_identity(database_url):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from ferstream.db.engine import MIGRATIONS
    from ferstream.db.identity import database_id

    old = create_engine(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as conn:  # the schema as the previous release left it, with a source in it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text("INSERT INTO sources (name, kind, uri, state, frames_read, frames_queued, frames_dropped, "
                          "chunks_queued, reconnects, created_at, updated_at) VALUES ('old', 'file', '/old.mp4', "
                          "'finished', 10, 10, 0, 1, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    old.dispose()
    engine = db.connect(database_url)
    identity = database_id(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM sources")).scalars().all() == ["old"]
        assert conn.execute(text("SELECT database_id FROM database_identity")).scalars().all() == [identity]


def test_sqlite_migrations_leave_no_lock_file_beside_the_database(tmp_path):
    db.connect(f"sqlite:///{tmp_path / 'tidy.db'}")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("tidy.db-")) == ["tidy.db"]
