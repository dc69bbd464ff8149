"""The CLI's commands: they wire the stages together (ingest -> queue or in-process worker -> db)."""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ferstream.db.retention import PruneCounts
from ferstream.errors import ConfigError, FerstreamError, UrlRefused, VideoError
from ferstream.settings import DEFAULT_METRICS_HOST
from ferstream.settings import Settings
from ferstream.sinks import make_sink
from ferstream.urls import mask_secrets, mask_url

log = logging.getLogger(__name__)


def analyze(settings: Settings, videos: list[str], *, name: str | None = None, sample_fps: float | None = None,
            wait: bool = False, store_faces: bool = False, photos_by_size: bool = False,
            include_uncertain: bool = False, rules: str | None = None) -> int:
    """Analyse (or queue) each video or photo; prints a summary per source; non-zero if any failed.

    ``include_uncertain``: the summaries count uncertain faces too (by default they are left out of the shares).
    ``rules``: a rules file (``ferstream.events.rules``): its rules are evaluated on every source, its changes
    delivered to its webhooks and MQTT while this runs.

    ``photos_by_size``: search each photo for faces down to ``settings.photo_min_face`` of its size (a photo costs
    one frame: search it for the small faces of a group), where the user chose no smallest face."""
    from ferstream import db
    from ferstream.event_commands import EventsRun, rules_for_run

    labels = [_source_label(video, name, len(videos)) for video in videos]
    events_config = rules_for_run(rules, labels)  # a bad rule is refused before anything starts
    settings = settings.with_(store_faces=store_faces or None)
    engine = db.connect(settings.database_url)
    queued = settings.redis_url is not None
    with EventsRun(engine, events_config, labels) as events:
        return _analyze(settings, engine, videos, name, sample_fps, wait, photos_by_size, queued, events,
                        include_uncertain)


def _source_label(video: str, name: str | None, count: int) -> str:
    """The name a video's source gets (as ``ingest_file`` names it without one)."""
    from urllib.parse import urlsplit

    from ferstream.ingest.video import is_remote

    label = name if name and count == 1 else (f"{name}/{Path(video).name}" if name else None)
    return label or Path(urlsplit(str(video)).path if is_remote(video) else video).name


def _analyze(settings, engine, videos, name, sample_fps, wait, photos_by_size, queued, events,
             include_uncertain: bool = False) -> int:
    from ferstream.ingest.video import is_photo
    from ferstream.settings import photo_min_face

    sinks: dict[float, object] = {}  # by smallest face: the worker's jobs (or the in-process analyzer) carry it

    source_ids, smallest, failures = [], {}, []
    for i, video in enumerate(videos):
        label = name if name and len(videos) == 1 else (f"{name}/{Path(video).name}" if name else None)
        size = _photo_size(video) if photos_by_size and is_photo(video) else None
        chosen = settings.with_(min_face=photo_min_face(*size)) if size else settings
        if chosen.min_face not in sinks:
            sinks[chosen.min_face] = make_sink(chosen, engine)
        try:
            sid = _ingest_with_progress(engine, video, sinks[chosen.min_face], chosen, label, sample_fps, queued,
                                        lambda sid, video=video: events.bind(sid, _source_label(video, name, len(videos))))
        except (VideoError, UrlRefused) as exc:  # this video only: the others go on
            failures.append(str(exc))
            print(f"ferstream: error: {exc}", file=sys.stderr)
            continue
        source_ids.append(sid)
        smallest[sid] = (chosen.min_face, is_photo(video), size is not None)
    if queued and source_ids and not wait:
        print(f"queued {len(source_ids)} video(s) as source(s) {', '.join(map(str, source_ids))}: "
              "run `ferstream worker` to analyse them and `ferstream status` to follow progress"
              + ("; their events: `ferstream events deliver --rules FILE`" if events.config else ""))
        return 2 if failures else 0
    if queued and source_ids:  # pending() re-sends chunks a Redis restart lost
        wait_for_sources(engine, source_ids, tick=lambda: [sink.pending() for sink in sinks.values()])
    for sid in source_ids:
        print_summary(engine, sid, include_uncertain=include_uncertain)
        min_face, photo, by_size = smallest[sid]
        print(f"  smallest face searched: {min_face * 100:.3g}% of the {'photo' if photo else 'frame'}'s shorter side"
              + (" (photos are searched for small faces: --min-face to change it)" if by_size else ""))
    events.finish()
    return 2 if failures else 0


def _photo_size(path: str) -> tuple[int, int] | None:
    """A photo's width and height (None when OpenCV cannot read it: ingest then says why)."""
    import cv2

    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return None if image is None else (image.shape[1], image.shape[0])


def _ingest_with_progress(engine, video, sink, settings, name, sample_fps, queued, on_source=None) -> int:
    from tqdm import tqdm

    from ferstream.ingest.files import ingest_file

    bars = []

    def advance(chunk, reader):
        if not bars:
            bars.append(tqdm(total=reader.info.frame_count or None, unit="frame", disable=None, leave=False,
                             desc=f"{'queue' if queued else 'analyse'} {Path(video).name}"))
        bars[0].update(reader.frames_read - bars[0].n)

    try:
        return ingest_file(engine, video, sink, settings, name=name, sample_fps=sample_fps, on_chunk=advance,
                           on_source=on_source)
    finally:
        for bar in bars:
            bar.close()


def wait_for_sources(engine, source_ids: list[int], poll: float = 0.5, timeout: float | None = None,
                     tick=None) -> None:
    """Block until every source is done or failed, with a progress bar fed by the workers' results."""
    from tqdm import tqdm

    from ferstream.db.queries import sources

    start = time.monotonic()
    bar = tqdm(unit="frame", desc="workers", disable=None)
    try:
        while True:
            df = sources(engine, source_ids)
            bar.total = int(df["frames_queued"].sum())
            bar.update(int(df["frames_analysed"].sum() + df["frames_failed"].sum()) - bar.n)
            if df["status"].isin(["done", "failed"]).all():
                return
            if tick:
                tick()
            if timeout is not None and time.monotonic() - start > timeout:
                raise FerstreamError(f"sources {source_ids} not finished after {timeout:.0f}s")
            time.sleep(poll)
    finally:
        bar.close()


def print_summary(engine, source_id: int, file=None, include_uncertain: bool = False) -> None:
    """A source's progress, its faces per emotion and its people; uncertain faces are left out of the shares (and
    counted) unless ``include_uncertain``."""
    from ferstream.db.queries import emotion_summary, progress

    file = file or sys.stdout
    p = progress(engine, source_id)
    summary = emotion_summary(engine, source_id, include_uncertain=include_uncertain)
    print(f"\nsource {source_id}: {p['name']} [{p['status']}]", file=file)
    print(f"  frames analysed {p['frames_analysed']} (of {p['frames_read']} decoded), "
          f"{p['frames_no_face']} without a face, {p['frames_failed']} failed; faces {p['faces']}", file=file)
    if p["error"]:
        print(f"  error: {p['error']}", file=file)
    if p["pruned_frames"]:
        print(f"  {p['pruned_frames']} of these frames were deleted by retention since; the table counts the faces kept",
              file=file)
    print(f"  {uncertain_line(summary, include_uncertain)}", file=file)
    table = summary.assign(share=(summary["share"] * 100).round(1).astype(str) + "%",
                           mean_confidence=summary["mean_confidence"].round(3))
    print(table.to_string(index=False), file=file)
    if summary["faces"].sum():
        top = summary.sort_values("faces", ascending=False).iloc[0]
        counted = "certain faces" if summary["uncertain"].sum() and not include_uncertain else "faces"
        print(f"  dominant emotion: {top['emotion']} ({top['share'] * 100:.1f}% of {counted})", file=file)
    if p["faces"]:
        print_people(engine, source_id, file=file, include_uncertain=include_uncertain)


def uncertain_line(summary, include_uncertain: bool) -> str:
    """"312 faces, 41 uncertain (left out of the shares)" for an emotion summary (``db.queries.emotion_summary``)."""
    uncertain = int(summary["uncertain"].sum())
    faces = int(summary["faces"].sum()) + (0 if include_uncertain else uncertain)
    if not uncertain:
        return f"{faces} faces, none uncertain"
    if include_uncertain:
        return f"{faces} faces, {uncertain} uncertain (counted in the shares: --include-uncertain)"
    return f"{faces} faces, {uncertain} uncertain (left out of the shares; --include-uncertain counts them)"


def print_people(engine, source_id: int, file=None, most: int = 20, include_uncertain: bool = False) -> None:
    """How many people (face tracks) were seen, and each one's dominant emotion (the ``most`` seen longest); a
    track's emotion counts its certain faces unless ``include_uncertain``."""
    from ferstream.db.queries import tracks_table

    people = tracks_table(engine, source_id, include_uncertain=include_uncertain)
    if people.empty:
        return
    print(f"  people (face tracks): {len(people)}", file=file)
    shown = people.sort_values("faces", ascending=False).head(most).sort_values("first_timestamp")
    for row in shown.itertuples():
        seen = f"    track {row.track_id}: {row.first_timestamp:.1f}-{row.last_timestamp:.1f} s, {row.faces} faces"
        flagged = f", {row.uncertain_faces} uncertain" if row.uncertain_faces else ""
        if pd.isna(row.dominant_emotion):
            print(f"{seen}{flagged}, emotion uncertain (every face uncertain)", file=file)
            continue
        share = getattr(row, f"share_{row.dominant_emotion}")
        print(f"{seen}{flagged}, mostly {row.dominant_emotion} ({share * 100:.0f}%)", file=file)
    if len(people) > most:
        print(f"    ... and {len(people) - most} more (`ferstream export --per-track`)", file=file)


def demo(settings: Settings, video: str | None, include_uncertain: bool = False) -> int:
    """Analyse ``video`` or the astronaut clip in-process and print the summary."""
    settings = replace(settings, redis_url=None)
    if video:
        return analyze(settings, [video], include_uncertain=include_uncertain)
    from ferstream.demo import make_astronaut_video

    with tempfile.TemporaryDirectory() as tmp:
        clip = make_astronaut_video(Path(tmp) / "astronaut.mp4")
        print(f"demo: analysing a {clip.stat().st_size // 1024} KiB clip built from skimage.data.astronaut()")
        return analyze(settings, [str(clip)], name="astronaut-demo", include_uncertain=include_uncertain)


def status(settings: Settings) -> int:
    """Queue depth, workers and per-source progress."""
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


def export(settings: Settings, source: str, fmt: str, output: str | None, per_track: bool = False,
           include_uncertain: bool = False) -> int:
    """Per-face rows (or, ``per_track``, one row per person) of one source to CSV or Parquet. Every face is written,
    with its ``quality`` and ``uncertain``; the smoothed emotions and the tracks' emotions count uncertain faces only
    with ``include_uncertain``."""
    from ferstream import db
    from ferstream.db.queries import faces_table, find_source, tracks_table

    engine = db.connect_existing(settings.database_url)
    sid = find_source(engine, source)
    df = (tracks_table if per_track else faces_table)(engine, sid, include_uncertain=include_uncertain)
    if output == "-":
        if fmt != "csv":
            raise FerstreamError("only CSV can be written to stdout")
        df.to_csv(sys.stdout, index=False)
        return 0
    stem = Path(str(df["source"].iloc[0]) if len(df) else f"source-{sid}").stem + ("-tracks" if per_track else "")
    path = Path(output or f"{stem}.{fmt}")
    try:
        if fmt == "csv":
            df.to_csv(path, index=False)
        else:
            df.to_parquet(path, index=False)
    except OSError as exc:
        raise FerstreamError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"wrote {len(df)} {'track' if per_track else 'face'} rows of source {sid} to {path}")
    return 0


def annotate(settings: Settings, source: str, output: str | None, images: str | None, at: list[float] | None,
             strict: bool = False) -> int:
    """The analysed video with its faces drawn (``output``), or annotated PNGs of moments (``images``, ``at``):
    those the video has, and an error naming the others (``strict``: nothing written then)."""
    from ferstream import db
    from ferstream.db.queries import find_source
    from ferstream.annotate import annotate_images, annotate_video

    engine = db.connect_existing(settings.database_url)
    sid = find_source(engine, source)
    if images:
        paths, problem = annotate_images(engine, sid, Path(images), at or [0.0], strict=strict)
        print(f"wrote {len(paths)} annotated frame(s) of source {sid} to {images}")
        if problem:
            print(f"ferstream: error: {problem}", file=sys.stderr)
            return 2
        return 0
    out = Path(output or f"source-{sid}-annotated.mp4")
    if not out.parent.is_dir():
        raise FerstreamError(f"cannot write {out}: no folder {out.parent}")
    frames = annotate_video(engine, sid, out)
    print(f"wrote {out}: {frames} frames of source {sid}, its faces drawn")
    return 0


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
    from ferstream.ingest.live import default_name, watch_source
    from ferstream.ingest.source_metrics import SourceView
    from ferstream.ingest.stream import FAILED, STARTING
    from ferstream.event_commands import EventsRun, rules_for_run

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
    from ferstream.ingest.camera_store import running_cameras, sync_file
    from ferstream.ingest.cameras import load_cameras
    from ferstream.ingest.source_metrics import SourceView
    from ferstream.ingest.stream import FAILED
    from ferstream.ingest.supervisor import CameraWatch, Supervisor
    from ferstream.sinks import camera_sink_factory

    from ferstream.event_commands import EventsRun, rules_for_run

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


def print_watch_summary(engine, source_id: int, queued: bool, file=None, include_uncertain: bool = False) -> None:
    """In-process: the usual summary; either way the live counters (sampled, sent, dropped, reconnects)."""
    from ferstream.db.queries import progress

    file = file or sys.stdout
    p = progress(engine, source_id)
    if queued:
        print(f"\nsource {source_id}: {p['name']} [{p['state']}]", file=file)
        if p["error"]:
            print(f"  error: {p['error']}", file=file)
    else:
        print_summary(engine, source_id, file=file, include_uncertain=include_uncertain)
    print(f"  live: {p['frames_queued'] + p['frames_dropped']} frames sampled, {p['frames_queued']} "
          f"{'queued' if queued else 'analysed'}, {p['frames_dropped']} dropped (workers behind), "
          f"{p['reconnects']} reconnects", file=file)
    if queued:
        print("  run `ferstream worker` to analyse the queued frames and `ferstream status` to follow them", file=file)
