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
