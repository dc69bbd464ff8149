"""Emotion events: how soon an event reaches its receivers on a live stream, and how many the evaluator holds.

Latency: WolfgangLanger (her expression turns from sad and afraid to laughing) served on loop as a live HTTP
MJPEG stream (FFmpeg, real time) and watched by ``ferstream watch --rules`` (in-process, 5 frames per second,
1-second chunks), its rules delivered to a local webhook receiver and to a Mosquitto broker of this run's own.
For each change delivered (``new``, ``update``, ``end``), the time from the capture of the frame that made it
(the body's ``frame_at``) to its arrival: at the receiver, and at an MQTT subscriber. The target is the issue's:
p95 within 2 s of the frame that completes a rule.

Evaluator: 16 cameras' results (5 frames a second, 3 people each, their expressions changing) landed chunk by
chunk through the workers' write path (``db.writes.write_results``) on SQLite, with the rules' evaluation in the
same transaction and without it; the chunks per second landed each way, the changes per second published, and
the milliseconds a chunk's evaluation adds.

    python bench/events.py [--quick] [--seconds S] [--database URL]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/events.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import CLIP, media_file
from bench.processes import CLI
from bench.script import base_parser, run_main
from bench.services import free_port, mosquitto
from bench.tables import Report, Row, fmt, markdown_table

CAMERAS = 16
PEOPLE = 3
FPS = 5
TARGET_P95_S = 2.0
RULES = """
rules:
  - {name: sad-person, per: track, emotions: [sad, fear], min_share: 0.6, for: 1s}
  - {name: happy-person, per: track, emotions: [happy], min_share: 0.6, for: 1s}
  - {name: happy-room, per: source, emotions: [happy], min_share: 0.5, for: 2s, severity: detection}
"""


# --- latency on a live stream ---------------------------------------------------------------------

class Receiver:
    """A webhook receiver: each body and when it arrived."""

    def __init__(self):
        self.port, self.arrivals = free_port(), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrivals.append((time.time(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def subscriber(port: int, arrivals: list):
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    ready = threading.Event()
    client.on_connect = lambda c, *_: c.subscribe("bench/events", qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda _c, _u, m: arrivals.append((time.time(), json.loads(m.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.wait(10)
    return client


def latencies(arrivals: list, kinds=("new", "update", "end")) -> np.ndarray:
    return np.array([at - datetime.fromisoformat(body["frame_at"]).timestamp() for at, body in arrivals
                     if body["type"] in kinds and body.get("frame_at")])


def measure_latency(args, folder: Path) -> tuple[list[list], list[Row]]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("bench: ffmpeg is not installed (`make system-deps` installs it): it serves the live stream")
    clip = media_file(args, CLIP)
    port = free_port()
    url = f"http://127.0.0.1:{port}/live.mjpg"
    server = subprocess.Popen([ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
                               "-f", "mpjpeg", "-listen", "1", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker, broker_port = mosquitto(folder)
    receiver, mqtt_arrivals = Receiver(), []
    client = subscriber(broker_port, mqtt_arrivals)
    rules = folder / "events-rules.yaml"
    rules.write_text(RULES + f"webhooks: [{{url: 'http://127.0.0.1:{receiver.port}/hook', secret: bench}}]\n"
                             f"mqtt: {{url: 'mqtt://127.0.0.1:{broker_port}', prefix: bench}}\n")
    database = folder / "events-live.db"
    database.unlink(missing_ok=True)
    seconds = args.seconds or (8 if args.quick else 60)
    try:
        time.sleep(0.5)
        done = subprocess.run([*CLI, "watch", url, "--name", "desk", "--sample-fps", str(FPS), "--duration",
                               str(seconds), "--rules", str(rules), "--database", f"sqlite:///{database}"],
                              capture_output=True, text=True, timeout=seconds + 120)
        if done.returncode != 0:
            raise RuntimeError(f"ferstream watch exited {done.returncode}: {done.stderr[-1000:]}")
        time.sleep(1.0)
    finally:
        server.kill()
        server.wait(10)
        client.disconnect()
        client.loop_stop()
        broker.terminate()
        broker.wait(10)
        receiver.close()
    rows, summary = [], []
    for name, arrivals in (("webhook", receiver.arrivals), ("MQTT", mqtt_arrivals)):
        for kinds, label in ((("new",), "new"), (("new", "update", "end"), "every change")):
            lat = latencies(arrivals, kinds)
            p50, p95 = (np.percentile(lat, 50), np.percentile(lat, 95)) if len(lat) else (None, None)
            rows.append([name, label, len(lat), fmt(p50, 2), fmt(p95, 2), fmt(lat.max() if len(lat) else None, 2)])
            if label == "every change":
                summary.append(Row("events", f"capture -> {name} p50 / p95 s, live stream ({len(lat)} changes)",
                                   f"{fmt(p50, 2)} / {fmt(p95, 2)}", target=f"p95 <= {TARGET_P95_S:g} s",
                                   met=None if p95 is None else bool(p95 <= TARGET_P95_S)))
    return rows, summary


# --- the evaluator with 16 cameras --------------------------------------------------------------

def chunk(camera: int, index: int):
    """One second of a camera's results: ``PEOPLE`` faces a frame, each person's expression changing every few
    seconds (sad, happy, neutral, in a pattern offset per person and camera)."""
    from ferstream.results import Frame, FrameFaces
    from ferstream.worker.tracker import track_chunk

    results = []
    moods = (4, 3, 6)  # sad, happy, neutral (label order angry, disgust, fear, happy, sad, surprise, neutral)
    for i in range(FPS):
        n = index * FPS + i
        t = n / FPS
        boxes, probs = [], []
        for p in range(PEOPLE):
            row = np.full(7, 0.02, np.float32)
            row[moods[int((t + 2.3 * p + camera) // 4) % 3]] = 0.88
            boxes.append([60 + 200 * p + n % 7, 80, 90, 90])
            probs.append(row)
        results.append(FrameFaces(Frame(n, t, np.zeros((8, 8), np.uint8)), np.array(boxes, np.int32),
                                  np.array(probs, np.float32)))
    tracks = track_chunk([r.boxes for r in results], [r.frame.index for r in results], [r.frame.timestamp for r in results])
    return results, tracks


def land_all(url: str, seconds: int, evaluate: bool) -> tuple[float, int]:
    """Land ``seconds`` chunks of each of ``CAMERAS`` cameras, interleaved; seconds taken and changes published."""
    from ferstream import db
    from ferstream.db import writes
    from ferstream.emotion_model import EMOTIONS
    from ferstream.events.evaluator import Evaluation, bind_rules
    from ferstream.events.rules import parse_events

    import yaml

    engine = db.connect(url)
    rules = parse_events(yaml.safe_load(RULES), "bench").rules
    sources = []
    for c in range(CAMERAS):
        sid = writes.create_source(engine, name=f"cam-{c}", kind="live", uri="bench", state="running")
        if evaluate:
            bind_rules(engine, sid, rules)
        sources.append(sid)
    prepared = [[chunk(c, i) for i in range(seconds)] for c in range(CAMERAS)]
    changes, start = 0, time.perf_counter()
    for i in range(seconds):
        for c, sid in enumerate(sources):
            results, tracks = prepared[c][i]
            writes.record_chunk(engine, sid, i, results[0].frame.index, results[-1].frame.index, FPS, 0)
            evaluation = Evaluation()
            writes.write_results(engine, sid, i, results, tuple(EMOTIONS), "bench", tracks,
                                 then=evaluation if evaluate else None)
            changes += len(evaluation.changes)
    return time.perf_counter() - start, changes


def measure_evaluator(args, folder: Path) -> tuple[list[list], list[Row]]:
    seconds = 4 if args.quick else 60
    out = {}
    for evaluate in (False, True):
        path = folder / f"events-eval-{int(evaluate)}.db"
        path.unlink(missing_ok=True)
        out[evaluate] = land_all(args.database or f"sqlite:///{path}", seconds, evaluate)
    chunks = CAMERAS * seconds
    (plain_s, _), (eval_s, changes) = out[False], out[True]
    added_ms = (eval_s - plain_s) / chunks * 1000
    rows = [["without rules", chunks, f"{chunks / plain_s:.0f}", "", ""],
            ["with 3 rules", chunks, f"{chunks / eval_s:.0f}", f"{changes / eval_s:.0f}", f"{added_ms:.1f}"]]
    summary = [Row("events", f"evaluator, {CAMERAS} cameras' results: chunks/s landed with 3 rules "
                             f"(changes/s published)", f"{chunks / eval_s:.0f} ({changes / eval_s:.0f})",
                   target=f">= {CAMERAS} chunks/s (16 cameras live)", met=chunks / eval_s >= CAMERAS),
               Row("events", "ms a chunk's evaluation adds to its write", fmt(added_ms, 1))]
    return rows, summary


def measure(args, folder: Path) -> Report:
    report = Report("Emotion events: latency to the receivers, and the evaluator")
    rows, summary = measure_latency(args, folder)
    report.details.append(markdown_table(["receiver", "changes", "n", "p50 s", "p95 s", "max s"], rows))
    eval_rows, eval_summary = measure_evaluator(args, folder)
    report.details.append(markdown_table(["results landed", "chunks", "chunks/s", "changes/s",
                                          "ms added per chunk"], eval_rows))
    report.rows += summary + eval_summary
    return report


def build_parser():
    parser = base_parser(__doc__, frames_help=None)
    parser.add_argument("--seconds", type=float, help="seconds the live stream is watched (default: 60; --quick: 8)")
    parser.add_argument("--database", metavar="URL", help="the evaluator's database (default: SQLite in --workdir); "
                        "an empty PostgreSQL database measures PostgreSQL")
    return parser


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
