"""``ferstream dashboard``: the Streamlit command line and the environment the app reads its settings from."""

from __future__ import annotations

import sys

from ferstream.dashboard.server import APP, command, environment
from ferstream.settings import Settings
from tests.helpers import ferstream


def test_streamlit_command_line():
    cmd = command("127.0.0.1", 8765)
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(APP)]
    options = dict(zip(cmd[5::2], cmd[6::2]))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8765"
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert options["--server.maxUploadSize"] == "200"


def test_settings_reach_the_app_through_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://stale:6379/0")
    env = environment(Settings(database_url="sqlite:///x.db", redis_url="redis://127.0.0.1:6400/0"))
    assert (env["DATABASE_URL"], env["REDIS_URL"]) == ("sqlite:///x.db", "redis://127.0.0.1:6400/0")
    assert "REDIS_URL" not in environment(Settings(database_url="sqlite:///x.db"))
    monkeypatch.setattr("os.environ", env)
    assert Settings.from_env().database_url == "sqlite:///x.db"


def test_the_cli_command_listens_on_loopback_by_default():
    help_text = ferstream("dashboard", "--help").stdout
    assert "--host" in help_text and "127.0.0.1" in help_text and "--port" in help_text
