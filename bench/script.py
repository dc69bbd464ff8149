"""What every benchmark script does around its measure: the options all take, the process's set-up, the run's
folder, and ``run_main``, its ``main``.

Every script has ``build_parser()`` and ``measure(args, folder) -> Report``; ``run_main`` is their ``main``, and
``bench/run_all.py`` calls the same two functions.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from bench.data import DEFAULT_MEDIA, QUICK_FRAMES
from bench.tables import Report, summary_table
from bench.timing import environment, warn_if_busy


def base_parser(doc: str, frames_help: str | None = "frames per clip (default: all)") -> argparse.ArgumentParser:
    """A parser with the options every script takes: --media, --quick, --no-fer, --workdir (and --frames)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA,
                        help="folder with the real footage (default: $FERSTREAM_MEDIA or ../shared/media)")
    if frames_help:
        parser.add_argument("--frames", type=int, metavar="N", help=frames_help)
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_FRAMES} frames per clip and the smallest settings")
    parser.add_argument("--no-fer", action="store_true", help="measure ferstream only (fer not installed)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="folder for the clips and databases made at run time (default: a temporary folder)")
    return parser


def frames_limit(args: argparse.Namespace) -> int | None:
    """--frames, or the smoke run's few frames with --quick, or None (every frame)."""
    if getattr(args, "frames", None):
        return args.frames
    return QUICK_FRAMES if args.quick else None


def setup_process() -> None:
    """Quiet logs (fer's import would set INFO on the root logger) and TensorFlow's start-up noise; warn if busy."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")  # fer's Keras call
    warn_if_busy()


@contextmanager
def workdir(args: argparse.Namespace) -> Iterator[Path]:
    """args.workdir, or a temporary folder removed afterwards."""
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        yield args.workdir
        return
    with tempfile.TemporaryDirectory(prefix="ferstream-bench-") as tmp:
        yield Path(tmp)


def run_main(build_parser: Callable[[], argparse.ArgumentParser],
             measure: Callable[[argparse.Namespace, Path], Report], argv: list[str] | None = None,
             needs_media: bool = True, summary: bool = True) -> int:
    """A script's main: parse, measure, print its details and (unless ``summary`` is off) its summary lines as
    Markdown."""
    setup_process()
    args = build_parser().parse_args(argv)
    if needs_media and not args.media.is_dir():
        print(f"bench: media folder {args.media} not found (set --media or FERSTREAM_MEDIA)", file=sys.stderr)
        return 2
    with workdir(args) as tmp:
        report = measure(args, tmp)
    print(environment(), flush=True)
    print()
    print(report.markdown(), flush=True)
    if summary:
        print()
        print(summary_table(report.rows), flush=True)
    return 0
