"""Delivering the change feed (the ``event_changes`` outbox) to webhooks and MQTT, at least once.

Each endpoint has a thread of its own: it takes the changes of its rules that it has not yet delivered, oldest
first, and sends them one by one; an endpoint that fails is retried with a backoff (doubling up to a maximum)
while the others, and the workers that write the feed, go on. What each endpoint has delivered, and each failed
attempt (how many, the last error, when next), is a row of ``event_deliveries``, so a restarted process sends
what was left (``ferstream events deliveries`` lists it). Changes go in order, so a receiver sees each event's
``new``, ``update``s and ``end`` in turn; a change may arrive twice (a crash between sending and recording it):
the event id and ``seq`` tell a repeat.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ferstream.db.models import EventChange, EventDelivery, utcnow
from ferstream.events.rules import EventsConfig, Mqtt, Webhook
from ferstream.events.webhook import DeliveryError, WebhookSender
from ferstream.metrics import DELIVERIES

log = logging.getLogger(__name__)

#: seconds between looks at the outbox when it is empty
DEFAULT_POLL_S = 0.1
#: seconds before the first retry of a failed delivery; each further failure doubles it, up to the maximum
DEFAULT_BACKOFF_INITIAL_S = 0.5
DEFAULT_BACKOFF_MAX_S = 10.0
#: seconds between publications of the current crowd shares (MQTT ``<prefix>/<camera>/emotion``)
DEFAULT_SHARES_EVERY_S = 1.0
#: changes taken from the outbox at a time
BATCH = 100


def make_sender(endpoint: Webhook | Mqtt):
    if isinstance(endpoint, Webhook):
        return WebhookSender(endpoint)
    from ferstream.events.mqtt import MqttSender

    return MqttSender(endpoint)


def next_changes(engine: Engine, endpoint: str, rules: list[str], limit: int = BATCH) -> list[tuple[int, str]]:
    """(change id, body) of the changes of ``rules`` not yet delivered to ``endpoint``, oldest first."""
    d = EventDelivery
    q = (select(EventChange.id, EventChange.body)
         .outerjoin(d, and_(d.change_id == EventChange.id, d.endpoint == endpoint))
         .where(EventChange.rule.in_(rules), d.delivered_at.is_(None)).order_by(EventChange.id).limit(limit))
    with engine.connect() as conn:
        return [(r.id, r.body) for r in conn.execute(q)]


def record(engine: Engine, endpoint: str, change_id: int, error: str | None = None, retry_in: float = 0.0) -> None:
    """A delivery (``error`` None) or a failed attempt of one change to one endpoint."""
    now = utcnow()
    values = (dict(delivered_at=now, error=None, next_at=None) if error is None
              else dict(error=error[:2000], next_at=now + timedelta(seconds=retry_in)))
    with engine.begin() as conn:
        found = conn.execute(update(EventDelivery).where(EventDelivery.change_id == change_id,
                                                         EventDelivery.endpoint == endpoint)
                             .values(attempts=EventDelivery.attempts + 1, **values)).rowcount
    if not found:
        try:
            with engine.begin() as conn:
                conn.execute(EventDelivery.__table__.insert().values(change_id=change_id, endpoint=endpoint,
                                                                     attempts=1, **values))
        except IntegrityError:  # another process recorded it meanwhile
            record(engine, endpoint, change_id, error, retry_in)


class Dispatcher:
    """A thread per endpoint of ``config``, delivering the changes of its rules; ``sources``: the names whose
    current crowd shares MQTT publishes."""

    def __init__(self, engine: Engine, config: EventsConfig, sources: list[str] | None = None, *,
                 poll_s: float = DEFAULT_POLL_S, backoff_initial_s: float = DEFAULT_BACKOFF_INITIAL_S,
                 backoff_max_s: float = DEFAULT_BACKOFF_MAX_S, shares_every_s: float = DEFAULT_SHARES_EVERY_S):
        self.engine, self.config, self.sources = engine, config, list(sources or [])
        self.rules = [r.name for r in config.rules]
        self.poll_s, self.backoff_initial_s, self.backoff_max_s = poll_s, backoff_initial_s, backoff_max_s
        self.shares_every_s = shares_every_s
        self.stop_event = threading.Event()
        self.senders = []
        self.threads: list[threading.Thread] = []
        self.idle: dict[str, threading.Event] = {}  # set while an endpoint has nothing left to send
        self.errors: dict[str, str] = {}

    @property
    def endpoints(self) -> list[str]:
        return [e.endpoint for e in self.config.endpoints]

    def start(self) -> "Dispatcher":
        for endpoint in self.config.endpoints:
            sender = make_sender(endpoint)
            self.senders.append(sender)
            self.idle[sender.endpoint] = threading.Event()
            thread = threading.Thread(target=self._run, args=(sender,), name=f"deliver {sender.endpoint}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __enter__(self) -> "Dispatcher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def drain(self, timeout: float) -> bool:
        """Wait until every endpoint has delivered every change (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        for sender in self.senders:
            while not (self.idle[sender.endpoint].is_set()
                       and not next_changes(self.engine, sender.endpoint, self.rules, 1)):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(self.poll_s)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
        for sender in self.senders:
            try:
                sender.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("closing %s", sender.endpoint, exc_info=True)

    def _run(self, sender) -> None:
        try:
            self._deliver(sender)
        finally:
            if self.sources and hasattr(sender, "publish_shares"):
                self._shares(sender)  # the shares at the end: a run shorter than shares_every_s leaves them retained too

    def _deliver(self, sender) -> None:
        delay, shares_due = self.backoff_initial_s, 0.0
        idle = self.idle[sender.endpoint]
        while not self.stop_event.is_set():
            try:
                if self.sources and hasattr(sender, "publish_shares") and time.monotonic() >= shares_due:
                    shares_due = time.monotonic() + self.shares_every_s
                    self._shares(sender)
                batch = next_changes(self.engine, sender.endpoint, self.rules)
            except SQLAlchemyError as exc:
                log.warning("%s: cannot read the outbox: %s", sender.endpoint, str(exc).splitlines()[0])
                self.stop_event.wait(min(delay, self.backoff_max_s))
                continue
            if not batch:
                idle.set()
                self.stop_event.wait(self.poll_s)
                continue
            idle.clear()
            for change_id, body in batch:
                if self.stop_event.is_set():
                    return
                try:
                    sender.send(body)
                except DeliveryError as exc:
                    DELIVERIES.labels(sender.endpoint, "failed").inc()
                    if self.errors.get(sender.endpoint) != str(exc):
                        log.warning("%s: change %d not delivered (%s): retrying every %.1f-%.0fs", sender.endpoint,
                                    change_id, exc, self.backoff_initial_s, self.backoff_max_s)
                    self.errors[sender.endpoint] = str(exc)
                    self._record(sender.endpoint, change_id, str(exc), delay)
                    self.stop_event.wait(delay)
                    delay = min(delay * 2, self.backoff_max_s)
                    break
                DELIVERIES.labels(sender.endpoint, "delivered").inc()
                if self.errors.pop(sender.endpoint, None):
                    log.info("%s: delivering again", sender.endpoint)
                delay = self.backoff_initial_s
                self._record(sender.endpoint, change_id)

    def _record(self, endpoint: str, change_id: int, error: str | None = None, retry_in: float = 0.0) -> None:
        while True:
            try:
                record(self.engine, endpoint, change_id, error, retry_in)
                return
            except SQLAlchemyError as exc:  # the database away: keep the delivery's record until it is back
                log.warning("%s: cannot record change %d: %s", endpoint, change_id, str(exc).splitlines()[0])
                if self.stop_event.wait(1.0):
                    return

    def _shares(self, sender) -> None:
        from ferstream.events.store import current_shares

        try:
            sender.publish_shares(current_shares(self.engine, self.sources))
        except (DeliveryError, SQLAlchemyError) as exc:
            log.debug("%s: current shares not published: %s", sender.endpoint, str(exc).splitlines()[0])
