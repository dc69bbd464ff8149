"""Looking after a deployment: ``ferstream status`` (queue, workers, sources) and ``ferstream prune`` (retention)."""

from __future__ import annotations

import argparse

from ferstream.cli.options import add_services, int_at_least, settings_of
from ferstream.console import run_command
from ferstream.settings import Settings
from ferstream.urls import mask_url


def register(sub) -> None:
    """prune and status."""
    p = sub.add_parser("prune", help="delete results older than a duration (retention)",
                       description="Delete frames and their faces (and chunks whose frames are all gone) older than "
                                   "DURATION, in short transactions, so a running watch and the workers never wait long. "
                                   "A frame's age is its capture time (live sources) or when it was analysed. Source "
                                   "rows are kept. `watch --retention` (or the cameras file) does this while it runs.")
    p.add_argument("--older-than", required=True, metavar="DURATION", help="30d, 12h, 90m, 45s, 2w or combined (1d12h)")
    p.add_argument("--source", metavar="ID|NAME", help="only this source (default: every source)")
    p.add_argument("--batch", type=int_at_least(1), metavar="N", help="frames per transaction (default: 5000)")
    add_services(p, redis=False)
    p.set_defaults(handler=_prune)

    p = sub.add_parser("status", help="queue depth, workers and per-source progress")
    add_services(p)
    p.set_defaults(handler=_status)


def _prune(args: argparse.Namespace) -> int:
    return run_command(lambda: prune(settings_of(args), args.older_than, args.source, args.batch))


def _status(args: argparse.Namespace) -> int:
    return run_command(lambda: status(settings_of(args)))


def status(settings: Settings) -> int:
    """Queue depth, workers and per-source progress."""
    import pandas as pd

    from ferstream import db
    from ferstream.db.identity import database_id
    from ferstream.db.queries import sources

    try:
        engine = db.connect_existing(settings.database_url)
    except db.NoDatabase as exc:  # nothing analysed there yet: nothing to show, and nothing created
        print(f"no sources yet: {exc}")
        return 0
    print(f"database {mask_url(settings.database_url)} (id {database_id(engine)})")
    if settings.redis_url:
        from rq import Queue, Worker
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        from ferstream.ingest.queue import connect_redis, queue_name

        redis = connect_redis(settings.redis_url)
        queue = Queue(queue_name(settings.queue, database_id(engine)), connection=redis)
        serving = Worker.all(queue=queue)
        others = [w for w in Worker.all(connection=redis) if w.name not in {s.name for s in serving}]
        print(f"queue {queue.name} at {mask_url(settings.redis_url)}: {queue.count} waiting, "
              f"{StartedJobRegistry(queue=queue).count} running, {FailedJobRegistry(queue=queue).count} failed; "
              f"{len(serving)} worker(s) serve this database")
        for w in serving:
            print(f"  worker {w.name}: {w.get_state()}")
        if not serving:
            print(f"  no worker serves this database's queue: start one with `ferstream worker --database "
                  f"{mask_url(settings.database_url)}`" + (f" ({len(others)} worker(s) on this Redis serve other "
                                                          "databases)" if others else ""))
    else:
        print("no Redis configured (REDIS_URL): queue not shown")
    df = sources(engine)
    if df.empty:
        print("no sources yet: submit one with `ferstream analyze VIDEO`")
        return 0
    from ferstream.db.queries import last_frame_age

    df["last_frame"] = [last_frame_age(at) for at in df["last_frame_at"]]
    cols = ["id", "name", "kind", "status", "state", "last_frame", "frames_queued", "frames_analysed", "frames_failed",
            "frames_dropped", "faces", "reconnects", "error"]
    shown = df[cols].astype(object)
    with pd.option_context("display.max_colwidth", 60, "display.width", 220):
        print(shown.where(shown.notna(), "").to_string(index=False))  # no error: an empty cell, not NaN or None
    return 0


def prune(settings: Settings, older_than: str, source: str | None = None, batch: int | None = None) -> int:
    """Delete frames and faces (and finished chunks) older than ``older_than``, in short batches."""
    from ferstream import db
    from ferstream.db.queries import find_source
    from ferstream.db.retention import DEFAULT_BATCH, parse_duration
    from ferstream.db.retention import prune as prune_rows

    keep = parse_duration(older_than)
    engine = db.connect_existing(settings.database_url)
    sid = find_source(engine, source) if source else None
    counts = prune_rows(engine, keep, source_id=sid, batch=batch or DEFAULT_BATCH)
    print(f"removed {counts} older than {older_than}" + (f" of source {sid}" if sid else ""))
    return 0
