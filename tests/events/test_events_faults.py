"""Events under faults, with real processes: RQ workers, one SIGKILLed mid-chunk; a live stream watched with
rules, its events on a real webhook receiver and a real Mosquitto broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime

import pytest
from redis import Redis
from rq import Queue

from ferstream import db
from ferstream.db.queries import sources
from ferstream.events.store import changes, list_events
from tests.events.servers import Subscriber
from tests.conftest import free_port
from tests.helpers import ferstream, metric, queue_of, scrape_metrics, start_worker, wait_until
from tests.streams import MjpegServer, _require_ffmpeg

RULES = """
rules:
  - {{name: sad-person, per: track, emotions: [sad, fear], min_share: 0.6, for: 3s, cooldown: 60s}}
  - {{name: happy-room, per: source, emotions: [happy], min_share: 0.8, for: 2s, severity: detection}}
{endpoints}
"""


def rules_file(tmp_path, endpoints: str = "") -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(endpoints=endpoints))
    return str(path)


def shape(url):
    return sorted((r.rule, r.state, round(r.start, 3), round(r.end, 3), r.faces)
                  for r in list_events(db.connect(url)).itertuples())


@pytest.mark.long
@pytest.mark.media
def test_a_worker_killed_mid_chunk_loses_and_doubles_no_event(tmp_path, redis_url, media):
    video = str(media / "WolfgangLanger_Pexels.mp4")
    rules = rules_file(tmp_path)
    reference = f"sqlite:///{tmp_path / 'inline.db'}"
    ferstream("analyze", video, "--sample-fps", "5", "--rules", rules, "--database", reference)
    url = f"sqlite:///{tmp_path / 'queued.db'}"
    engine = db.connect(url)
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_of(url), connection=redis)
    doomed = start_worker(redis_url, url, "doomed")
    steady = rescuer = None
    try:
        wait_until(lambda: redis.exists("rq:worker:doomed"), 60)
        ferstream("analyze", video, "--sample-fps", "5", "--rules", rules, "--database", url, "--redis", redis_url)
        wait_until(lambda: queue.started_job_registry.count > 0, 30, poll=0.01)
        os.killpg(doomed.pid, signal.SIGKILL)  # mid-chunk: its transaction (results and events) never commits
        doomed.wait(10)
        steady = start_worker(redis_url, url, "steady")
        rescuer = start_worker(redis_url, url, "rescuer")
        wait_until(lambda: sources(engine).iloc[0]["status"] == "done", 150, poll=0.5)
        wait_until(lambda: list_events(engine, state="active").empty and len(list_events(engine)) >= 2, 30, poll=0.5)
    finally:
        for proc in (doomed, steady, rescuer):  # the work is done: no need to wait for a warm shutdown
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert shape(url) == shape(reference) and len(shape(url)) == 2
    feed = changes(engine)
    assert len({(c["id"], c["seq"]) for c in feed}) == len(feed)  # nothing published twice
    assert [(c["rule"], c["type"], c["start"], c["end"]) for c in feed] == \
        [(c["rule"], c["type"], c["start"], c["end"]) for c in changes(db.connect(reference))]


@pytest.mark.long
@pytest.mark.media
def test_a_live_stream_s_event_reaches_the_webhook_and_the_broker(tmp_path, media, receiver, mosquitto):
    _require_ffmpeg()
    server = MjpegServer(media / "WolfgangLanger_Pexels.mp4", tmp_path / "ffmpeg.log")
    server.start()
    sub = Subscriber(mosquitto.port, "ferstream/#")
    url = f"sqlite:///{tmp_path / 'live.db'}"
    rules = rules_file(tmp_path, f"webhooks: [{{url: '{receiver.url}', secret: {receiver.secret}}}]\n"
                                 f"mqtt: {{url: '{mosquitto.url}', prefix: ferstream}}")
    port = free_port()
    try:
        watch = subprocess.Popen([sys.executable, "-m", "ferstream.cli", "watch", server.url, "--name", "desk-3",
                                  "--sample-fps", "5", "--duration", "14", "--rules", rules, "--database", url,
                                  "--metrics-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: any(b["rule"] == "sad-person" and b["type"] == "end" for b in receiver.bodies), 60, 0.2)
        samples = scrape_metrics(port)  # while it watches: the events counted by rule and state, the deliveries
        out, err = watch.communicate(timeout=120)
        assert watch.returncode == 0, err
    finally:
        server.kill()
    assert metric(samples, "ferstream_events_total", 0.0, rule="sad-person", state="new") == 1
    assert metric(samples, "ferstream_events_total", 0.0, rule="sad-person", state="end") == 1
    webhook = f"webhook {receiver.url}"
    assert metric(samples, "ferstream_event_deliveries_total", 0.0, endpoint=webhook, outcome="delivered") >= 3
    engine = db.connect(url)
    sad = list_events(engine, rule="sad-person")
    # her sad and afraid faces: about 5.4 s with the FER+ model of 2026-12-06 (7.8 s with the FER-2013 student before it)
    assert len(sad) == 1 and 4.0 <= sad.iloc[0]["duration_s"] <= 9.0
    feed = [c for c in changes(engine) if c["rule"] == "sad-person"]
    assert feed[0]["type"] == "new" and feed[-1]["type"] == "end"
    wait_until(lambda: len([e for e in sub.events() if e["rule"] == "sad-person"]) >= len(feed), 10)
    for got in (receiver.bodies, sub.events()):
        mine = [(b["id"], b["seq"], b["type"]) for b in got if b["rule"] == "sad-person"]
        assert mine == [(c["id"], c["seq"], c["type"]) for c in feed]
    assert any(t == "ferstream/desk-3/emotion" for t, _, _ in sub.messages)
    assert ("ferstream/available", "offline") in [(t, p) for t, p, _ in sub.messages]  # said when the watch ended
    new = next(b for b in receiver.bodies if b["id"] == feed[0]["id"] and b["type"] == "new")
    k = receiver.bodies.index(new)
    latency = receiver.received_at[k] - datetime.fromisoformat(new["frame_at"]).timestamp()
    print(f"capture of the frame that completed the rule -> webhook: {latency:.2f}s")
    sub.close()


@pytest.mark.long
@pytest.mark.media
def test_a_cameras_file_s_rules_raise_the_event_of_its_camera(tmp_path, media, receiver):
    _require_ffmpeg()
    server = MjpegServer(media / "WolfgangLanger_Pexels.mp4", tmp_path / "ffmpeg.log")
    server.start()
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(f"""
cameras:
  - {{name: desk-3, url: "{server.url}", sample_fps: 5}}
  - {{name: hall, url: "http://127.0.0.1:9/never", sample_fps: 5, enabled: false}}
rules:
  - {{name: sad-customer, per: track, emotions: [sad, fear], min_share: 0.6, for: 3s, sources: [desk-3]}}
  - {{name: sad-hall, per: track, emotions: [sad, fear], min_share: 0.6, for: 3s, sources: [hall]}}
webhooks: [{{url: '{receiver.url}', secret: {receiver.secret}}}]
""")
    url = f"sqlite:///{tmp_path / 'cameras.db'}"
    try:
        done = subprocess.run([sys.executable, "-m", "ferstream.cli", "watch", "--config", str(cameras),
                               "--duration", "13", "--database", url], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    finally:
        server.kill()
    events = list_events(db.connect(url))
    assert events["rule"].tolist() == ["sad-customer"] and events["source"].tolist() == ["desk-3"]
    assert "events: 1 (sad-customer: 1)" in done.stdout
    got = [(b["rule"], b["source"], b["type"]) for b in receiver.bodies]
    assert got[0] == ("sad-customer", "desk-3", "new") and got[-1] == ("sad-customer", "desk-3", "end")
