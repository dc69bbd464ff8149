"""``ferstream watch``: a live source, or every camera of a cameras file (and of the camera table), until Ctrl-C,
SIGTERM or ``--duration``; its metrics endpoint and retention while it runs."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time

from ferstream.cli.options import (add_detector, add_include_uncertain, add_metrics, add_model, add_preview, add_rules,
                                   add_services, int_at_least, positive_number, retention_period, settings_of)
from ferstream.cli.summary import print_watch_summary
from ferstream.console import run_command
from ferstream.errors import ConfigError, FerstreamError
from ferstream.settings import DEFAULT_METRICS_HOST, Settings
from ferstream.urls import mask_secrets

log = logging.getLogger(__name__)


def register(sub) -> None:
    """watch."""
    p = sub.add_parser("watch", help="analyse a live source: webcam, video device, RTSP or HTTP (MJPEG, HLS) stream",
                       description="Sample the newest frame of a live source a few times a second and analyse it (in "
                                   "this process, or queued to RQ workers with --redis/REDIS_URL). A dropped stream is "
                                   "reopened with backoff; when the workers fall behind, frames are dropped and counted, "
                                   "never piled up. Ctrl-C or SIGTERM stops cleanly, analysing the last partial chunk.")
    p.add_argument("source", metavar="SOURCE", nargs="?", help="webcam index (0), device path (/dev/video0) or rtsp://, http(s):// URL")
    p.add_argument("--config", metavar="FILE", help="watch every camera of this YAML file instead of SOURCE, each in a state "
                   "(starting, running, reconnecting, stalled, failed, stopped); one failing never stops the others "
                   "(the format: see the README, Many cameras)")
    p.add_argument("--name", help="source name shown in status, export and the dashboard (default: SOURCE)")
    p.add_argument("--sample-fps", type=positive_number, metavar="F", help="frames per second to analyse (default: 5)")
    p.add_argument("--duration", type=positive_number, metavar="SECONDS", help="stop after this many seconds (default: until Ctrl-C or SIGTERM)")
    p.add_argument("--analysis-width", type=int_at_least(0), metavar="PX", help="scale frames wider than this down before detection (default: 640; 0: full resolution)")
    add_model(p)
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face to find, as a fraction of the frame's shorter side (default: 0.13, or FERSTREAM_MIN_FACE; smaller finds smaller faces, more slowly)")
    add_detector(p)
    add_metrics(p)
    add_preview(p, "the source (the cameras; with --redis)")
    p.add_argument("--retention", metavar="DURATION", help="while watching, delete results older than this (30d, 12h, 90m; "
                   "default: keep everything, or the cameras file's retention); see `ferstream prune`")
    add_include_uncertain(p, "the summary printed at the end (SOURCE only)")
    add_rules(p, "evaluated on the source (the cameras), changes delivered while watching (a cameras file may hold "
                  "them instead, under rules:, webhooks:, mqtt:)")
    add_services(p)
    p.set_defaults(handler=_watch)


def _watch(args: argparse.Namespace) -> int:
    if (args.source is None) == (args.config is None):
        print("ferstream watch: error: give either SOURCE or --config FILE", file=sys.stderr)
        return 2
    if args.config is not None:
        given = [flag for flag, value in (("--name", args.name), ("--sample-fps", args.sample_fps)) if value is not None]
        if given:
            print(f"ferstream watch: error: {', '.join(given)} go in the cameras file with --config (per camera)",
                  file=sys.stderr)
            return 2
        return run_command(lambda: watch_cameras(settings_of(args), args.config, duration=args.duration,
                                                 metrics_port=args.metrics_port, metrics_host=args.metrics_host,
                                                 retention=retention_period(args.retention), rules=args.rules))
    return run_command(lambda: watch(settings_of(args), args.source, name=args.name, sample_fps=args.sample_fps,
                                     duration=args.duration, metrics_port=args.metrics_port,
                                     metrics_host=args.metrics_host, retention=retention_period(args.retention),
                                     include_uncertain=args.include_uncertain, rules=args.rules))


@contextlib.contextmanager
def _stop_on_signals(stop, hurry=None):
    """The first Ctrl-C or SIGTERM sets ``stop``; a second one sets ``hurry`` and raises KeyboardInterrupt."""
    import signal
    import threading

    def on_signal(signum, _frame):
        if stop.is_set():
            if hurry is not None:
                hurry.set()
            raise KeyboardInterrupt
        print(f"ferstream: {signal.Signals(signum).name}: stopping after the current chunk "
              "(again to stop at once)", file=sys.stderr)
        stop.set()

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)


def _serve_metrics(port: int | None, host: str, views, sinks: list) -> None:
    """``/metrics`` of a watch: its sources' figures, the queues' depth, and (in-process) the analysis's own."""
    if port is None:
        return
    from ferstream.ingest.source_metrics import QueueCollector, SourceCollector
    from ferstream.metrics import serve

    queues = {s.queue.name: s.queue for s in sinks if hasattr(s, "queue")}  # the cameras' sinks share one queue
    serve(port, host, collectors=(SourceCollector(views), QueueCollector(list(queues.values()))))


#: seconds between retention passes while watching (sooner for a retention shorter than 20 minutes)
RETENTION_EVERY_S = 300.0


class _Retention:
    """Prunes results older than each source's retention while a watch runs: every five minutes, or every quarter
    of the shortest retention if that is sooner."""

    def __init__(self, engine, default, per_name: dict | None = None):
        from ferstream.db.retention import PruneCounts

        self.engine, self.default, self.per_name = engine, default, per_name or {}
        kept = [k.total_seconds() for k in (default, *self.per_name.values()) if k is not None]
        self.every = min([RETENTION_EVERY_S, *(max(1.0, k / 4) for k in kept)])
        self.due = 0.0
        self.removed = PruneCounts()  # what every pass removed, for the summary

    @property
    def active(self) -> bool:
        return self.default is not None or any(v is not None for v in self.per_name.values())

    def report(self, file=None) -> None:
        """What the passes removed, for a watch's summary (nothing when no retention was asked for)."""
        if self.active:
            print(f"  retention: removed {self.removed} while watching", file=file or sys.stdout)

    def tick(self) -> None:
        if not self.active or time.monotonic() < self.due:
            return
        self.due = time.monotonic() + self.every
        from ferstream.db.queries import sources
        from ferstream.db.retention import prune

        for row in sources(self.engine).itertuples():
            keep = self.per_name.get(row.name) or self.default
            if keep is None:
                continue
            try:
                counts = prune(self.engine, keep, source_id=int(row.id))
            except FerstreamError as exc:  # the database away: try again next time, the cameras go on
                log.warning("retention: pruning source %s failed: %s", row.id, exc)
                continue
            self.removed.add(counts)
            if counts.frames or counts.chunks:
                log.debug("retention: source %s (%s): removed %s older than %s", row.id, row.name, counts, keep)


def watch(settings: Settings, source: str, *, name: str | None = None, sample_fps: float | None = None,
          duration: float | None = None, metrics_port: int | None = None, metrics_host: str = DEFAULT_METRICS_HOST,
          retention=None, include_uncertain: bool = False, rules: str | None = None) -> int:
    """Watch a live source until Ctrl-C, SIGTERM or ``duration`` seconds; prints a summary at the end.
    ``rules``: a rules file, its events delivered while watching.

    The first Ctrl-C or SIGTERM stops cleanly (the partial last chunk is
    analysed or queued); a second one stops at once.
    """
    import threading

    from ferstream import db
    from ferstream.db.queries import progress
    from ferstream.events.run import EventsRun, rules_for_run
    from ferstream.ingest.live import default_name, watch_source
    from ferstream.ingest.source_metrics import SourceView
    from ferstream.ingest.stream import FAILED, STARTING
    from ferstream.sinks import make_sink

    shown_name = name or default_name(source)
    events_config = rules_for_run(rules, [shown_name])
    engine = db.connect(settings.database_url)
    queued = settings.redis_url is not None
    sink = make_sink(settings, engine)
    stop = threading.Event()
    current = {}

    def views():
        live = current.get("live")
        return [SourceView(name or default_name(source), live.state if live else STARTING, live, sink.frames_done)]

    _serve_metrics(metrics_port, metrics_host, views, [sink])
    keeper = _Retention(engine, retention)
    if keeper.active:
        threading.Thread(target=_prune_until, args=(keeper, stop), name="retention", daemon=True).start()
    with _stop_on_signals(stop), EventsRun(engine, events_config, [shown_name]) as events:
        source_id = watch_source(engine, source, sink, settings, name=name, sample_fps=sample_fps, stop=stop,
                                 max_seconds=duration, on_live=lambda live: current.update(live=live),
                                 on_source=lambda sid: events.bind(sid, shown_name))
        stop.set()
        print_watch_summary(engine, source_id, queued, include_uncertain=include_uncertain)
        keeper.report()
        events.finish()
    return 2 if progress(engine, source_id)["state"] == FAILED else 0


def _prune_until(keeper: _Retention, stop) -> None:
    while True:
        keeper.tick()
        if stop.wait(min(5.0, keeper.every)):
            return


#: seconds between two looks at the camera table while ``watch --config`` runs
CAMERAS_POLL_S = 2.0


def watch_cameras(settings: Settings, config: str, *, duration: float | None = None, metrics_port: int | None = None,
                  metrics_host: str = DEFAULT_METRICS_HOST, retention=None, rules: str | None = None,
                  poll_s: float = CAMERAS_POLL_S) -> int:
    """Watch every enabled camera of a cameras file, each in a thread of its own, until Ctrl-C, SIGTERM or
    ``duration``; one camera failing never stops the others. The file's cameras go into the database's camera
    table, which is read again every ``poll_s`` seconds: cameras added, changed, disabled or removed there (the HTTP
    API, ``ferstream cameras``) start, restart or stop without a restart. Prints a line per camera at the end;
    non-zero when a camera failed (one that never delivered a frame has)."""
    from ferstream import db
    from ferstream.events.run import EventsRun, rules_for_run
    from ferstream.ingest.camera_store import running_cameras, sync_file
    from ferstream.ingest.cameras import load_cameras
    from ferstream.ingest.source_metrics import SourceView
    from ferstream.ingest.stream import FAILED
    from ferstream.ingest.supervisor import CameraWatch, Supervisor
    from ferstream.sinks import camera_sink_factory

    cameras = load_cameras(config)
    if rules and cameras.events:
        raise ConfigError(f"{config} has rules of its own: give them there or in --rules {rules}, not both")
    events_config = rules_for_run(rules, [c.name for c in cameras.cameras]) if rules else cameras.events
    engine = db.connect(settings.database_url)
    sync_file(engine, cameras)
    enabled = running_cameras(engine)
    if not enabled:
        raise ConfigError(f"{config}: every camera is disabled (enabled: false): nothing to watch")
    events = EventsRun(engine, events_config, [c.name for c in enabled])
    make_sink = camera_sink_factory(settings, engine)

    def make_watch(c):
        return CameraWatch(c, engine, make_sink(c), settings.with_(detector=c.detector, min_face=c.min_face),
                           on_source=lambda sid, camera: events.bind(sid, camera.name))

    supervisor = Supervisor([make_watch(c) for c in enabled])

    def views():
        return [SourceView(w.camera.name, w.state, w.live, w.sink.frames_done) for w in list(supervisor.watches)]

    _serve_metrics(metrics_port, metrics_host, views, [w.sink for w in supervisor.watches])
    keeper = _Retention(engine, retention or cameras.retention, {c.name: c.retention for c in enabled})
    disabled = len(cameras.cameras) - len([c for c in cameras.cameras if c.enabled])
    print(f"watching {len(enabled)} camera(s) of {config}: {', '.join(c.name for c in enabled)}"
          + (f" ({disabled} disabled)" if disabled else ""), flush=True)
    start = time.monotonic()
    next_poll = start + poll_s
    with _stop_on_signals(supervisor.stop, supervisor.hurry), events:
        supervisor.start()
        try:
            while not supervisor.stop.wait(0.5):
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + poll_s
                    _follow_camera_table(engine, supervisor, make_watch, keeper, running_cameras)
                keeper.tick()
                if not supervisor.running():
                    break
                if duration is not None and time.monotonic() - start >= duration:
                    break
        finally:
            supervisor.shutdown()
        events.finish()
    for w in supervisor.retired + supervisor.watches:
        live = w.live
        counts = (f"{live.sampled} frames sampled, {live.sent} sent, {live.dropped} dropped, {live.reconnects} reconnects"
                  if live else "never opened")
        print(f"  {w.camera.name} (source {w.source_id}) [{w.state}]: {counts}" + (f"; {w.error}" if w.error else ""))
    keeper.report()
    failed = [w.camera.name for w in supervisor.watches if w.state == FAILED]
    if failed:  # the exit status says so too: 2, as a single watch of a dead stream
        print(f"ferstream: error: {len(failed)} of {len(supervisor.watches)} camera(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 2
    return 0


def _follow_camera_table(engine, supervisor, make_watch, keeper, running_cameras) -> None:
    """Start, restart and stop cameras as the camera table says; the database away: try again next time."""
    try:
        wanted = running_cameras(engine)
        for change in supervisor.reconcile(wanted, make_watch):
            print(f"cameras: {change}", flush=True)
    except FerstreamError as exc:
        log.warning("cameras: could not follow the camera table: %s", exc)
        return
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors while the database is away; the cameras go on
        log.warning("cameras: could not read the camera table: %s", mask_secrets(str(exc).splitlines()[0]))
        return
    keeper.per_name.update({c.name: c.retention for c in wanted})
