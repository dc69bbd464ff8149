"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
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


@pytest.mark.long  # 10-20 s: `make test-long`
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


def test_faces_of_revision_0006_upgrade_to_no_quality_and_certain_and_new_rows_store_both(database_url):
    """Revision 0007 adds ``faces.quality`` (NULL: not measured) and ``faces.uncertain`` (false) to existing rows."""
    import numpy as np
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, select, text

    from ferstream.db import writes
    from ferstream.db.engine import MIGRATIONS
    from ferstream.db.models import Face
    from ferstream.emotion_model import EMOTIONS
    from ferstream.results import Frame, FrameFaces

    old = create_engine(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    probabilities = ", ".join(EMOTIONS)
    with old.begin() as conn:  # the schema as issue 33 left it, with a face in it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        conn.execute(text("INSERT INTO sources (name, kind, uri, state, frames_read, frames_queued, frames_dropped, "
                          "chunks_queued, reconnects, created_at, updated_at) VALUES ('old', 'file', '/old.mp4', "
                          "'finished', 1, 1, 0, 1, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text(f"INSERT INTO faces (source_id, frame_index, face_index, timestamp, x, y, w, h, {probabilities}, "
                          "emotion, confidence, model_version) VALUES (1, 0, 0, 0.0, 1, 2, 3, 4, 0.1, 0.1, 0.1, 0.4, "
                          "0.1, 0.1, 0.1, 'happy', 0.4, 'old')"))
    old.dispose()
    engine = db.connect(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() >= "0007"
        assert conn.execute(select(Face.emotion, Face.quality, Face.uncertain)).all() == [("happy", None, False)]

    probs = np.full((3, len(EMOTIONS)), 0.1, np.float32)
    result = FrameFaces(Frame(1, 0.1, np.zeros((8, 8), np.uint8)), np.array([[0, 0, 9, 9]] * 3, np.int32), probs,
                        quality=np.array([0.9, np.nan, 0.2], np.float32), uncertain=np.array([False, False, True]))
    writes.write_results(engine, 1, 0, [result], tuple(EMOTIONS), "new")
    with engine.connect() as conn:
        rows = conn.execute(select(Face.quality, Face.uncertain).where(Face.frame_index == 1)
                            .order_by(Face.face_index)).all()
    assert [(None if q is None else round(q, 3), u) for q, u in rows] == [(0.9, False), (None, False), (0.2, True)]
