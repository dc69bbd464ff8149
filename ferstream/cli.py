"""The one command line: ``ferstream <command>``.

Each command imports its stage lazily, so ``ferstream --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ferstream import __version__
from ferstream.console import run_command
from ferstream.errors import FerstreamError

log = logging.getLogger("ferstream")


def training_module(name: str):
    """A module of the training job; a clear error naming the extra to install when TensorFlow/Keras is missing."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in ("keras", "tensorflow"):
            raise FerstreamError(f"training needs TensorFlow and Keras ({exc.name} is not installed): install the "
                                 "training extra, pip install 'ferstream[train]'") from exc
        raise


def _train(args: argparse.Namespace) -> int:
    return run_command(lambda: training_module("ferstream.training.train").run(args))


def _ensemble(args: argparse.Namespace) -> int:
    return run_command(lambda: training_module("ferstream.training.ensemble").run(args))


def _evaluate(args: argparse.Namespace) -> int:
    return run_command(lambda: training_module("ferstream.training.evaluate").evaluate(args.model, args.data, args.split, args.out, args.votes))


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0 (frames per second, seconds), by the Python API's own rule."""
    from ferstream.settings import positive_number as checked

    try:
        return checked(float(text), "")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    except FerstreamError:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}") from None


def _network(text: str):
    """A network in CIDR notation (an address alone: that address only)."""
    import ipaddress

    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a network in CIDR notation (10.0.0.0/8, fd00::/8), got {text!r}") from None


def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {low} or more{f' and at most {high}' if high else ''}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def _settings(args: argparse.Namespace):
    from ferstream.settings import Settings

    return Settings.from_env(
        database_url=getattr(args, "database", None),
        redis_url=getattr(args, "redis", None),
        analysis_width=getattr(args, "analysis_width", None),
        min_face=getattr(args, "min_face", None),
        detector=getattr(args, "detector", None),
        model_path=getattr(args, "model", None),
        preview=getattr(args, "preview", None),
        preview_fps=getattr(args, "preview_fps", None),
    )


def _analyze(args: argparse.Namespace) -> int:
    from ferstream.commands import analyze

    import os

    chosen = args.min_face is not None or os.environ.get("FERSTREAM_MIN_FACE")
    return run_command(lambda: analyze(_settings(args), args.videos, name=args.name, sample_fps=args.sample_fps,
                                       wait=args.wait, store_faces=args.store_faces, photos_by_size=not chosen,
                                       include_uncertain=args.include_uncertain, rules=args.rules))


def _watch(args: argparse.Namespace) -> int:
    from ferstream.commands import watch, watch_cameras

    if (args.source is None) == (args.config is None):
        print("ferstream watch: error: give either SOURCE or --config FILE", file=sys.stderr)
        return 2
    if args.config is not None:
        given = [flag for flag, value in (("--name", args.name), ("--sample-fps", args.sample_fps)) if value is not None]
        if given:
            print(f"ferstream watch: error: {', '.join(given)} go in the cameras file with --config (per camera)",
                  file=sys.stderr)
            return 2
        return run_command(lambda: watch_cameras(_settings(args), args.config, duration=args.duration,
                                                 metrics_port=args.metrics_port, metrics_host=args.metrics_host,
                                                 retention=_duration(args.retention), rules=args.rules))
    return run_command(lambda: watch(_settings(args), args.source, name=args.name, sample_fps=args.sample_fps,
                                     duration=args.duration, metrics_port=args.metrics_port,
                                     metrics_host=args.metrics_host, retention=_duration(args.retention),
                                     include_uncertain=args.include_uncertain, rules=args.rules))


def _duration(text: str | None):
    if text is None:
        return None
    from ferstream.db.retention import parse_duration

    return parse_duration(text)


def _events(args: argparse.Namespace) -> int:
    from ferstream import event_commands as ec

    settings = _settings(args)
    if args.events_command == "list":
        return run_command(lambda: ec.events_list(settings, args.source, args.rule, args.state, args.severity, args.limit))
    if args.events_command == "export":
        return run_command(lambda: ec.events_export(settings, args.source, args.format, args.output, args.feed))
    if args.events_command == "deliveries":
        return run_command(lambda: ec.events_deliveries(settings, args.rules, args.config))
    return run_command(lambda: ec.events_deliver(settings, args.rules, args.config, args.duration))


def _add_rules(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--rules", metavar="FILE", help=f"event rules, webhooks and MQTT (YAML; see the README, Events): "
                                                   f"{what}")


def _prune(args: argparse.Namespace) -> int:
    from ferstream.commands import prune

    return run_command(lambda: prune(_settings(args), args.older_than, args.source, args.batch))


def _demo(args: argparse.Namespace) -> int:
    from ferstream.commands import demo

    return run_command(lambda: demo(_settings(args), args.video, include_uncertain=args.include_uncertain))


def _worker(args: argparse.Namespace) -> int:
    import contextlib

    # the multiprocess folder is set before anything imports prometheus_client (worker.process does)
    with _metrics_multiprocess() if args.metrics_port is not None and args.processes > 1 else contextlib.nullcontext():
        from ferstream.worker.process import run_workers

        return run_command(lambda: run_workers(_settings(args), burst=args.burst, processes=args.processes,
                                               name=args.name, metrics_port=args.metrics_port,
                                               metrics_host=args.metrics_host))


def _metrics_multiprocess():
    """prometheus-client's multiprocess mode for a worker pool: a fresh folder (PROMETHEUS_MULTIPROC_DIR) where every
    process keeps its counts, set before anything imports the library; the pool's one endpoint merges them. A folder
    made here goes when the pool ends."""
    import contextlib
    import os
    import shutil
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    made = not folder
    if folder:
        shutil.rmtree(folder, ignore_errors=True)  # an earlier run's counts must not add to this one's
        os.makedirs(folder)
    else:
        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ferstream-metrics-")
    owner = os.getpid()

    @contextlib.contextmanager
    def removed_at_the_end():
        try:
            yield
        finally:
            if made and os.getpid() == owner:  # the pool's parent, not a forked worker leaving
                shutil.rmtree(folder, ignore_errors=True)

    return removed_at_the_end()


def _status(args: argparse.Namespace) -> int:
    from ferstream.commands import status

    return run_command(lambda: status(_settings(args)))


def _export(args: argparse.Namespace) -> int:
    from ferstream.commands import export

    return run_command(lambda: export(_settings(args), args.source, args.format, args.output, args.per_track,
                                      include_uncertain=args.include_uncertain))


def _annotate(args: argparse.Namespace) -> int:
    from ferstream.commands import annotate

    return run_command(lambda: annotate(_settings(args), args.source, args.output, args.images, args.at, args.strict))


def _dashboard(args: argparse.Namespace) -> int:
    from ferstream.dashboard.server import serve

    return run_command(lambda: serve(_settings(args), host=args.host, port=args.port))


def _serve(args: argparse.Namespace) -> int:
    from ferstream.api_server.config import ServerConfig
    from ferstream.api_server.serve import serve

    def run():
        from pathlib import Path

        config = ServerConfig(_settings(args), host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                              max_image_pixels=args.max_image_pixels, max_images=args.max_images,
                              request_timeout_s=args.request_timeout, cors_origins=tuple(args.cors_origin or ()),
                              allow_local_files=args.allow_local_files, private_docs=args.private_docs,
                              upload_dir=Path(args.upload_dir).absolute() if args.upload_dir else None,
                              photo_min_face=args.min_face, allow_url_networks=tuple(args.allow_url_net or ()),
                              allowed_hosts=tuple(args.allowed_host or ()))
        return serve(config)

    return run_command(run)


def _apikey(args: argparse.Namespace) -> int:
    from ferstream.api_server import manage

    if args.action == "create":
        return run_command(lambda: manage.apikey_create(_settings(args), args.name, args.read_only))
    if args.action == "revoke":
        return run_command(lambda: manage.apikey_revoke(_settings(args), args.key))
    return run_command(lambda: manage.apikey_list(_settings(args)))


def _cameras(args: argparse.Namespace) -> int:
    from ferstream.api_server import manage

    if args.action == "add":
        fields = {"name": args.name, "url": args.url, "sample_fps": args.sample_fps, "detector": args.detector,
                  "min_face": args.min_face, "retention": args.retention, "enabled": not args.disabled}
        fields = {k: v for k, v in fields.items() if v is not None}
        return run_command(lambda: manage.cameras_add(_settings(args), fields, args.replace))
    if args.action == "remove":
        return run_command(lambda: manage.cameras_remove(_settings(args), args.name))
    return run_command(lambda: manage.cameras_list(_settings(args)))


def _add_detector(p: argparse.ArgumentParser) -> None:
    from ferstream.settings import DEFAULT_DETECTOR, DETECTORS

    p.add_argument("--detector", choices=DETECTORS, metavar="NAME",
                   help=f"face detector: {' or '.join(DETECTORS)} (default: {DEFAULT_DETECTOR}, or FERSTREAM_DETECTOR); "
                        "blazeface, a neural detector, also finds faces turned, tilted, laughing and small; haar is "
                        "OpenCV's frontal cascade (see the README for both measured)")


def _add_metrics(p: argparse.ArgumentParser) -> None:
    from ferstream.settings import DEFAULT_METRICS_HOST

    p.add_argument("--metrics-port", type=_int_at_least(1, 65535), metavar="PORT",
                   help="serve Prometheus metrics on http://HOST:PORT/metrics (names: see the README, Metrics)")
    p.add_argument("--metrics-host", default=DEFAULT_METRICS_HOST, metavar="HOST",
                   help="the address --metrics-port listens on (default: %(default)s, this machine only; 0.0.0.0 for "
                        "every interface, where a Prometheus on another machine scrapes it)")


def _add_preview(p: argparse.ArgumentParser, whose: str) -> None:
    from ferstream.settings import DEFAULT_PREVIEW, DEFAULT_PREVIEW_FPS, PREVIEW_MODES

    p.add_argument("--preview", choices=PREVIEW_MODES, metavar="MODE",
                   help=f"live pictures of {whose} (HTTP live.mjpeg, the dashboard's Live page): on (the analysed frames "
                        "with the faces drawn), blur (the faces blurred under their labels) or off (never drawn); kept "
                        f"in Redis for seconds, only while watched, never on disk (default: $FERSTREAM_PREVIEW, else "
                        f"{DEFAULT_PREVIEW})")
    p.add_argument("--preview-fps", type=positive_number, metavar="F",
                   help=f"at most F live pictures a second per source (default: {DEFAULT_PREVIEW_FPS:g})")


def _add_include_uncertain(p: argparse.ArgumentParser, what: str = "the summary's shares, dominant emotions and "
                           "people") -> None:
    p.add_argument("--include-uncertain", action="store_true",
                   help=f"count uncertain faces (too turned, blurred, dark or small for their emotion to be trusted) "
                        f"in {what}; by default they are left out, and counted apart")


def _add_services(p: argparse.ArgumentParser, redis: bool = True) -> None:
    p.add_argument("--database", metavar="URL", help="SQLAlchemy URL (default: $DATABASE_URL, else sqlite:///ferstream.db)")
    if redis:
        p.add_argument("--redis", metavar="URL", help="Redis URL of the RQ queue (default: $REDIS_URL; none: analyse in this process)")


def _add_server_commands(sub) -> None:
    """serve, apikey and cameras: the HTTP API, its keys, and the cameras it manages at run time."""
    from ferstream.api_server.config import (DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_IMAGES, DEFAULT_MAX_UPLOAD_MB,
                                             DEFAULT_REQUEST_TIMEOUT_S)

    p = sub.add_parser("serve", help="the HTTP API (FastAPI): analyse photos, submit videos, read results, follow "
                       "them live, manage cameras",
                       description="Serve ferstream's HTTP API with uvicorn; every route under /v1, the OpenAPI docs at "
                                   "/docs. Every route but /healthz and the docs (/docs, /redoc, /openapi.json) needs "
                                   "`Authorization: Bearer KEY` (`ferstream apikey create`); on an address other "
                                   "machines reach, the server refuses to start without "
                                   "a key. Videos go to RQ with --redis/REDIS_URL, else they are analysed in the server.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument("--port", type=_int_at_least(1, 65535), default=8000, help="default: %(default)s")
    p.add_argument("--max-upload-mb", type=_int_at_least(1), default=DEFAULT_MAX_UPLOAD_MB, metavar="MB",
                   help="largest video upload (default: %(default)s)")
    p.add_argument("--max-image-pixels", type=_int_at_least(64), default=DEFAULT_MAX_IMAGE_PIXELS, metavar="N",
                   help="largest photo for /v1/analyze, in pixels (default: %(default)s)")
    p.add_argument("--max-images", type=_int_at_least(1), default=DEFAULT_MAX_IMAGES, metavar="N",
                   help="most photos per /v1/analyze request (default: %(default)s)")
    p.add_argument("--request-timeout", type=positive_number, default=DEFAULT_REQUEST_TIMEOUT_S, metavar="SECONDS",
                   help="longest /v1/analyze request before it is answered 503 (default: %(default)s)")
    p.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="allow browsers on this origin (https://app.example.com) to call the API, changes included "
                        "(repeat it; default: CORS off, and changes from other sites' pages refused)")
    p.add_argument("--allow-local-files", action="store_true",
                   help="accept file:// URLs and paths of this machine in POST /v1/videos (default: refused)")
    p.add_argument("--allow-url-net", action="append", type=_network, metavar="CIDR",
                   help="let POST /v1/videos fetch from this network too (10.0.0.0/8, 127.0.0.0/8; repeat it; default: "
                        "public addresses only)")
    p.add_argument("--allowed-host", action="append", metavar="NAME",
                   help="answer requests for this Host name too (api.example.com behind a proxy; repeat it; * for any; "
                        "default: the --host address, and localhost names on a loopback address)")
    p.add_argument("--upload-dir", metavar="DIR", help="where uploads are kept while ingest reads them: a folder of "
                   "this user's that nobody else may write to, not a symlink (default: the user's cache folder, "
                   "~/.cache/ferstream/uploads-HOST-PORT)")
    p.add_argument("--private-docs", action="store_true",
                   help="/docs, /redoc and /openapi.json need a key too (default: they load without one: they hold no "
                        "data)")
    p.add_argument("--model", help="emotion model (.tflite; default: the shipped model)")
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face in photos (default: by the photo's "
                   "size, as the Python API: 3%% of its shorter side and at least 24 px)")
    _add_detector(p)
    _add_services(p)
    p.set_defaults(handler=_serve)

    p = sub.add_parser("apikey", help="make, list and revoke the HTTP API's keys",
                       description="API keys of `ferstream serve`, kept in the database (only their SHA-256).")
    keys = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    k = keys.add_parser("create", help="make a key: printed once, alone on the last line")
    k.add_argument("--name", required=True, help="who or what uses it")
    k.add_argument("--read-only", action="store_true", help="it may read, not submit, change cameras or delete")
    _add_services(k, redis=False)
    k = keys.add_parser("list", help="every key: id, name, first characters, rights, state")
    _add_services(k, redis=False)
    k = keys.add_parser("revoke", help="revoke a key (by id or name): refused from the next request on")
    k.add_argument("key", metavar="ID|NAME")
    _add_services(k, redis=False)
    _add_verbose(keys)
    p.set_defaults(handler=_apikey)

    p = sub.add_parser("cameras", help="add, list and remove the cameras of a running `watch --config`",
                       description="Cameras kept in the database: a running `ferstream watch --config` starts, restarts "
                                   "and stops them within seconds, and keeps them across restarts.")
    cams = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = cams.add_parser("add", help="add a camera (or change one with --replace)")
    c.add_argument("name", metavar="NAME")
    c.add_argument("url", metavar="URL", help="rtsp://, http(s):// stream, or a device (0, /dev/video0)")
    c.add_argument("--sample-fps", type=positive_number, metavar="F", help="frames per second analysed (default: 5)")
    c.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face (default: the watch's)")
    c.add_argument("--retention", metavar="DURATION", help="keep its results this long (30d, 12h)")
    c.add_argument("--disabled", action="store_true", help="listed, not watched")
    c.add_argument("--replace", action="store_true", help="change the camera of that name if there is one")
    _add_detector(c)
    _add_services(c, redis=False)
    c = cams.add_parser("list", help="every camera, URLs masked")
    _add_services(c, redis=False)
    c = cams.add_parser("remove", help="remove a camera: a running watch stops it")
    c.add_argument("name", metavar="NAME")
    _add_services(c, redis=False)
    _add_verbose(cams)
    p.set_defaults(handler=_cameras)


def _add_verbose(actions) -> None:
    """``-v`` on every action of a command group (``ferstream apikey list -v``)."""
    for action in actions.choices.values():
        action.add_argument("-v", "--verbose", action="store_true", help="also show debug lines")


def build_parser() -> argparse.ArgumentParser:
    from ferstream.training.cli import add_ensemble_arguments, add_evaluate_arguments, add_train_arguments

    parser = argparse.ArgumentParser(
        prog="ferstream",
        description="Find faces in video and tell which of seven emotions each one shows.",
    )
    parser.add_argument("--version", action="version", version=f"ferstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="analyse video files (in-process, or queued to RQ workers)",
                       description="Find faces in every sampled frame and classify their emotions. Without Redis the "
                                   "analysis runs in this process on the embedded SQLite database; with --redis/REDIS_URL "
                                   "the chunks are queued for `ferstream worker` and the command returns (or waits with --wait).")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video file(s) OpenCV/FFmpeg can read: a path, or the http(s):// URL of "
                   "a video file (opened with the same timeouts as `watch`), or photos (.jpg, .png, ...); live streams go "
                   "to `ferstream watch`")
    p.add_argument("--sample-fps", type=positive_number, metavar="F", help="frames per second to analyse (default: every frame)")
    p.add_argument("--name", help="source name shown in status, export and the dashboard (default: the file name)")
    p.add_argument("--wait", action="store_true", help="with Redis: wait for the workers, with a progress bar, then print the summary")
    p.add_argument("--analysis-width", type=_int_at_least(0), metavar="PX", help="scale frames wider than this down before detection (default: 640; 0: full resolution)")
    p.add_argument("--model", help="emotion model (.tflite; default: the shipped model)")
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face to find, as a fraction of the frame's shorter side (default: 0.13 in videos, and in photos, which cost one frame, 0.03 and at least 24 px; or FERSTREAM_MIN_FACE for both; smaller finds smaller faces, more slowly)")
    _add_detector(p)
    p.add_argument("--store-faces", action="store_true", help="also store each face's 48x48 grey crop (off by default: privacy)")
    _add_preview(p, "the videos while they are analysed (with --redis)")
    _add_include_uncertain(p)
    _add_rules(p, "evaluated on every video, changes delivered while this runs (with --redis: by the workers, "
                  "delivered by `ferstream events deliver`)")
    _add_services(p)
    p.set_defaults(handler=_analyze)

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
    p.add_argument("--analysis-width", type=_int_at_least(0), metavar="PX", help="scale frames wider than this down before detection (default: 640; 0: full resolution)")
    p.add_argument("--model", help="emotion model (.tflite; default: the shipped model)")
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face to find, as a fraction of the frame's shorter side (default: 0.13, or FERSTREAM_MIN_FACE; smaller finds smaller faces, more slowly)")
    _add_detector(p)
    _add_metrics(p)
    _add_preview(p, "the source (the cameras; with --redis)")
    p.add_argument("--retention", metavar="DURATION", help="while watching, delete results older than this (30d, 12h, 90m; "
                   "default: keep everything, or the cameras file's retention); see `ferstream prune`")
    _add_include_uncertain(p, "the summary printed at the end (SOURCE only)")
    _add_rules(p, "evaluated on the source (the cameras), changes delivered while watching (a cameras file may hold "
                  "them instead, under rules:, webhooks:, mqtt:)")
    _add_services(p)
    p.set_defaults(handler=_watch)

    p = sub.add_parser("demo", help="analyse a demo clip built from skimage's astronaut photo (or VIDEO)",
                       description="Analyse VIDEO, or a clip made at run time from skimage.data.astronaut(), in-process, and print the summary.")
    p.add_argument("video", nargs="?", help="video to analyse instead of the astronaut clip")
    _add_detector(p)
    _add_include_uncertain(p)
    _add_services(p, redis=False)
    p.set_defaults(handler=_demo, redis=None)

    p = sub.add_parser("worker", help="run RQ workers that analyse queued chunks",
                       description="RQ SimpleWorkers: each process loads the detector and model once and reuses them for every job.")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--processes", type=_int_at_least(1), default=1, metavar="N", help="worker processes (default: %(default)s; about one per core)")
    p.add_argument("--name", help="worker name (default: RQ's)")
    _add_metrics(p)
    p.add_argument("--model", help="emotion model (.tflite; default: the shipped model)")
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face to find, as a fraction of the frame's shorter side (default: 0.13, or FERSTREAM_MIN_FACE; smaller finds smaller faces, more slowly)")
    _add_detector(p)
    _add_preview(p, "every source this worker analyses (the more private of this and the chunk's --preview wins)")
    _add_services(p)
    p.set_defaults(handler=_worker)

    p = sub.add_parser("prune", help="delete results older than a duration (retention)",
                       description="Delete frames and their faces (and chunks whose frames are all gone) older than "
                                   "DURATION, in short transactions, so a running watch and the workers never wait long. "
                                   "A frame's age is its capture time (live sources) or when it was analysed. Source "
                                   "rows are kept. `watch --retention` (or the cameras file) does this while it runs.")
    p.add_argument("--older-than", required=True, metavar="DURATION", help="30d, 12h, 90m, 45s, 2w or combined (1d12h)")
    p.add_argument("--source", metavar="ID|NAME", help="only this source (default: every source)")
    p.add_argument("--batch", type=_int_at_least(1), metavar="N", help="frames per transaction (default: 5000)")
    _add_services(p, redis=False)
    p.set_defaults(handler=_prune)

    p = sub.add_parser("events", help="emotion events: list, export, deliveries not yet made, deliver",
                       description="Events raised by the rules of `analyze --rules`, `watch --rules` or a cameras file "
                                   "(people or crowds showing emotions over time), and their delivery to webhooks and MQTT.")
    events = p.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    q = events.add_parser("list", help="the events (active and ended), oldest first")
    q.add_argument("--source", metavar="ID|NAME", help="only this source")
    q.add_argument("--rule", metavar="NAME", help="only this rule")
    q.add_argument("--state", choices=("active", "ended"), help="only this state")
    q.add_argument("--severity", choices=("alert", "detection"), help="only this severity")
    q.add_argument("--limit", type=_int_at_least(1), metavar="N", help="at most N events")
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
        _add_services(q, redis=False)
    p.set_defaults(handler=_events)

    p = sub.add_parser("status", help="queue depth, workers and per-source progress")
    _add_services(p)
    p.set_defaults(handler=_status)

    p = sub.add_parser("export", help="per-face results as CSV or Parquet",
                       description="One row per face: source, frame_index, timestamp, face_index, track_id, box, emotion, "
                                   "confidence, quality, uncertain, the seven probabilities, and the label and probabilities smoothed over the "
                                   "face's track (its last second); or, with --per-track, one row per person.")
    p.add_argument("--source", required=True, metavar="ID|NAME", help="source id or name (see `ferstream status`)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="default: %(default)s")
    p.add_argument("--per-track", action="store_true",
                   help="one row per person (face track) instead of per face: first and last time seen, faces, the "
                        "dominant emotion, each emotion's share and the mean probabilities")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: <source name>.<format>; - for stdout, CSV only)")
    _add_include_uncertain(p, "the smoothed emotions and, with --per-track, the tracks' emotions (every face is "
                              "exported either way, with its quality and uncertain columns)")
    _add_services(p, redis=False)
    p.set_defaults(handler=_export)

    p = sub.add_parser("annotate", help="the analysed video with its faces drawn (H.264), or annotated PNGs of moments",
                       description="Draw each analysed face (box, track, smoothed emotion and confidence) onto the "
                                   "original file's frames, from the database's results; frames that were not analysed "
                                   "show the nearest analysed frame's faces. Written as H.264 with ffmpeg when installed, "
                                   "else with OpenCV's mp4v. Live sources cannot be annotated: their frames are not kept.")
    p.add_argument("--source", required=True, metavar="ID|NAME", help="source id or name (see `ferstream status`)")
    p.add_argument("-o", "--output", metavar="FILE", help="the annotated video (default: source-<id>-annotated.mp4)")
    p.add_argument("--images", metavar="DIR", help="write annotated PNGs of the moments --at into DIR instead of a video")
    p.add_argument("--at", type=float, action="append", metavar="SECONDS",
                   help="with --images: a moment in the video, in seconds (repeat it; default: 0); the moments the "
                        "video has are written, those it has not are named (exit status 2)")
    p.add_argument("--strict", action="store_true", help="with --images: write nothing unless the video has every --at moment")
    _add_services(p, redis=False)
    p.set_defaults(handler=_annotate)

    p = sub.add_parser("dashboard", help="the Streamlit dashboard: emotions over time, per source, live",
                       description="Serve the dashboard over the results database. It shows analytics about people: "
                                   "it listens on 127.0.0.1 only unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_int_at_least(1, 65535), default=8501, help="default: %(default)s")
    _add_detector(p)
    _add_services(p)
    p.set_defaults(handler=_dashboard)

    _add_server_commands(sub)
    p = sub.add_parser("train", help="train the emotion model on FER-2013", description="Train the emotion CNN on FER-2013 and export it (.keras, .tflite, .json).")
    add_train_arguments(p).set_defaults(handler=_train)
    p = sub.add_parser("ensemble", help="average trained models into one exported model, or export one again",
                       description="Average the probabilities of two or more trained .keras models in one model, export it "
                                   "(.keras, .tflite, .json) and score it on FER-2013 like a trained model. Given one model, "
                                   "export it again with other --tta or --quantize options (for example the shipped model "
                                   "with --tta flip: a little over half the inference time).")
    add_ensemble_arguments(p).set_defaults(handler=_ensemble)
    p = sub.add_parser("evaluate", help="score a model on FER-2013", description="Accuracy, per-class precision/recall/F1 and a confusion-matrix PNG of a model on FER-2013 (either layout).")
    add_evaluate_arguments(p).set_defaults(handler=_evaluate)
    for command in sub.choices.values():
        command.add_argument("-v", "--verbose", action="store_true",
                             help="also show debug lines and the native libraries' own logs (OpenCV, FFmpeg, LiteRT)")
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    from ferstream.native_logs import VERBOSE_ENV

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"  # the processes this command starts (a worker pool, the dashboard) inherit it
    try:
        status = args.handler(args)
        sys.stdout.flush()  # what is still buffered meets a closed pipe here, not at exit
    except BrokenPipeError:
        return quiet_on_a_closed_pipe()
    return status


#: the exit status of a command whose reader went away (`ferstream cameras list | head`): as a shell reports a tool
#: SIGPIPE ended (128 + 13)
CLOSED_PIPE_STATUS = 141


def quiet_on_a_closed_pipe() -> int:
    """The reader of stdout has gone (``| head``): stop quietly, no traceback, and nothing more written (the
    interpreter's own flush at exit would meet the closed pipe again, so stdout goes to /dev/null)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return CLOSED_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
