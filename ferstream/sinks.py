"""Where ingest sends chunks: the RQ queue when Redis is configured, else the in-process analyzer.

One place for the wiring that ``ferstream analyze``, ``ferstream watch`` and the
dashboard's upload share.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ferstream.settings import Settings


def make_sink(settings: Settings, engine: Engine):
    """An ``RQSink`` (with Redis; it re-sends chunks a Redis restart lost) or an ``InlineSink``."""
    if settings.redis_url:
        from db.identity import database_id
        from db.writes import chunk_done
        from ingest.queue import RQSink, connect_redis

        return RQSink(connect_redis(settings.redis_url), settings, database_id(engine),
                      is_done=lambda source_id, index: chunk_done(engine, source_id, index))
    from worker.inline import InlineSink
    from worker.runtime import Runtime

    runtime = Runtime(settings)
    runtime.analyzer  # noqa: B018 - load the model now: a bad --model fails before any source is recorded
    return InlineSink(runtime)
