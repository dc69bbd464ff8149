"""What ``ferstream serve`` is started with: the settings every stage shares, and the server's own limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ferstream.settings import Settings

#: the largest video upload accepted, in megabytes (``--max-upload-mb``)
DEFAULT_MAX_UPLOAD_MB = 2048
#: the most pixels an image sent to /v1/analyze may have, decoded (``--max-image-pixels``): 40 megapixels
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
#: the most images one /v1/analyze request may carry (``--max-images``)
DEFAULT_MAX_IMAGES = 16
#: the largest /v1/analyze request body, in megabytes: every image together, as sent
DEFAULT_MAX_ANALYZE_MB = 64
#: seconds a /v1/analyze request may take before it is answered 503 (``--request-timeout``)
DEFAULT_REQUEST_TIMEOUT_S = 60.0
#: seconds POST /v1/videos waits for ingest to record the source it answers with
DEFAULT_SUBMIT_WAIT_S = 60.0
#: seconds between two looks at the database for a live feed's new results
DEFAULT_LIVE_POLL_S = 0.25
#: the most face rows one JSON page of /v1/sources/{id}/faces holds (CSV and Parquet stream every row)
MAX_PAGE = 10_000
DEFAULT_PAGE = 1_000


@dataclass(frozen=True)
class ServerConfig:
    settings: Settings
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    max_images: int = DEFAULT_MAX_IMAGES
    max_analyze_mb: int = DEFAULT_MAX_ANALYZE_MB
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    submit_wait_s: float = DEFAULT_SUBMIT_WAIT_S
    live_poll_s: float = DEFAULT_LIVE_POLL_S
    cors_origins: tuple[str, ...] = ()
    allow_local_files: bool = False
    private_docs: bool = False  # /docs, /redoc and /openapi.json need a key too (``--private-docs``)
    upload_dir: Path | None = None  # None: the user's cache folder (api_server.upload_folder.default_folder)
    photo_min_face: float | None = None  # None: by each photo's size, as the Python API (settings.photo_min_face)
    #: networks POST /v1/videos may fetch from besides public addresses (``--allow-url-net``)
    allow_url_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: Host names served besides the bind address's own (``--allowed-host``; ``*``: any)
    allowed_hosts: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
