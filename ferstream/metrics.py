"""Prometheus metrics (prometheus-client): what ``--metrics-port`` serves on ``/metrics``.

The worker's metrics are counted where the work happens (``worker.jobs``,
``worker.analysis``). A worker pool (``--processes N``) counts in every process
and serves one endpoint through the library's multiprocess mode: the CLI sets
``PROMETHEUS_MULTIPROC_DIR`` before anything imports prometheus_client.
A watch's per-source figures are read from its cameras when scraped
(``ingest.metrics.SourceCollector``), as is the queue depth (``QueueCollector``).

Names (all prefixed ``ferstream_``):

- ``worker_chunks_total{outcome}``: chunks done, failed (for good) and retried;
- ``worker_stage_seconds{stage}``: seconds per chunk in decode, detect, classify and write (histogram);
- ``worker_frames_total``, ``worker_faces_total``: frames analysed and faces written (faces per second:
  ``rate(ferstream_worker_faces_total[1m])``);
- ``capture_to_row_seconds{source}``: from a live frame's capture to its row committed (histogram);
- ``queue_depth{queue}``: chunks waiting in the queue;
- per watched source (``{source}``): ``source_frames_read_total``, ``source_frames_sampled_total``,
  ``source_frames_dropped_total``, ``source_frames_sent_total``, ``source_frames_analysed_total``,
  ``source_reconnects_total``, ``source_last_frame_age_seconds`` and ``source_state{state}`` (1 for the
  source's current state);
- ``events_total{rule,state}``: event changes published (new, update, end) by the workers' evaluation;
- ``event_deliveries_total{endpoint,outcome}``: deliveries of event changes to webhooks and MQTT (delivered,
  failed: to be retried).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STAGES = ("decode", "detect", "classify", "write")
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

CHUNKS = Counter("ferstream_worker_chunks", "Chunks processed, by outcome: done, failed (for good), retried",
                 ["outcome"])
STAGE_SECONDS = Histogram("ferstream_worker_stage_seconds", "Seconds per chunk in each stage", ["stage"],
                          buckets=_STAGE_BUCKETS)
FRAMES = Counter("ferstream_worker_frames", "Frames analysed")
FACES = Counter("ferstream_worker_faces", "Faces written")
CAPTURE_TO_ROW = Histogram("ferstream_capture_to_row_seconds", "Seconds from a live frame's capture to its row committed",
                           ["source"], buckets=_LATENCY_BUCKETS)

EVENTS = Counter("ferstream_events", "Event changes published, by rule and state (new, update, end)", ["rule", "state"])
DELIVERIES = Counter("ferstream_event_deliveries", "Deliveries of event changes, by endpoint and outcome",
                     ["endpoint", "outcome"])


def serve(port: int, host: str, collectors: tuple = ()) -> CollectorRegistry:
    """Serve ``/metrics`` on ``host:port`` from a thread: this process's metrics (or, in multiprocess mode, every
    process's, merged) and ``collectors``. Returns the registry served."""
    from prometheus_client import REGISTRY

    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    for collector in collectors:
        registry.register(collector)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        from ferstream.errors import ServiceError

        raise ServiceError(f"--metrics-port {port}: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    log.info("metrics on http://%s:%d/metrics", host, port)
    return registry
