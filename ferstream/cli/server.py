"""``ferstream serve`` (the HTTP API), ``ferstream apikey`` (its keys) and ``ferstream cameras`` (the cameras a
running ``watch --config`` follows)."""

from __future__ import annotations

import argparse

from ferstream.cli.options import (add_detector, add_model, add_services, int_at_least, network, positive_number,
                                   settings_of)
from ferstream.console import run_command


def register(sub) -> None:
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
    p.add_argument("--port", type=int_at_least(1, 65535), default=8000, help="default: %(default)s")
    p.add_argument("--max-upload-mb", type=int_at_least(1), default=DEFAULT_MAX_UPLOAD_MB, metavar="MB",
                   help="largest video upload (default: %(default)s)")
    p.add_argument("--max-image-pixels", type=int_at_least(64), default=DEFAULT_MAX_IMAGE_PIXELS, metavar="N",
                   help="largest photo for /v1/analyze, in pixels (default: %(default)s)")
    p.add_argument("--max-images", type=int_at_least(1), default=DEFAULT_MAX_IMAGES, metavar="N",
                   help="most photos per /v1/analyze request (default: %(default)s)")
    p.add_argument("--request-timeout", type=positive_number, default=DEFAULT_REQUEST_TIMEOUT_S, metavar="SECONDS",
                   help="longest /v1/analyze request before it is answered 503 (default: %(default)s)")
    p.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="allow browsers on this origin (https://app.example.com) to call the API, changes included "
                        "(repeat it; default: CORS off, and changes from other sites' pages refused)")
    p.add_argument("--allow-local-files", action="store_true",
                   help="accept file:// URLs and paths of this machine in POST /v1/videos (default: refused)")
    p.add_argument("--allow-url-net", action="append", type=network, metavar="CIDR",
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
    add_model(p)
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face in photos (default: by the photo's "
                   "size, as the Python API: 3%% of its shorter side and at least 24 px)")
    add_detector(p)
    add_services(p)
    p.set_defaults(handler=_serve)

    p = sub.add_parser("apikey", help="make, list and revoke the HTTP API's keys",
                       description="API keys of `ferstream serve`, kept in the database (only their SHA-256).")
    keys = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    k = keys.add_parser("create", help="make a key: printed once, alone on the last line")
    k.add_argument("--name", required=True, help="who or what uses it")
    k.add_argument("--read-only", action="store_true", help="it may read, not submit, change cameras or delete")
    keys.add_parser("list", help="every key: id, name, first characters, rights, state")
    k = keys.add_parser("revoke", help="revoke a key (by id or name): refused from the next request on")
    k.add_argument("key", metavar="ID|NAME")
    _add_to_every_action(keys)
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
    add_detector(c)
    cams.add_parser("list", help="every camera, URLs masked")
    c = cams.add_parser("remove", help="remove a camera: a running watch stops it")
    c.add_argument("name", metavar="NAME")
    _add_to_every_action(cams)
    p.set_defaults(handler=_cameras)


def _add_to_every_action(actions) -> None:
    """``--database`` and ``-v`` on every action of a command group (``ferstream apikey list -v``)."""
    for action in actions.choices.values():
        add_services(action, redis=False)
        action.add_argument("-v", "--verbose", action="store_true", help="also show debug lines")


def _serve(args: argparse.Namespace) -> int:
    from ferstream.api_server.config import ServerConfig
    from ferstream.api_server.serve import serve

    def run():
        from pathlib import Path

        config = ServerConfig(settings_of(args), host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
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
        return run_command(lambda: manage.apikey_create(settings_of(args), args.name, args.read_only))
    if args.action == "revoke":
        return run_command(lambda: manage.apikey_revoke(settings_of(args), args.key))
    return run_command(lambda: manage.apikey_list(settings_of(args)))


def _cameras(args: argparse.Namespace) -> int:
    from ferstream.api_server import manage

    if args.action == "add":
        fields = {"name": args.name, "url": args.url, "sample_fps": args.sample_fps, "detector": args.detector,
                  "min_face": args.min_face, "retention": args.retention, "enabled": not args.disabled}
        fields = {k: v for k, v in fields.items() if v is not None}
        return run_command(lambda: manage.cameras_add(settings_of(args), fields, args.replace))
    if args.action == "remove":
        return run_command(lambda: manage.cameras_remove(settings_of(args), args.name))
    return run_command(lambda: manage.cameras_list(settings_of(args)))
