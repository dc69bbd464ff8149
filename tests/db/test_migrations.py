"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import db
from db.models import Base


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

    code = "import db, sys; db.connect(sys.argv[1])"
    for attempt in range(10):
        url = f"sqlite:///{tmp_path}/fresh-{attempt}.db"
        procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(errors)[-3000:]
