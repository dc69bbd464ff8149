"""``ferstream events list/export/deliveries/deliver``: the events the rules raised, and their delivery."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ferstream.cli.options import add_services, int_at_least, positive_number, settings_of
from ferstream.console import run_command
from ferstream.errors import ConfigError, FerstreamError
from ferstream.events.rules import EventsConfig, load_rules
from ferstream.settings import Settings


def register(sub) -> None:
    """events and its actions."""
    p = sub.add_parser("events", help="emotion events: list, export, deliveries not yet made, deliver",
                       description="Events raised by the rules of `analyze --rules`, `watch --rules` or a cameras file "
                                   "(people or crowds showing emotions over time), and their delivery to webhooks and MQTT.")
    events = p.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    q = events.add_parser("list", help="the events (active and ended), oldest first")
    q.add_argument("--source", metavar="ID|NAME", help="only this source")
    q.add_argument("--rule", metavar="NAME", help="only this rule")
    q.add_argument("--state", choices=("active", "ended"), help="only this state")
    q.add_argument("--severity", choices=("alert", "detection"), help="only this severity")
    q.add_argument("--limit", type=int_at_least(1), metavar="N", help="at most N events")
    q = events.add_parser("export", help="the events as CSV, JSON lines or Parquet, or the change feed (JSON lines)")
    q.add_argument("--source", metavar="ID|NAME", help="only this source")
    q.add_argument("--format", choices=("csv", "json", "parquet"), default="csv", help="default: %(default)s")
    q.add_argument("--feed", action="store_true", help="the change feed instead (new, update, end; each with before "
                   "and after, as delivered), JSON lines")
    q.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    q = events.add_parser("deliveries", help="event changes not yet delivered to webhooks or MQTT",
                          description="With --rules or --config: what each of its endpoints has yet to receive; "
                                      "without: every change whose delivery failed and is still being tried.")
    q.add_argument("--rules", metavar="FILE", help="the rules file whose endpoints to check")
    q.add_argument("--config", metavar="FILE", help="the cameras file whose endpoints to check")
    q = events.add_parser("deliver", help="deliver the change feed to the endpoints of a rules file until Ctrl-C",
                          description="Deliver event changes to the webhooks and MQTT of a rules (or cameras) file: "
                                      "what the workers' evaluation of queued videos raised, or what a run left undelivered.")
    q.add_argument("--rules", metavar="FILE", help="the rules file (its webhooks and mqtt)")
    q.add_argument("--config", metavar="FILE", help="a cameras file (its webhooks and mqtt)")
    q.add_argument("--duration", type=positive_number, metavar="SECONDS", help="stop after this many seconds")
    for q in events.choices.values():
        add_services(q, redis=False)
    p.set_defaults(handler=_events)


def _events(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.events_command == "list":
        return run_command(lambda: events_list(settings, args.source, args.rule, args.state, args.severity, args.limit))
    if args.events_command == "export":
        return run_command(lambda: events_export(settings, args.source, args.format, args.output, args.feed))
    if args.events_command == "deliveries":
        return run_command(lambda: events_deliveries(settings, args.rules, args.config))
    return run_command(lambda: events_deliver(settings, args.rules, args.config, args.duration))


def events_list(settings: Settings, source: str | None, rule: str | None, state: str | None, severity: str | None,
                limit: int | None) -> int:
    import pandas as pd

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
    import pandas as pd

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
