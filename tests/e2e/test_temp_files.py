"""No command leaves files in the temporary folder (issue 35): SQLite's migration locks and the worker pool's
metrics folder go when they are done with. Real commands, each with TMPDIR pointed at a folder of the test's own."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.helpers import ferstream


@pytest.mark.long  # 10-20 s: `make test-long`
def test_commands_leave_nothing_in_the_temporary_folder(tmp_path, astronaut_video, redis_url):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    ferstream("analyze", str(astronaut_video), "--database", url, "--sample-fps", "5", env=env)
    for command in (["status"], ["export", "--source", "1", "-o", str(tmp_path / "faces.csv")],
                    ["prune", "--older-than", "30d"], ["annotate", "--source", "1", "--images", str(tmp_path / "png")]):
        ferstream(*command, "--database", url, env=env)
    ferstream("analyze", str(astronaut_video), "--database", url, "--redis", redis_url, env=env)
    ferstream("worker", "--burst", "--processes", "2", "--metrics-port", str(free_port()), "--redis", redis_url,
              "--database", url, env=env, timeout=600)
    assert sorted(p.name for p in scratch.iterdir()) == []
