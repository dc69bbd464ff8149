"""Accepting an uploaded video: size limit, storage, and a check that it really is a video."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from ferstream.errors import FerstreamError, VideoError
from ferstream.ingest.files import safe_name
from ferstream.ingest.video import probe_video

MIB = 1024 * 1024


class UploadRejected(FerstreamError):
    """An uploaded file is not accepted for analysis: too large, empty, or not a video."""


def store_upload(filename: str, data: BinaryIO, size: int, folder: Path, max_mb: int) -> Path:
    """Write the upload into ``folder`` under a unique name and check it decodes as a video; its path.

    Raises ``UploadRejected`` (and keeps nothing) for a file over ``max_mb``
    megabytes, an empty file, a file OpenCV/FFmpeg cannot decode, or a still image.
    """
    if size > max_mb * MIB:
        raise UploadRejected(f"{filename} is {size / MIB:.0f} MB: videos up to {max_mb} MB are accepted")
    if size == 0:
        raise UploadRejected(f"{filename} is empty")
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}-{safe_name(filename)}").resolve()
    data.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(data, out, length=4 * MIB)
    try:
        info = probe_video(path)
        if info.frame_count == 1:
            raise UploadRejected(f"{filename} is a still image, not a video")
    except VideoError as exc:
        path.unlink(missing_ok=True)
        raise UploadRejected(f"{filename} is not a video: OpenCV/FFmpeg cannot decode a frame of it") from exc
    except UploadRejected:
        path.unlink(missing_ok=True)
        raise
    return path
