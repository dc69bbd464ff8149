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
        from ferstream.db.identity import database_id
        from ferstream.db.writes import chunk_done
        from ferstream.ingest.queue import RQSink, connect_redis

        return RQSink(connect_redis(settings.redis_url), settings, database_id(engine),
                      is_done=lambda source_id, index: chunk_done(engine, source_id, index))
    from ferstream.worker.inline import InlineSink
    from ferstream.worker.runtime import Runtime

    runtime = Runtime(settings)
    runtime.analyzer  # noqa: B018 - load the model now: a bad --model fails before any source is recorded
    return InlineSink(runtime)


def camera_sinks(settings: Settings, engine: Engine, cameras) -> dict[str, object]:
    """A sink per camera (by name), each queueing (or analysing) with its camera's detector and smallest face."""
    make = camera_sink_factory(settings, engine)
    return {c.name: make(c) for c in cameras}


def camera_sink_factory(settings: Settings, engine: Engine):
    """A function making a camera's sink (``camera_sinks``), also for cameras added while a watch runs.

    In-process, the cameras share one runtime (its models loaded once) and take turns with it; each camera's
    models are loaded when its sink is made: a bad --model fails before its source is recorded."""
    if settings.redis_url:
        from ferstream.db.identity import database_id
        from ferstream.db.writes import chunk_done
        from ferstream.ingest.queue import RQSink, connect_redis

        redis, db_id = connect_redis(settings.redis_url), database_id(engine)
        return lambda c: RQSink(redis, settings.with_(detector=c.detector, min_face=c.min_face), db_id,
                                is_done=lambda source_id, index: chunk_done(engine, source_id, index))
    import threading

    from ferstream.worker.inline import InlineSink
    from ferstream.worker.runtime import Runtime

    runtime, lock = Runtime(settings), threading.Lock()

    def make(c):
        with lock:
            runtime.analyzer_for(c.detector, c.min_face)
        return InlineSink(runtime, c.detector, c.min_face, lock)

    return make
