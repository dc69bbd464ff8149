"""Storage: SQLAlchemy models, Alembic migrations, writes and queries.

SQLite is the embedded default; PostgreSQL is the production database. Both
take the same ``DATABASE_URL``.
"""

from ferstream.db.engine import NoDatabase, NotFerstreamDatabase, connect, connect_existing

__all__ = ["connect", "connect_existing", "NoDatabase", "NotFerstreamDatabase"]
