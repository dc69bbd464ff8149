"""Results out of the database: ``ferstream export`` (per face or per person, CSV or Parquet) and ``ferstream
annotate`` (the video with its faces drawn, or PNGs of moments)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ferstream.cli.options import add_include_uncertain, add_services, settings_of
from ferstream.console import run_command
from ferstream.errors import FerstreamError
from ferstream.settings import Settings


def register(sub) -> None:
    """export and annotate."""
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
    add_include_uncertain(p, "the smoothed emotions and, with --per-track, the tracks' emotions (every face is "
                              "exported either way, with its quality and uncertain columns)")
    add_services(p, redis=False)
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
    add_services(p, redis=False)
    p.set_defaults(handler=_annotate)


def _export(args: argparse.Namespace) -> int:
    return run_command(lambda: export(settings_of(args), args.source, args.format, args.output, args.per_track,
                                      include_uncertain=args.include_uncertain))


def _annotate(args: argparse.Namespace) -> int:
    return run_command(lambda: annotate(settings_of(args), args.source, args.output, args.images, args.at, args.strict))


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
    from ferstream.annotate import annotate_images, annotate_video
    from ferstream.db.queries import find_source

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
