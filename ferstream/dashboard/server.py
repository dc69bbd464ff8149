"""``ferstream dashboard``: serve the Streamlit app with the CLI's settings."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from importlib import resources
from pathlib import Path
from typing import NoReturn

from ferstream.dashboard.defaults import max_upload_mb
from ferstream.errors import ServiceError
from ferstream.settings import Settings

log = logging.getLogger(__name__)

#: the Streamlit script, a file of the installed package (importlib.resources)
APP = Path(str(resources.files("ferstream.dashboard") / "app.py"))


def command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the dashboard."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal",
            "--server.maxUploadSize", str(max_upload_mb())]


def environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the settings' database and Redis, which the app reads back."""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "FERSTREAM_DETECTOR": settings.detector}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def check_port(host: str, port: int) -> None:
    """``ServiceError`` unless ``host:port`` can be listened on now (Streamlit would fail after printing its URL)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServiceError(f"cannot listen on {host}: unknown address ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit's server does
        try:
            probe.bind(address)
        except OSError as exc:
            why = "is in use (another dashboard?): pick another with --port" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ServiceError(f"cannot listen on {host}:{port}: the port {why}") from exc


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8501) -> NoReturn:
    """Replace this process with Streamlit serving the dashboard on ``host:port``."""
    check_port(host, port)
    log.info("dashboard on http://%s:%d", host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = command(host, port)
    os.execve(cmd[0], cmd, environment(settings))
