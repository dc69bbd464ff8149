"""The package as a user installs it: the wheel, in a fresh virtual environment, run from outside the repository.

`make test-wheel` runs this file alone. The fresh environment resolves ferstream's dependencies with pip, as
`pip install ferstream-*.whl` does for a user (pip's cache makes a second run quick): that one command is enough for
the default detector (BlazeFace's model files come with a dependency), the Python API and the worker (issue 35).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("ingest", "worker", "db", "dashboard", "training")

pytestmark = [pytest.mark.wheel, pytest.mark.long]


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, a working folder outside the repository, the environment to run it in)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL",
                                                            "FERSTREAM_MODEL", "FERSTREAM_DETECTOR")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    dist = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], cwd=base, env=env)
    wheels = list(dist.glob("ferstream-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run(pip + [str(wheels[0])], cwd=base, env=env)  # one command, as a user types it
    outside = base / "elsewhere"
    outside.mkdir()
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return wheels[0], env_dir, outside, env


def test_the_wheel_installs_one_package_with_its_data(installed):
    wheel, _, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"ferstream"}, f"generic top-level packages in the wheel: {top}"
    for needed in ("ferstream/models/ferstream-emotion.tflite", "ferstream/models/ferstream-emotion.json",
                   "ferstream/db/migrations/env.py", "ferstream/db/migrations/script.py.mako",
                   "ferstream/db/migrations/versions/0001_initial_tables.py", "ferstream/dashboard/app.py"):
        assert needed in names, needed
    for stage in STAGES:
        assert f"ferstream/{stage}/__init__.py" in names, stage


def test_analyze_and_export_run_from_another_directory(installed, astronaut_video):
    _, env_dir, outside, env = installed
    ferstream = str(env_dir / "bin" / "ferstream")
    result = _run([ferstream, "analyze", str(astronaut_video), "--name", "astronaut"], cwd=outside, env=env)
    assert "astronaut" in result.stdout + result.stderr
    assert (outside / "ferstream.db").is_file(), "the embedded default database lands in the working directory"
    _run([ferstream, "export", "--source", "astronaut", "-o", "faces.csv"], cwd=outside, env=env)
    with open(outside / "faces.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, "no faces exported"
    assert {row["emotion"] for row in rows} == {"happy"}, {row["emotion"] for row in rows}


def test_the_dashboard_and_every_stage_import_from_site_packages(installed):
    _, env_dir, outside, env = installed
    code = ("import ferstream, ferstream.dashboard.app as app, ferstream.dashboard.server as server, "
            "ferstream.db.engine as engine, ferstream.emotion_model as model, ferstream.worker.process, ferstream.ingest.files; "
            "print(ferstream.__file__); print(app.__file__); print(server.APP); print(engine.MIGRATIONS); print(model.DEFAULT_MODEL); "
            "assert server.APP.is_file() and (engine.MIGRATIONS / 'env.py').is_file() and model.DEFAULT_MODEL.is_file()")
    result = _run([str(env_dir / "bin" / "python"), "-c", code], cwd=outside, env=env)
    paths = result.stdout.split()
    assert len(paths) == 5
    for path in paths:
        assert Path(path).resolve().is_relative_to(env_dir.resolve()), f"{path} is not inside the installed package"
    for stage in STAGES:  # nothing generic at the top level of site-packages
        probe = _run([str(env_dir / "bin" / "python"), "-c", f"import importlib.util; print(importlib.util.find_spec({stage!r}))"],
                     cwd=outside, env=env)
        assert probe.stdout.strip() == "None", f"a top-level {stage!r} is importable: {probe.stdout}"


def test_a_group_photo_with_the_default_detector_from_another_directory(installed, small_faces_photo):
    """Issue 35: one `pip install` runs the default detector, and a photo is searched for its small faces."""
    _, env_dir, outside, env = installed
    result = _run([str(env_dir / "bin" / "ferstream"), "analyze", str(small_faces_photo), "--database",
                   f"sqlite:///{outside / 'photos.db'}"], cwd=outside, env=env)
    assert "faces 5" in result.stdout and "smallest face searched: 3%" in result.stdout, result.stdout


def test_the_http_api_serves_from_the_installed_wheel(installed, small_faces_photo):
    """Issue 36: `pip install ferstream` brings the HTTP API (FastAPI, uvicorn, python-multipart): it answers."""
    import time
    import urllib.request

    from tests.conftest import free_port

    _, env_dir, outside, env = installed
    port = free_port()
    server = subprocess.Popen([str(env_dir / "bin" / "ferstream"), "serve", "--port", str(port), "--database",
                               f"sqlite:///{outside / 'api.db'}", "--upload-dir", str(outside / "uploads")],
                              cwd=outside, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        boundary = "ferstreamtest"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"images\"; filename=\"group.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + small_faces_photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/analyze", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        answer = json.loads(urllib.request.urlopen(request, timeout=120).read())
        assert len(answer["images"][0]["faces"]) == 5, answer
    finally:
        server.terminate()
        server.wait(30)
