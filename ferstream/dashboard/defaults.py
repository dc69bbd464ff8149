"""The dashboard's defaults, one documented ``DEFAULT_*`` constant each.

The upload limit, folder and retention can be changed through the environment
(``FERSTREAM_MAX_UPLOAD_MB``, ``FERSTREAM_UPLOAD_DIR``, ``FERSTREAM_KEEP_UPLOADS``).
"""

from __future__ import annotations

import os
from pathlib import Path

#: seconds between refreshes of the results while a chosen source is being analysed
DEFAULT_REFRESH_SECONDS = 3.0
#: seconds between refreshes of the Live page (its pictures, people and events)
DEFAULT_LIVE_REFRESH_SECONDS = 1.0
#: live pictures a second a tile of the Live page's grid asks the workers for, and one camera opened large
DEFAULT_TILE_FPS = 1.0
DEFAULT_LARGE_FPS = 5.0
#: minutes of a camera's emotions charted beside it when opened large
DEFAULT_LIVE_CHART_MINUTES = 10
#: seconds a query result is reused before the database is asked again (shorter than a refresh)
DEFAULT_CACHE_TTL = 2.0
#: largest video the upload panel accepts, in megabytes
DEFAULT_MAX_UPLOAD_MB = 200
#: where uploaded videos are stored before (and while) they are analysed; relative to the working directory
DEFAULT_UPLOAD_DIR = Path("uploads")
#: whether uploaded videos stay on disk after ingest is done with them (they hold faces: by default they go)
DEFAULT_KEEP_UPLOADS = False
#: about how many time buckets the automatic bucket size aims for
DEFAULT_TARGET_BUCKETS = 60
#: most time buckets a chart may have (smaller bucket sizes are not offered)
DEFAULT_MAX_BUCKETS = 1000


def max_upload_mb() -> int:
    value = os.environ.get("FERSTREAM_MAX_UPLOAD_MB")
    return int(value) if value else DEFAULT_MAX_UPLOAD_MB


def upload_dir() -> Path:
    return Path(os.environ.get("FERSTREAM_UPLOAD_DIR") or DEFAULT_UPLOAD_DIR)


def keep_uploads() -> bool:
    value = os.environ.get("FERSTREAM_KEEP_UPLOADS")
    return value.lower() in ("1", "true", "yes") if value else DEFAULT_KEEP_UPLOADS
