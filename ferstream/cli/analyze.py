"""``ferstream analyze`` (video files, URLs and photos; in this process or queued to RQ) and ``ferstream demo``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from ferstream.cli.options import (add_detector, add_include_uncertain, add_model, add_preview, add_rules,
                                   add_services, int_at_least, positive_number, settings_of)
from ferstream.cli.summary import print_summary, wait_for_sources
from ferstream.console import run_command
from ferstream.errors import UrlRefused, VideoError
from ferstream.settings import Settings


def register(sub) -> None:
    """analyze and demo."""
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
    p.add_argument("--analysis-width", type=int_at_least(0), metavar="PX", help="scale frames wider than this down before detection (default: 640; 0: full resolution)")
    add_model(p)
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face to find, as a fraction of the frame's shorter side (default: 0.13 in videos, and in photos, which cost one frame, 0.03 and at least 24 px; or FERSTREAM_MIN_FACE for both; smaller finds smaller faces, more slowly)")
    add_detector(p)
    p.add_argument("--store-faces", action="store_true", help="also store each face's 48x48 grey crop (off by default: privacy)")
    add_preview(p, "the videos while they are analysed (with --redis)")
    add_include_uncertain(p)
    add_rules(p, "evaluated on every video, changes delivered while this runs (with --redis: by the workers, "
                  "delivered by `ferstream events deliver`)")
    add_services(p)
    p.set_defaults(handler=_analyze)

    p = sub.add_parser("demo", help="analyse a demo clip built from skimage's astronaut photo (or VIDEO)",
                       description="Analyse VIDEO, or a clip made at run time from skimage.data.astronaut(), in-process, and print the summary.")
    p.add_argument("video", nargs="?", help="video to analyse instead of the astronaut clip")
    add_detector(p)
    add_include_uncertain(p)
    add_services(p, redis=False)
    p.set_defaults(handler=_demo, redis=None)


def _analyze(args: argparse.Namespace) -> int:
    chosen = args.min_face is not None or os.environ.get("FERSTREAM_MIN_FACE")
    return run_command(lambda: analyze(settings_of(args), args.videos, name=args.name, sample_fps=args.sample_fps,
                                       wait=args.wait, store_faces=args.store_faces, photos_by_size=not chosen,
                                       include_uncertain=args.include_uncertain, rules=args.rules))


def _demo(args: argparse.Namespace) -> int:
    return run_command(lambda: demo(settings_of(args), args.video, include_uncertain=args.include_uncertain))


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
    from ferstream.events.run import EventsRun, rules_for_run

    labels = [_source_label(video, name, len(videos)) for video in videos]
    events_config = rules_for_run(rules, labels)  # a bad rule is refused before anything starts
    settings = settings.with_(store_faces=store_faces or None)
    engine = db.connect(settings.database_url)
    queued = settings.redis_url is not None
    with EventsRun(engine, events_config, labels) as events:
        return _analyze_all(settings, engine, videos, name, sample_fps, wait, photos_by_size, queued, events,
                            include_uncertain)


def _source_label(video: str, name: str | None, count: int) -> str:
    """The name a video's source gets (as ``ingest_file`` names it without one)."""
    from urllib.parse import urlsplit

    from ferstream.ingest.video import is_remote

    label = name if name and count == 1 else (f"{name}/{Path(video).name}" if name else None)
    return label or Path(urlsplit(str(video)).path if is_remote(video) else video).name


def _analyze_all(settings, engine, videos, name, sample_fps, wait, photos_by_size, queued, events,
                 include_uncertain: bool = False) -> int:
    from ferstream.ingest.video import is_photo
    from ferstream.settings import photo_min_face
    from ferstream.sinks import make_sink

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
