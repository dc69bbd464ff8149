"""``ferstream dashboard``: serve the Streamlit app with the CLI's settings."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from dashboard.defaults import max_upload_mb
from ferstream.settings import Settings

log = logging.getLogger(__name__)

APP = Path(__file__).resolve().parent / "app.py"


def command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the dashboard."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal",
            "--server.maxUploadSize", str(max_upload_mb())]


def environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the settings' database and Redis, which the app reads back."""
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8501) -> NoReturn:
    """Replace this process with Streamlit serving the dashboard on ``host:port``."""
    log.info("dashboard on http://%s:%d", host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = command(host, port)
    os.execve(cmd[0], cmd, environment(settings))
