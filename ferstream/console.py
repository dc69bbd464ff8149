"""How every entry point (the CLI, ``python -m ferstream.training``, the dashboard) starts and ends a command.

A contract at the bottom of the package: logging configured once per process, and the project's
errors printed as one clear line with exit status 2 instead of a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

from ferstream.errors import FerstreamError
from ferstream.native_logs import quiet_video_logs, verbose


def setup_logging(level: int = logging.INFO) -> None:
    """Python's logging for a command: INFO and up, and ferstream's own DEBUG lines with ``--verbose``."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin set-up is not news to a user
    if verbose():
        logging.getLogger("ferstream").setLevel(logging.DEBUG)


def run_command(fn: Callable[[], object]) -> int:
    """Run one command: configured logging, the native libraries' own logs quiet unless ``--verbose``, and a clear
    message instead of a traceback for our errors."""
    setup_logging()
    quiet_video_logs()
    try:
        result = fn()
    except FerstreamError as exc:
        print(f"ferstream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ferstream: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0
