"""The native libraries' own logging (OpenCV, the FFmpeg inside it, LiteRT): quiet unless asked for.

They print straight to the process's standard error, past Python's logging: OpenCV's
``[ WARN:0@0.166] global cap.cpp:212 open VIDEOIO(FFMPEG) ...`` before ferstream's own clear
error, FFmpeg's ``[tcp @ 0x...] Connection refused`` on every reconnect, LiteRT's
``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` each time a model loads. ferstream
says what went wrong in its own words; these belong behind ``--verbose`` (``FERSTREAM_VERBOSE=1``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile

log = logging.getLogger(__name__)

#: set to 1 by ``--verbose`` (and inherited by the processes a command starts): the native logs are shown
VERBOSE_ENV = "FERSTREAM_VERBOSE"
#: FFmpeg's log levels (libavutil/log.h): quiet, and warnings
_AV_LOG_QUIET, _AV_LOG_WARNING = -8, 24


def verbose() -> bool:
    """Whether ``--verbose`` (or ``FERSTREAM_VERBOSE``) asked for everything."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false", "no")


def quiet_video_logs() -> None:
    """OpenCV's warnings and FFmpeg's messages off (errors reach the user as ferstream's own), unless verbose.

    FFmpeg reads its level (``OPENCV_FFMPEG_LOGLEVEL``) once, when OpenCV first uses it: this runs before any
    capture is opened. A level the user set in the environment is kept.
    """
    import cv2

    loud = verbose()
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", str(_AV_LOG_WARNING if loud else _AV_LOG_QUIET))
    level = os.environ.get("OPENCV_LOG_LEVEL")
    if level is None:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO if loud else cv2.utils.logging.LOG_LEVEL_ERROR)


@contextlib.contextmanager
def native_stderr_to_log():
    """Catch what native code writes to standard error meanwhile: its ``INFO:`` lines go to the debug log, anything
    else is written to standard error after all (nothing is lost); unless verbose, when it passes as it is."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no standard error to redirect (a closed or odd stream)
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if line.startswith("INFO: "):
                    log.debug("%s", line[6:])
                elif line.strip():
                    print(line, file=sys.stderr)
