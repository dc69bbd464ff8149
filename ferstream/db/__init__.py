"""Storage: SQLAlchemy models, Alembic migrations, writes and queries.

SQLite is the embedded default; PostgreSQL is the production database. Both
take the same ``DATABASE_URL``.
"""

from ferstream.db.engine import connect

__all__ = ["connect"]
