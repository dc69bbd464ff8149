"""What the benchmark scripts share: paths, clips made at run time, the `fer` side, child processes, tables.

Every script has ``build_parser()`` and ``measure(args) -> Report``; ``run_main``
is their ``main``, and ``bench/run_all.py`` calls the same two functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: the real footage (shared/media beside the repository), as the tests find it
DEFAULT_MEDIA = Path(os.environ.get("FERSTREAM_MEDIA", REPO.parent / "shared" / "media"))
#: FER-2013 with its Training and PublicTest splits
DEFAULT_FER2013 = Path(os.environ.get(
    "FERSTREAM_FER2013", REPO.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"))
#: where results and crops go by default (git ignores runs/)
DEFAULT_OUT = REPO / "runs" / "bench"
#: the clip the throughput, scale-out, cost and memory figures are measured on
CLIP = "WolfgangLanger_Pexels.mp4"
#: frame heights measured: the clip's native 640x360, and scaled up
HEIGHTS = (360, 720, 1080)
#: frames per clip in a --quick (smoke) run
QUICK_FRAMES = 4
#: the ferstream CLI, as a user runs it
CLI = [sys.executable, "-m", "ferstream.cli"]
#: the 1-minute load average when the benchmarks started
LOAD_AT_START = os.getloadavg()[0]


# --- results -----------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of the summary table: a measure for ferstream and fer, and the issue's target."""

    benchmark: str
    measure: str
    ferstream: str
    fer: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    """A benchmark's result: detail tables (Markdown) and its lines of the summary table."""

    title: str
    details: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def markdown(self) -> str:
        return "\n\n".join([f"## {self.title}", *self.details])


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(rows: list[Row]) -> str:
    mark = {True: "yes", False: "**no**", None: ""}
    return markdown_table(["benchmark", "measure", "ferstream", "fer", "target", "met"],
                          [[r.benchmark, r.measure, r.ferstream, r.fer, r.target, mark[r.met]] for r in rows])


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}{unit}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# --- arguments and main ------------------------------------------------------------------------

def base_parser(doc: str, frames_help: str | None = "frames per clip (default: all)") -> argparse.ArgumentParser:
    """A parser with the options every script takes: --media, --quick, --no-fer, --workdir (and --frames)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA,
                        help="folder with the real footage (default: $FERSTREAM_MEDIA or ../shared/media)")
    if frames_help:
        parser.add_argument("--frames", type=int, metavar="N", help=frames_help)
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_FRAMES} frames per clip and the smallest settings")
    parser.add_argument("--no-fer", action="store_true", help="measure ferstream only (fer not installed)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="folder for the clips and databases made at run time (default: a temporary folder)")
    return parser


def frames_limit(args: argparse.Namespace) -> int | None:
    """--frames, or the smoke run's few frames with --quick, or None (every frame)."""
    if getattr(args, "frames", None):
        return args.frames
    return QUICK_FRAMES if args.quick else None


def setup_process() -> None:
    """Quiet logs (fer's import would set INFO on the root logger) and TensorFlow's start-up noise; warn if busy."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")  # fer's Keras call
    if LOAD_AT_START > 0.5:
        print(f"bench: warning: load average {LOAD_AT_START:.2f} at the start: other work shares the cores, "
              "so the timings understate both sides", file=sys.stderr)


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh database named ``ferstream_bench_<name>_<random>`` on the server of ``admin_url``, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ferstream_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from ferstream.db.engine import dispose

        dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def workdir(args: argparse.Namespace) -> Iterator[Path]:
    """args.workdir, or a temporary folder removed afterwards."""
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        yield args.workdir
        return
    with tempfile.TemporaryDirectory(prefix="ferstream-bench-") as tmp:
        yield Path(tmp)


def run_main(build_parser: Callable[[], argparse.ArgumentParser],
             measure: Callable[[argparse.Namespace, Path], Report], argv: list[str] | None = None,
             needs_media: bool = True) -> int:
    """A script's main: parse, measure, print its details and its summary lines as Markdown."""
    setup_process()
    args = build_parser().parse_args(argv)
    if needs_media and not args.media.is_dir():
        print(f"bench: media folder {args.media} not found (set --media or FERSTREAM_MEDIA)", file=sys.stderr)
        return 2
    with workdir(args) as tmp:
        report = measure(args, tmp)
    print(environment(), flush=True)
    print()
    print(report.markdown())
    print()
    print(summary_table(report.rows), flush=True)
    return 0


#: the instruction-set flags that decide inference speed (LiteRT/XNNPACK kernels differ by them)
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def cpu_flags() -> str:
    """The SIMD flags of this CPU that matter for inference speed, as ``lscpu`` lists them (``avx2 fma ... no avx512f``)."""
    try:
        flags = set(next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return "unknown"
    have = [f for f in SIMD_FLAGS if f in flags]
    return " ".join(have) + ("" if "avx512f" in flags else " (no avx512f)")


def environment() -> str:
    """Where and how the figures were taken: CPU, load, versions, commit."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    try:
        from importlib.metadata import version

        litert = version("ai-edge-litert")
    except Exception:  # noqa: BLE001 - only informative
        litert = "not installed"
    script = Path(sys.argv[0]).resolve()
    script = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return (f"`python {' '.join([str(script), *sys.argv[1:]])}` at commit {commit}, "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}  \n"
            f"{cpu}, {cores} cores (CPU flags: {cpu_flags()}), load average {LOAD_AT_START:.2f} at the start and {load} at the end; "
            f"Python {platform.python_version()}, "
            f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), LiteRT {litert}, fer {fer_version()}")


# --- clips -------------------------------------------------------------------------------------

@dataclass
class ClipInfo:
    width: int
    height: int
    fps: float
    frames: int


def clip_info(path: Path) -> ClipInfo:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise FileNotFoundError(f"{path}: not a readable video")
        return ClipInfo(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        cap.get(cv2.CAP_PROP_FPS) or 25.0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        cap.release()


def read_frames(path: Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decoded BGR frames of a video, in order."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        n = 0
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()


def make_clip(src: Path, folder: Path, height: int | None = None, frames: int | None = None, loops: int = 1) -> Path:
    """``src`` scaled to ``height`` (same aspect), cut to ``frames``, played ``loops`` times, as MP4 (mp4v).

    Written with OpenCV's VideoWriter into ``folder`` (cached there by name); the
    source itself when nothing changes.
    """
    info = clip_info(src)
    height = height or info.height
    if height == info.height and frames is None and loops == 1:
        return src
    width = round(info.width * height / info.height / 2) * 2
    path = folder / f"{src.stem}-{height}p-{frames or 'all'}f-x{loops}.mp4"
    if path.exists():
        return path
    part = path.with_name(path.stem + ".part.mp4")
    writer = cv2.VideoWriter(str(part), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write {part}")
    try:
        for _ in range(loops):
            for frame in read_frames(src, frames):
                if frame.shape[0] != height:
                    frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
                writer.write(frame)
    finally:
        writer.release()
    part.rename(path)
    return path


def decode_rate(path: Path) -> tuple[int, float]:
    """Frames decoded and seconds taken, decoding every frame to BGR (the ceiling of any analysis)."""
    start, n = time.perf_counter(), 0
    for _ in read_frames(path):
        n += 1
    return n, time.perf_counter() - start


def media_file(args: argparse.Namespace, name: str) -> Path:
    path = args.media / name
    if not path.exists():
        raise SystemExit(f"bench: {path} not found (--media points at the shared footage)")
    return path


# --- the fer side ------------------------------------------------------------------------------

def fer_version() -> str:
    try:
        from importlib.metadata import version

        return version("fer")
    except Exception:  # noqa: BLE001 - only informative
        return "not installed"


def load_fer(args: argparse.Namespace):
    """``fer.fer.FER(mtcnn=False)`` (its Haar detector and its bundled model), or None with --no-fer.

    Fails with what to do when fer cannot be imported and --no-fer was not given.
    """
    if args.no_fer:
        return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = logging.getLogger().level
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fer.fer import FER

            detector = FER(mtcnn=False)
    except ImportError as exc:
        raise SystemExit(f"bench: fer cannot be imported ({exc}): `make bench` installs it "
                         "(pip install '.[bench]' && pip install --no-deps fer), or pass --no-fer") from exc
    finally:
        logging.getLogger().setLevel(level)  # fer.fer calls logging.basicConfig(level=INFO) on import
    return detector


# --- timing and child processes ----------------------------------------------------------------

class Stopwatch:
    """Seconds spent per named stage, summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


@dataclass
class ChildRun:
    """A finished child process: exit status, wall and CPU seconds, peak resident memory."""

    returncode: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str

    def check(self, what: str) -> "ChildRun":
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited {self.returncode}:\n{self.output[-3000:]}")
        return self


#: a small process that starts the measured command and reports its rusage: Linux counts the RSS a process
#: had before exec (a fork of this process, with TensorFlow loaded, say) in its ru_maxrss, so the measured
#: command must be forked from a small process
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"status": status, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, f)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> ChildRun:
    """Run ``cmd`` to its end: exit status, wall and CPU seconds, and its own peak RSS (ru_maxrss).

    The command is forked from a small launcher that reaps it with os.wait4, so its peak
    is its own, not inherited from this process (see _LAUNCHER).
    """
    with tempfile.TemporaryDirectory(prefix="ferstream-bench-child-") as tmp:
        usage_file, log_file = Path(tmp) / "usage.json", Path(tmp) / "output.log"
        with open(log_file, "w") as log:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(usage_file), *cmd], stdout=log,
                                    stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            seconds = time.perf_counter() - start
        output = log_file.read_text(errors="replace")
        if not usage_file.exists():
            return ChildRun(proc.returncode or -9, seconds, float("nan"), float("nan"), output)
        usage = json.loads(usage_file.read_text())
    return ChildRun(os.waitstatus_to_exitcode(usage["status"]), seconds, usage["cpu"], usage["maxrss_kb"] / 1024, output)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on a free loopback port, without persistence; a context manager."""

    def __init__(self, folder: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise SystemExit("bench: redis-server is not installed (`make system-deps` installs it)")
        self.port = free_port()
        self.folder = folder
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> "RedisServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


# --- the ferstream side ------------------------------------------------------------------------

def ferstream_settings(database_url: str, redis_url: str | None = None, **changes):
    """ferstream's settings from the environment, on ``database_url``, in-process unless ``redis_url``."""
    from dataclasses import replace

    from ferstream.settings import Settings

    return replace(Settings.from_env(database_url=database_url), redis_url=redis_url, **changes)


def sqlite_url(folder: Path, name: str) -> str:
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def queue_clip(clip: Path, settings) -> tuple[int, int]:
    """Send every frame of ``clip`` to the RQ queue with ingest's real code path; (source id, frames sent)."""
    from ferstream import db
    from ferstream.ingest.files import ingest_file
    from ferstream.sinks import make_sink

    engine = db.connect(settings.database_url)
    sink = make_sink(settings, engine)
    source_id = ingest_file(engine, clip, sink, settings)
    return source_id, frames_recorded(settings.database_url, source_id, "frames_queued")


def frames_recorded(database_url: str, source_id: int, column: str = "frames_analysed") -> int:
    """A source's counter as ``db.queries.progress`` reports it (frames_analysed, frames_queued, faces ...)."""
    from ferstream import db
    from ferstream.db.queries import progress

    return int(progress(db.connect(database_url), source_id)[column])
