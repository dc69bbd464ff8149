"""The events' side of the commands: rules bound to a run's sources and the change feed delivered while it runs
(``analyze --rules``, ``watch --rules``, a cameras file's ``rules:``), and ``ferstream events list/export/
deliveries/deliver``."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pandas as pd

from ferstream.errors import ConfigError, FerstreamError
from ferstream.events.rules import EventsConfig, load_rules
from ferstream.settings import Settings

log = logging.getLogger(__name__)

#: seconds a finished ``analyze`` waits for its event changes to be delivered before it leaves them to the next run
DEFAULT_DRAIN_S = 10.0


class EventsRun:
    """A run's events: binds the rules to each source it records (``bind``), delivers the change feed while it
    runs, and at the end ends the sources' open events, waits for the deliveries and reports."""

    def __init__(self, engine, config: EventsConfig | None, names: list[str] | None = None):
        self.engine, self.config = engine, config or EventsConfig()
        self.names = list(names or [])
        self.source_ids: list[int] = []
        self.dispatcher = None
        self.lock = threading.Lock()

    def bind(self, source_id: int, name: str) -> None:
        from ferstream.events.evaluator import bind_rules

        rules = self.config.rules_for(name)
        if rules and source_id not in self.source_ids:  # once per source, however often a caller says so
            bind_rules(self.engine, source_id, rules)
            with self.lock:
                self.source_ids.append(source_id)

    def __enter__(self) -> "EventsRun":
        if self.config and self.config.endpoints:
            from ferstream.events.dispatcher import Dispatcher

            self.dispatcher = Dispatcher(self.engine, self.config, self.names).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()

    def finish(self, drain_s: float = DEFAULT_DRAIN_S, settle: bool = True, file=None) -> None:
        """End the open events of sources that have ended (``settle``), deliver what is left, print a line."""
        if not self.config:
            return
        from ferstream.events.evaluator import settle as settle_source
        from ferstream.events.store import list_events, undelivered
        from ferstream.metrics import EVENTS

        file = file or sys.stdout
        if settle:
            for sid in self.source_ids:
                for rule, kind in settle_source(self.engine, sid):
                    EVENTS.labels(rule, kind).inc()
        counts = {}
        for sid in self.source_ids:
            for rule in list_events(self.engine, sid)["rule"]:
                counts[rule] = counts.get(rule, 0) + 1
        print(f"  events: {sum(counts.values())}" + (f" ({', '.join(f'{r}: {n}' for r, n in sorted(counts.items()))})"
                                                      if counts else "") + " (`ferstream events list`)", file=file)
        if self.dispatcher is not None:
            delivered = self.dispatcher.drain(drain_s)
            if not delivered:
                left = undelivered(self.engine, self.dispatcher.endpoints, self.dispatcher.rules)
                print(f"  {len(left)} event change(s) not yet delivered ({', '.join(sorted(set(left['endpoint'])))}): "
                      "`ferstream events deliveries` lists them, `ferstream events deliver` sends them", file=file)


def rules_for_run(path: str | None, names: list[str]) -> EventsConfig | None:
    """The rules file of a run, checked against its sources' names (None without one)."""
    return load_rules(path, names) if path else None


def events_list(settings: Settings, source: str | None, rule: str | None, state: str | None, severity: str | None,
                limit: int | None) -> int:
    from ferstream import db
    from ferstream.db.queries import find_source
    from ferstream.events.store import list_events

    engine = db.connect_existing(settings.database_url)
    sid = find_source(engine, source) if source else None
    df = list_events(engine, sid, rule, state, severity, limit)
    if df.empty:
        print("no events" + (" match" if any((source, rule, state, severity)) else " yet: run with --rules FILE"))
        return 0
    shown = df[["id", "source", "rule", "severity", "state", "track_id", "start", "end", "duration_s", "peak",
                "faces", "start_at"]].astype(object)
    with pd.option_context("display.max_colwidth", 40, "display.width", 220):
        print(shown.where(shown.notna(), "").to_string(index=False))
    return 0


def events_export(settings: Settings, source: str | None, fmt: str, output: str | None, feed: bool) -> int:
    """Events (or, ``feed``, the change feed as JSON lines) to a file or stdout."""
    import json

    from ferstream import db
    from ferstream.db.queries import find_source
    from ferstream.events.store import changes, list_events

    engine = db.connect_existing(settings.database_url)
    sid = find_source(engine, source) if source else None
    out = sys.stdout if output in (None, "-") else None
    try:
        if feed:
            lines = [json.dumps(c, sort_keys=True) for c in changes(engine, sid)]
            text = "".join(f"{line}\n" for line in lines)
            if out:
                out.write(text)
            else:
                Path(output).write_text(text)
            n = len(lines)
        else:
            df = list_events(engine, sid)
            n = len(df)
            if fmt == "parquet":
                if out:
                    raise FerstreamError("Parquet cannot be written to stdout: give -o FILE")
                df.to_parquet(output, index=False)
            elif fmt == "json":
                text = df.to_json(orient="records", lines=True, date_format="iso")
                out.write(text) if out else Path(output).write_text(text)
            else:
                df.to_csv(out or output, index=False)
    except OSError as exc:
        raise FerstreamError(f"cannot write {output}: {exc.strerror or exc}") from exc
    if not out:
        print(f"wrote {n} {'change' if feed else 'event'}(s) to {output}")
    return 0


def _config_of(rules: str | None, config: str | None) -> EventsConfig | None:
    if rules and config:
        raise ConfigError("give --rules FILE or --config FILE, not both")
    if rules:
        return load_rules(rules)
    if config:
        from ferstream.ingest.cameras import load_cameras

        return load_cameras(config).events
    return None


def events_deliveries(settings: Settings, rules: str | None, config: str | None) -> int:
    """Changes not yet delivered: to each endpoint of a rules (cameras) file, or every failed attempt."""
    from ferstream import db
    from ferstream.events.store import undelivered

    engine = db.connect_existing(settings.database_url)
    cfg = _config_of(rules, config)
    if cfg is not None and not cfg.endpoints:
        raise ConfigError(f"{rules or config}: no webhooks and no mqtt: nothing is delivered")
    df = (undelivered(engine, [e.endpoint for e in cfg.endpoints], [r.name for r in cfg.rules]) if cfg
          else undelivered(engine))
    if df.empty:
        print("every event change is delivered" if cfg else
              "no failed deliveries (give --rules or --config to list what each endpoint has yet to receive)")
        return 0
    for endpoint, rows in df.groupby("endpoint", sort=True):
        print(f"{endpoint}: {len(rows)} change(s) not delivered"
              + (f"; last error: {rows['error'].dropna().iloc[-1]}" if rows["error"].notna().any() else ""))
    shown = df[["endpoint", "change", "event_id", "rule", "type", "attempts", "error", "next_at"]].astype(object)
    with pd.option_context("display.max_colwidth", 50, "display.width", 220):
        print(shown.where(shown.notna(), "").to_string(index=False))
    return 0


def events_deliver(settings: Settings, rules: str | None, config: str | None, duration: float | None) -> int:
    """Deliver the change feed to the endpoints of a rules (cameras) file until Ctrl-C or ``duration``: the
    workers' events of queued analyses, or what a stopped run left."""
    import time

    from ferstream import db
    from ferstream.events.dispatcher import Dispatcher
    from ferstream.events.store import undelivered

    cfg = _config_of(rules, config)
    if cfg is None or not cfg.endpoints:
        raise ConfigError("give --rules FILE (or --config FILE) with webhooks or mqtt to deliver to")
    engine = db.connect(settings.database_url)
    print(f"delivering the changes of {len(cfg.rules)} rule(s) to {', '.join(e.endpoint for e in cfg.endpoints)}")
    start = time.monotonic()
    with Dispatcher(engine, cfg) as dispatcher:
        try:
            while duration is None or time.monotonic() - start < duration:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    left = undelivered(engine, dispatcher.endpoints, dispatcher.rules)
    print(f"{len(left)} change(s) left to deliver")
    return 0
