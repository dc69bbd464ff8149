"""The container setup (Dockerfile, .dockerignore, docker-compose.yml), checked without a Docker engine.

- ``test_compose_config_is_valid``: the real validator, ``docker compose config -q`` (the plugin) or
  ``docker-compose config -q`` (e.g. Debian's ``apt-get install docker-compose``), which checks the file
  against the Compose schema without a daemon; skipped when neither is installed.
- the other tests read the files themselves (the compose file with PyYAML: this interpreter's, else the
  one of a system ``python3``; skipped when there is none) and check what the services rely on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

APP_SERVICES = ("worker", "dashboard", "ingest")
LONG_RUNNING = ("redis", "postgres", "worker", "dashboard")
#: the variables the compose file interpolates: unset for the validator, so that it checks the defaults
COMPOSE_VARIABLES = ("POSTGRES_PASSWORD", "FERSTREAM_MODEL", "WORKER_PROCESSES", "DASHBOARD_BIND", "DASHBOARD_PORT",
                     "VIDEOS_DIR", "INGEST_ARGS", "API_BIND", "API_PORT")


def _clean_env() -> dict[str, str]:
    """The environment for child programs: no venv Python settings (docker-compose v1 is a Python program),
    no COMPOSE_* settings, and none of the variables the compose file reads."""
    drop = {"PYTHONPATH", "PYTHONHOME", *COMPOSE_VARIABLES}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("COMPOSE_")}


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), timeout=60, **kwargs)


@cache
def _compose_cli() -> tuple[str, ...] | None:
    """``docker compose`` (v2 plugin) or ``docker-compose`` (v1 or v2 standalone), whichever works."""
    docker = shutil.which("docker")
    if docker and _run([docker, "compose", "version"]).returncode == 0:
        return (docker, "compose")
    legacy = shutil.which("docker-compose")
    if legacy and _run([legacy, "version"]).returncode == 0:
        return (legacy,)
    return None


def _require_compose_cli() -> tuple[str, ...]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose to validate with: neither `docker compose` (plugin) nor `docker-compose` "
                    "works here (Debian/Ubuntu: apt-get install docker-compose)")
    return cli


def _config(cli: tuple[str, ...], path: Path, *options: str) -> subprocess.CompletedProcess:
    return _run([*cli, "-f", str(path), *options, "config", "-q"], cwd=path.parent)


def test_compose_config_is_valid():
    cli = _require_compose_cli()
    for options in ((), ("--profile", "ingest")):
        result = _config(cli, COMPOSE, *options)
        assert result.returncode == 0, f"{' '.join(cli)} {' '.join(options)} config -q: {result.stderr}{result.stdout}"


def test_compose_validator_rejects_a_broken_file(tmp_path):
    """The validator is no rubber stamp: the same file with one wrong healthcheck condition fails."""
    cli = _require_compose_cli()
    text = COMPOSE.read_text()
    assert "condition: service_healthy" in text
    (tmp_path / "docker-compose.yml").write_text(text.replace("condition: service_healthy", "condition: healthy", 1))
    result = _config(cli, tmp_path / "docker-compose.yml")
    assert result.returncode != 0
    assert "healthy" in result.stderr + result.stdout


# --- the compose file's structure -----------------------------------------------------------------------------

_YAML_TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"


@cache
def _load_yaml(path: Path):
    """``path`` parsed by PyYAML (merge keys resolved): here, else in a system ``python3`` that has it."""
    try:
        import yaml
    except ImportError:
        pass
    else:
        return yaml.safe_load(path.read_text())
    for python in dict.fromkeys(p for p in (shutil.which("python3"), "/usr/bin/python3") if p):
        if Path(python).resolve() == Path(sys.executable).resolve():
            continue
        if _run([python, "-c", "import yaml"]).returncode == 0:
            result = _run([python, "-c", _YAML_TO_JSON], input=path.read_text())
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)
    pytest.skip("PyYAML is not installed (pip install pyyaml), nor in a system python3: the structural checks need it")


def _compose() -> dict:
    return _load_yaml(COMPOSE)


def _services() -> dict:
    return _compose()["services"]


def _defaults(value: str) -> str:
    """A compose string as it reads with every variable unset: ``${X:-d}``/``${X-d}`` -> d, ``${X}`` -> '',
    ``$$`` -> ``$``."""
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", "", value)
    return value.replace("$$", "$")


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: _defaults(str(v)) for k, v in env.items()}


def _command(service: dict) -> str:
    command = service.get("command") or ""
    return " ".join(map(str, command)) if isinstance(command, list) else str(command)


def _healthcheck_test(service: dict) -> str:
    healthcheck = service.get("healthcheck") or {}
    assert not healthcheck.get("disable"), "healthcheck disabled"
    test = healthcheck.get("test")
    assert test, "no healthcheck test"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test must start with CMD or CMD-SHELL: {test}"
        return " ".join(test[1:])
    return test


def test_compose_services_exist_and_spec_format():
    compose = _compose()
    assert "version" not in compose, "Compose spec: no top-level `version:` key"
    assert {"redis", "postgres", *APP_SERVICES} <= set(compose["services"])
    assert any(key.startswith("x-") for key in compose), "shared settings belong in an x- extension (YAML anchor)"
    text = COMPOSE.read_text()
    assert text.count("DATABASE_URL:") == 1 and text.count("REDIS_URL:") == 1, \
        "the app services' environment is written once (anchor), not repeated per service"


def test_worker_is_scalable():
    worker = _services()["worker"]
    assert "container_name" not in worker, "a fixed container name forbids `up --scale worker=N`"
    assert "ports" not in worker, "published ports clash between scaled workers"
    assert re.match(r"ferstream worker\b", _command(worker)), _command(worker)
    assert worker.get("build"), "the worker image is built from this repository"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_image_and_environment(name):
    services = _services()
    service = services[name]
    env = _environment(service)
    assert env.get("DATABASE_URL", "").startswith("postgresql+psycopg2://"), env.get("DATABASE_URL")
    assert "@postgres:5432/" in env["DATABASE_URL"], env["DATABASE_URL"]
    assert env.get("REDIS_URL", "").startswith("redis://redis:6379"), env.get("REDIS_URL")
    assert "FERSTREAM_MODEL" in env
    assert service.get("image") == services["worker"].get("image") and service.get("build") == services["worker"].get("build")
    depends = service.get("depends_on")
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions (the long form)"
    for backend in ("redis", "postgres"):
        assert depends.get(backend, {}).get("condition") == "service_healthy", f"{name} must wait for {backend} to be healthy"


def test_database_url_matches_postgres():
    services = _services()
    pg = _environment(services["postgres"])
    url = _environment(services["worker"])["DATABASE_URL"]
    assert url == (f"postgresql+psycopg2://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
                   f"@postgres:5432/{pg['POSTGRES_DB']}")


def test_healthchecks():
    services = _services()
    assert "redis-cli ping" in _healthcheck_test(services["redis"])
    assert "pg_isready" in _healthcheck_test(services["postgres"])
    dashboard = _healthcheck_test(services["dashboard"])
    assert "urllib" in dashboard and "http://127.0.0.1:8501/_stcore/health" in dashboard, dashboard


def test_postgres_keeps_its_data_in_a_named_volume():
    compose = _compose()
    mounts = [str(v) for v in compose["services"]["postgres"].get("volumes", [])]
    named = [m.split(":")[0] for m in mounts if m.endswith(":/var/lib/postgresql/data") or ":/var/lib/postgresql/data:" in m]
    assert named and named[0] in (compose.get("volumes") or {}), mounts


def test_restart_policies():
    services = _services()
    for name in LONG_RUNNING:
        assert services[name].get("restart") == "unless-stopped", name
    assert services["ingest"].get("restart", "no") == "no", "ingest is a one-off job"


def test_dashboard_published_on_localhost_only():
    dashboard = _services()["dashboard"]
    command = _command(dashboard)
    assert re.match(r"ferstream dashboard\b", command) and "--host 0.0.0.0" in command and "--port 8501" in command
    ports = [_defaults(str(p)) for p in dashboard.get("ports", [])]
    assert ports == ["127.0.0.1:8501:8501"], ports


def test_ingest_is_an_opt_in_profile_reading_mounted_videos():
    ingest = _services()["ingest"]
    assert "ingest" in ingest.get("profiles", []), "a plain `docker compose up` must not need videos"
    mounts = [_defaults(str(v)) for v in ingest.get("volumes", [])]
    assert "./videos:/videos:ro" in mounts, mounts
    assert "ferstream analyze" in _command(ingest)


def test_workers_and_cameras_serve_prometheus_metrics():
    worker, cameras = _services()["worker"], _services()["cameras"]
    assert "--metrics-port 9108" in _command(worker) and [str(p) for p in worker.get("expose", [])] == ["9108"]
    # inside a container the endpoint must listen beyond its loopback (the default, 127.0.0.1, elsewhere)
    assert "--metrics-host 0.0.0.0" in _command(worker) and "--metrics-host 0.0.0.0" in _command(cameras)
    assert "cameras" in cameras.get("profiles", []), "a plain `docker compose up` must not need cameras"
    command = _command(cameras)
    assert re.match(r"ferstream watch --config /config/cameras.yaml\b", command) and "--metrics-port 9108" in command
    assert [_defaults(str(v)) for v in cameras.get("volumes", [])] == ["./cameras.yaml:/config/cameras.yaml:ro"]
    assert [_defaults(str(p)) for p in cameras.get("ports", [])] == ["127.0.0.1:9108:9108"]


# --- Dockerfile and .dockerignore -----------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def _dependencies() -> list[str]:
    return tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]


def test_dockerfile_base_user_and_command():
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the containers run as a non-root user"
    cmd = [args for keyword, args in instructions if keyword == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["ferstream", "worker"]
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert re.search(r"apt-get install[^&]*\bffmpeg\b", runs), "ffmpeg for live streams"


def test_dockerfile_installs_project_with_pip_and_headless_opencv_from_pyproject():
    instructions = _instructions()
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    pip_installs = [cmd for run in runs for cmd in re.split(r"&&|;", run) if re.search(r"\bpip install\b", cmd)]
    assert any(re.search(r"\s\.$", cmd.strip()) for cmd in pip_installs), f"no `pip install ... .`: {pip_installs}"
    assert all("--no-cache-dir" in cmd for cmd in pip_installs), pip_installs
    assert not any("opencv" in cmd.lower() for cmd in pip_installs), "OpenCV comes from pyproject.toml, not a separate pip install"
    # ... where it is the headless build, below 5 (the only OpenCV)
    opencv = [dep for dep in _dependencies() if dep.lower().startswith("opencv")]
    assert len(opencv) == 1 and re.match(r"opencv-python-headless\b", opencv[0]) and "<5" in opencv[0].replace(" ", ""), opencv


def test_dockerfile_is_cache_friendly():
    """pyproject.toml alone is copied and the dependencies installed before the source is copied."""
    instructions = _instructions()
    index = {i: (keyword, args) for i, (keyword, args) in enumerate(instructions)}
    copy_pyproject = next(i for i, (k, a) in index.items() if k == "COPY" and a.split()[0] == "pyproject.toml")
    copy_source = next(i for i, (k, a) in index.items() if k == "COPY" and a.split()[0] == ".")
    deps = [i for i, (k, a) in index.items() if k == "RUN" and "pip install" in a and "pyproject.toml" in a]
    assert deps and copy_pyproject < deps[0] < copy_source


def test_image_uses_the_packaged_model():
    """The image names no model path: the installed package carries its model; compose passes FERSTREAM_MODEL only
    when the user sets one (empty: the packaged model)."""
    env = " ".join(args for keyword, args in _instructions() if keyword == "ENV")
    assert "FERSTREAM_MODEL" not in env, env
    assert _environment(_services()["worker"])["FERSTREAM_MODEL"] in ("", None)


def _ignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _ignored(path: str) -> bool:
    """Whether .dockerignore drops ``path`` (or a folder above it); errs towards `ignored` (fnmatch's * spans /)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in _ignore_patterns():
        if pattern.startswith("!"):
            continue
        pattern = pattern.strip("/")
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatchcase("/".join(p.split("/")[j:]), tail) for p in prefixes for j in range(len(p.split("/")))):
                return True
        elif any(fnmatchcase(p, pattern) for p in prefixes):
            return True
    return False


def test_dockerignore_drops_local_state():
    patterns = {p.strip("/") for p in _ignore_patterns()}
    for required in (".venv", ".git", "runs", ".pytest_cache"):
        assert required in patterns, required
    for path in (".venv/bin/python", ".git/HEAD", "runs/train/model.keras", "ferstream.db", "ferstream/__pycache__/cli.cpython-311.pyc",
                 ".pytest_cache/v/cache/lastfailed"):
        assert _ignored(path), path


def test_dockerignore_keeps_what_the_image_needs():
    setuptools = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]
    packages = sorted({pattern.rstrip("*").rstrip(".") for pattern in setuptools["packages"]["find"]["include"]})
    left_out = [(package.replace(".", "/"), pattern) for package, patterns in setuptools["exclude-package-data"].items()
                for pattern in patterns]
    needed = ["pyproject.toml", "ferstream/models/ferstream-emotion.tflite", "ferstream/models/ferstream-emotion.json"]
    for package in packages:
        assert (ROOT / package / "__init__.py").is_file(), package
        needed += [str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts
                   and not any(str(p.parent.relative_to(ROOT)) == folder and fnmatchcase(p.name, pattern) for folder, pattern in left_out)]
    dropped = [path for path in needed if _ignored(path)]
    assert not dropped, f".dockerignore drops files the image needs: {dropped}"


def test_the_api_is_an_opt_in_profile_published_on_localhost_with_a_health_check():
    api = _compose()["services"]["api"]
    assert api["profiles"] == ["api"]  # it needs a key made first: not in a plain `up`
    assert api["command"][:2] == ["ferstream", "serve"] and "0.0.0.0" in api["command"]
    assert [_defaults(str(p)) for p in api.get("ports", [])] == ["127.0.0.1:8000:8000"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(api["healthcheck"]["test"])


def test_an_mqtt_broker_comes_with_the_cameras_and_stays_on_the_compose_network():
    mqtt = _services()["mqtt"]
    assert "cameras" in mqtt.get("profiles", []), "the events' broker starts with the cameras that publish to it"
    assert str(mqtt.get("image", "")).startswith("eclipse-mosquitto:2")
    assert "ports" not in mqtt, "an anonymous broker is not published beyond the compose network"
    assert mqtt.get("restart") == "unless-stopped" and mqtt.get("healthcheck")
