"""A watch's figures as Prometheus metrics, read from its live sources when scraped (custom collectors).

The counters already live on each source's ``LiveIngest`` and reader; a collector reads them at scrape time
instead of mirroring every increment. Metric names: see ``ferstream.metrics``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ferstream.ingest.live import LiveIngest
from ferstream.ingest.stream import LIVE_STATES


@dataclass
class SourceView:
    """What the collector reads of one watched source."""

    name: str
    state: str
    live: LiveIngest | None  # None: not open yet
    frames_analysed: int  # frames whose results landed (acknowledged by the sink)


class SourceCollector:
    """Per-source counters, state and last-frame age of the sources ``views()`` returns at each scrape."""

    def __init__(self, views: Callable[[], Iterable[SourceView]]):
        self.views = views

    def describe(self):
        return []  # collected on demand: nothing to check at registration

    def collect(self):
        counters = {
            "frames_read": "Frames decoded from the stream",
            "frames_sampled": "Frames sampled for analysis",
            "frames_dropped": "Sampled frames dropped because the workers (or this process) fell behind",
            "frames_sent": "Sampled frames sent for analysis",
            "frames_analysed": "Frames whose results are in the database",
            "reconnects": "Times the stream was reopened (drops and stalls)",
        }
        families = {k: CounterMetricFamily(f"ferstream_source_{k}", help_, labels=["source"]) for k, help_ in counters.items()}
        age = GaugeMetricFamily("ferstream_source_last_frame_age_seconds", "Seconds since the newest frame was decoded",
                                labels=["source"])
        state = GaugeMetricFamily("ferstream_source_state", "1 for the source's current state", labels=["source", "state"])
        now = time.monotonic()
        for v in self.views():
            live = v.live
            values = dict(frames_read=0, frames_sampled=0, frames_dropped=0, frames_sent=0, reconnects=0)
            if live is not None:
                values = dict(frames_read=live.frames_read, frames_sampled=live.sampled, frames_dropped=live.dropped,
                              frames_sent=live.sent, reconnects=live.reconnects)
                last = live.reader.last_frame_monotonic
                if last is not None:
                    age.add_metric([v.name], max(0.0, now - last))
            values["frames_analysed"] = v.frames_analysed
            for key, value in values.items():
                families[key].add_metric([v.name], value)
            for s in LIVE_STATES:
                state.add_metric([v.name, s], 1.0 if v.state == s else 0.0)
        yield from families.values()
        yield age
        yield state


class QueueCollector:
    """The depth of each RQ queue, asked of Redis at each scrape: one metric family, a sample per queue."""

    def __init__(self, queues: list):
        self.queues = queues

    def describe(self):
        return []

    def collect(self):
        if not self.queues:
            return
        depth = GaugeMetricFamily("ferstream_queue_depth", "Chunks waiting in the queue", labels=["queue"])
        for queue in self.queues:
            try:
                depth.add_metric([queue.name], queue.count)
            except Exception:  # Redis away: no figure rather than a failed scrape
                pass
        yield depth
