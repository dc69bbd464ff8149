"""HTTP API: `POST /v1/analyze` of one 640x480 photo with 4 faces through a real `ferstream serve` (uvicorn, a key,
httpx clients) at concurrency 1, 4 and 16: requests per second and p50/p95 latency; beside it, in the same run, the
same photo through the Python API (`ferstream.analyze(path)`, and `ferstream.Analyzer` on the decoded photo, which
keeps no database): what HTTP adds.

    python bench/api.py [--requests N] [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import REPO
from bench.processes import CLI
from bench.script import base_parser, run_main
from bench.services import free_port
from bench.tables import Report, Row, fmt, markdown_table

CONCURRENCY = (1, 4, 16)
#: the issue's target: /v1/analyze adds at most this share of latency over the Python API at concurrency 1
MAX_OVERHEAD = 0.20


def four_faces_photo(path: Path) -> Path:
    """A 640x480 photo with 4 faces: skimage's astronaut (a real, smiling face) four times, on grey."""
    import cv2
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[20:260, 90:330]
    small = cv2.resize(face, (150, 150), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    for x, y in ((40, 40), (450, 40), (40, 290), (450, 290)):
        canvas[y:y + 150, x:x + 150] = small
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


class Server:
    """`ferstream serve` on a free port, over a fresh SQLite file, with one key."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.database = f"sqlite:///{folder / 'api-bench.db'}"
        self.proc = None

    def __enter__(self) -> "Server":
        import httpx

        from ferstream import db
        from ferstream.db.api_keys import create_key

        _info, self.key = create_key(db.connect(self.database), "bench")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([*CLI, "serve", "--port", str(self.port),
                                      "--database", self.database, "--upload-dir", str(self.folder / "uploads")],
                                     stdout=open(self.folder / "serve.log", "w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"ferstream serve did not start: {(self.folder / 'serve.log').read_text()[-2000:]}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def http_run(server: Server, photo: bytes, concurrency: int, requests: int) -> tuple[float, list[float]]:
    """Requests per second and each request's latency, ``concurrency`` clients at once."""
    import httpx

    clients = [httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=120,
                            headers={"Authorization": f"Bearer {server.key}"}) for _ in range(concurrency)]

    def one(i: int) -> float:
        start = time.perf_counter()
        response = clients[i % concurrency].post("/v1/analyze", files={"images": ("photo.jpg", photo, "image/jpeg")})
        elapsed = time.perf_counter() - start
        assert response.status_code == 200 and len(response.json()["images"][0]["faces"]) == 4, response.text[:300]
        return elapsed

    try:
        for i in range(concurrency):  # each client's connection open, the server warm
            one(i)
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(one, range(requests)))
        return requests / (time.perf_counter() - start), latencies
    finally:
        for c in clients:
            c.close()


def python_runs(path: Path, requests: int) -> dict[str, list[float]]:
    """The same photo through the Python API, one call at a time: ``ferstream.analyze(path)``, and the decoded photo
    through an ``Analyzer`` (detector and model kept, no database)."""
    import cv2

    import ferstream
    from ferstream.settings import photo_min_face

    analyzer = ferstream.Analyzer(min_face=photo_min_face(640, 480))
    data = path.read_bytes()

    def with_analyzer() -> int:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        analyzer.reset()
        return len(next(analyzer.analyze_frames([image])))

    calls = {"ferstream.analyze(path)": lambda: len(ferstream.analyze(str(path))), "Analyzer (no database)": with_analyzer}
    out = {}
    for name, call in calls.items():
        assert call() == 4, name  # warm, and the same 4 faces
        latencies = []
        for _ in range(requests):
            start = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - start)
        out[name] = latencies
    return out


def build_parser():
    parser = base_parser(__doc__, frames_help=None)
    parser.add_argument("--requests", type=int, default=60, metavar="N", help="requests per concurrency (default: 60)")
    return parser


def measure(args, folder: Path) -> Report:
    requests = 8 if args.quick else args.requests
    photo_path = four_faces_photo(folder / "four-faces.jpg")
    photo = photo_path.read_bytes()
    python = python_runs(photo_path, requests)
    rows, summary = [], []
    for name, latencies in python.items():
        p50, p95 = percentiles(latencies)
        rows.append([f"Python API: {name}", 1, fmt(len(latencies) / sum(latencies), 1), fmt(p50, 1), fmt(p95, 1)])
    with Server(folder) as server:
        measured = {c: http_run(server, photo, c, max(requests, c * 2)) for c in CONCURRENCY}
    for c, (rate, latencies) in measured.items():
        p50, p95 = percentiles(latencies)
        rows.append(["HTTP: POST /v1/analyze", c, fmt(rate, 1), fmt(p50, 1), fmt(p95, 1)])
        summary.append(Row("HTTP API", f"/v1/analyze, 640x480, 4 faces, concurrency {c}: req/s, p50/p95 ms",
                           f"{rate:.1f} req/s, {p50:.0f}/{p95:.0f} ms"))
    http_p50 = percentiles(measured[1][1])[0]
    python_p50 = percentiles(python["ferstream.analyze(path)"])[0]
    bare_p50 = percentiles(python["Analyzer (no database)"])[0]
    overhead = http_p50 / python_p50 - 1
    summary.append(Row("HTTP API", "latency added over the Python API (ferstream.analyze), concurrency 1, p50",
                       f"{overhead * 100:+.0f}% ({http_p50:.0f} vs {python_p50:.0f} ms)", "",
                       f"<= {MAX_OVERHEAD * 100:.0f}%", overhead <= MAX_OVERHEAD))
    summary.append(Row("HTTP API", "... over the Analyzer (no database), concurrency 1, p50",
                       f"{(http_p50 / bare_p50 - 1) * 100:+.0f}% ({http_p50:.0f} vs {bare_p50:.0f} ms)"))
    table = markdown_table(["how", "concurrency", "req/s", "p50 ms", "p95 ms"], rows)
    return Report("HTTP API: POST /v1/analyze beside the Python API",
                  [f"One 640x480 JPEG with 4 faces, {requests} requests per row (client and server on this machine).",
                   table], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure, needs_media=False))
