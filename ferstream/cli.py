"""The one command line: ``ferstream <command>``.

Each command imports its stage lazily, so ``ferstream --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from ferstream import __version__
from ferstream.errors import FerstreamError

log = logging.getLogger("ferstream")


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def run_command(fn: Callable[[], object]) -> int:
    """Run one command: configured logging, and a clear message instead of a traceback for our errors."""
    setup_logging()
    try:
        result = fn()
    except FerstreamError as exc:
        print(f"ferstream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ferstream: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def _train(args: argparse.Namespace) -> int:
    from training.train import run

    return run_command(lambda: run(args))


def _evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate

    return run_command(lambda: evaluate(args.model, args.data, args.split, args.out))


def build_parser() -> argparse.ArgumentParser:
    from training.cli import add_evaluate_arguments, add_train_arguments

    parser = argparse.ArgumentParser(
        prog="ferstream",
        description="Find faces in video and tell which of seven emotions each one shows.",
    )
    parser.add_argument("--version", action="version", version=f"ferstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train the emotion model on FER-2013", description="Train the emotion CNN on FER-2013 and export it (.keras, .tflite, .json).")
    add_train_arguments(p).set_defaults(handler=_train)
    p = sub.add_parser("evaluate", help="score a model on FER-2013", description="Accuracy, per-class precision/recall/F1 and a confusion-matrix PNG of a model on FER-2013 (either layout).")
    add_evaluate_arguments(p).set_defaults(handler=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
