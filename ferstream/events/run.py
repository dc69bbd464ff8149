"""A run's events: the rules of ``analyze --rules``, ``watch --rules``, a cameras file's ``rules:`` or
``ferstream.analyze(rules=...)`` bound to the run's sources, and the change feed delivered while it runs."""

from __future__ import annotations

import sys
import threading

from ferstream.events.rules import EventsConfig, load_rules

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
