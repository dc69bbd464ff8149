"""Delivery of the change feed to a real HTTP receiver and a real Mosquitto broker: at least once, in order,
signed; an endpoint down blocks nothing and gets everything once back; a restart sends what was left."""

from __future__ import annotations

import json
import logging

import pytest

from ferstream import db
from ferstream.db import writes
from ferstream.events.dispatcher import Dispatcher
from ferstream.events.evaluator import bind_rules, settle
from ferstream.events.rules import parse_events
from ferstream.events.store import changes, list_events, undelivered
from tests.events.chunks import LEFT, RIGHT, land, record_all
from tests.events.servers import Subscriber, wait_until

FAST = dict(poll_s=0.05, backoff_initial_s=0.1, backoff_max_s=0.5)


def config(receiver=None, broker=None, hold="3s"):
    data = {"rules": [{"name": "sad-person", "per": "track", "emotions": ["sad", "fear"], "min_share": 0.6,
                       "for": hold, "cooldown": "60s", "severity": "alert"}]}
    if receiver is not None:
        data["webhooks"] = [{"url": receiver.url, "secret": receiver.secret}]
    if broker is not None:
        data["mqtt"] = {"url": broker.url, "prefix": "fs"}
    return parse_events(data, "test")


def clip(engine, cfg, mood, n=10, people=(LEFT,), name="clip"):
    sid = writes.create_source(engine, name=name, kind="file", uri="mem")
    bind_rules(engine, sid, cfg.rules_for(name))
    record_all(engine, sid, n)
    for index in range(n):
        land(engine, sid, index, mood, people, record=False)
    writes.update_source(engine, sid, state="finished")
    settle(engine, sid)
    return sid


def sad_2_to_7(t, person):
    return "sad" if 2.0 <= t < 7.0 else "happy"


def keys(bodies):
    return [(b["id"], b["seq"], b["type"]) for b in bodies]


def test_one_event_reaches_the_webhook_and_the_broker_in_order(sqlite_url, receiver, mosquitto):
    engine = db.connect(sqlite_url)
    cfg = config(receiver, mosquitto)
    sub = Subscriber(mosquitto.port, "fs/#")
    try:
        with Dispatcher(engine, cfg, ["clip"], **FAST) as dispatcher:
            sid = clip(engine, cfg, sad_2_to_7)
            assert dispatcher.drain(20)
            feed = changes(engine, sid)
            assert wait_until(lambda: len(sub.events()) >= len(feed))
            assert wait_until(lambda: any(t == "fs/clip/emotion" for t, _, _ in sub.messages))
        events = list_events(engine, sid)
        assert len(events) == 1 and 2.3 <= events.iloc[0]["start"] <= 2.8 and 7.2 <= events.iloc[0]["end"] <= 7.7
        assert keys(receiver.bodies) == keys(feed) == keys(sub.events())
        assert receiver.bad_signatures == 0
        assert receiver.bodies[0]["type"] == "new" and receiver.bodies[-1]["type"] == "end"
        last = receiver.bodies[-1]
        assert last["end"] == events.iloc[0]["end"] and {"id", "type", "rule", "source", "track", "start", "end",
                                                        "before", "after"} <= set(last)
        assert ("fs/available", "online", True) in sub.messages or any(
            t == "fs/available" and p == "online" for t, p, _ in sub.messages)
        assert undelivered(engine, dispatcher.endpoints, ["sad-person"]).empty
    finally:
        sub.close()


def test_a_run_shorter_than_the_shares_period_leaves_its_last_shares_retained(sqlite_url, mosquitto):
    engine = db.connect(sqlite_url)
    cfg = config(broker=mosquitto)
    sub = Subscriber(mosquitto.port, "fs/#")
    try:
        # the shares are due at the start (no source yet: nothing to publish), then not for an hour
        with Dispatcher(engine, cfg, ["clip"], shares_every_s=3600, **FAST) as dispatcher:
            clip(engine, cfg, sad_2_to_7)
            assert dispatcher.drain(20)
            assert not any(t == "fs/clip/emotion" for t, _, _ in sub.messages)
        # stopped: the shares at the end went out, retained, as a late subscriber gets them
        late = Subscriber(mosquitto.port, "fs/clip/emotion")
        try:
            assert wait_until(lambda: late.messages)
            topic, payload, retained = late.messages[0]
            assert retained and json.loads(payload)["shares"]["happy"] > 0
        finally:
            late.close()
    finally:
        sub.close()


def test_too_short_raises_nothing_on_either(sqlite_url, receiver, mosquitto):
    engine = db.connect(sqlite_url)
    cfg = config(receiver, mosquitto)
    sub = Subscriber(mosquitto.port, "fs/events")
    try:
        with Dispatcher(engine, cfg, **FAST) as dispatcher:
            clip(engine, cfg, lambda t, p: "sad" if 2.0 <= t < 4.0 else "happy", n=6)
            assert dispatcher.drain(10)
        assert receiver.bodies == [] and sub.events() == []
    finally:
        sub.close()


def test_a_receiver_down_gets_everything_in_order_once_back_and_blocks_nothing(sqlite_url, receiver, mosquitto, caplog):
    engine = db.connect(sqlite_url)
    cfg = config(receiver, mosquitto, hold="1s")
    receiver.down()
    sub = Subscriber(mosquitto.port, "fs/events")
    caplog.set_level(logging.WARNING)
    try:
        with Dispatcher(engine, cfg, **FAST) as dispatcher:
            mood = lambda t, p: "sad" if (1.0 <= t < 4.0 if p == 0 else 3.0 <= t < 7.0) else "happy"  # noqa: E731
            sid = clip(engine, cfg, mood, people=(LEFT, RIGHT))
            feed = changes(engine, sid)
            assert wait_until(lambda: len(sub.events()) >= len(feed))  # MQTT went on meanwhile
            assert keys(sub.events()) == keys(feed)
            waiting = undelivered(engine, [cfg.webhooks[0].endpoint], ["sad-person"])
            assert len(waiting) == len(feed) and waiting["attempts"].iloc[0] >= 1
            assert "Connection refused" in str(waiting["error"].iloc[0]) or "refused" in str(waiting["error"].iloc[0])
            receiver.up()
            assert dispatcher.drain(20)
        assert keys(receiver.bodies) == keys(feed) and len({b["id"] for b in feed}) == 2
        assert any("not delivered" in r.message for r in caplog.records)
        assert "s3cret" not in caplog.text
    finally:
        sub.close()


def test_a_restarted_dispatcher_sends_what_was_left(sqlite_url, receiver):
    engine = db.connect(sqlite_url)
    cfg = config(receiver, hold="1s")
    sid = clip(engine, cfg, sad_2_to_7)  # nobody delivering: all of it waits in the outbox
    feed = changes(engine, sid)
    assert len(undelivered(engine, [cfg.webhooks[0].endpoint], ["sad-person"])) == len(feed) > 1
    with Dispatcher(engine, cfg, **FAST) as dispatcher:
        assert dispatcher.drain(20)
    with Dispatcher(engine, cfg, **FAST) as dispatcher:  # and again: nothing is sent twice
        assert dispatcher.drain(20)
    assert keys(receiver.bodies) == keys(feed)


def test_a_broker_restart_loses_nothing(sqlite_url, mosquitto):
    engine = db.connect(sqlite_url)
    cfg = config(broker=mosquitto, hold="1s")
    with Dispatcher(engine, cfg, **FAST) as dispatcher:
        mosquitto.stop()
        sid = clip(engine, cfg, sad_2_to_7)
        feed = changes(engine, sid)
        assert not dispatcher.drain(1)
        mosquitto.start()
        sub = Subscriber(mosquitto.port, "fs/events")
        try:
            assert dispatcher.drain(30)
            assert wait_until(lambda: len(sub.events()) >= len(feed))
            got = keys(sub.events())
            assert sorted(set(got)) == sorted(keys(feed)) and got == sorted(set(got), key=got.index)
        finally:
            sub.close()


def test_events_deliveries_lists_and_events_deliver_sends_what_was_left(sqlite_url, receiver, tmp_path, capsys):
    from ferstream.cli.events import events_deliver, events_deliveries
    from ferstream.settings import Settings

    settings = Settings(database_url=sqlite_url)
    engine = db.connect(sqlite_url)
    cfg = config(receiver, hold="1s")
    sid = clip(engine, cfg, sad_2_to_7)
    feed = changes(engine, sid)
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""
rules:
  - {{name: sad-person, per: track, emotions: [sad, fear], min_share: 0.6, for: 1s}}
webhooks: [{{url: '{receiver.url}', secret: {receiver.secret}}}]
""")
    assert events_deliveries(settings, str(rules), None) == 0
    assert f"webhook {receiver.url}: {len(feed)} change(s) not delivered" in capsys.readouterr().out
    assert events_deliver(settings, str(rules), None, duration=1.5) == 0
    assert "0 change(s) left to deliver" in capsys.readouterr().out
    assert keys(receiver.bodies) == keys(feed)
    events_deliveries(settings, str(rules), None)
    assert "every event change is delivered" in capsys.readouterr().out


@pytest.mark.long
def test_a_receiver_down_for_30_s_gets_everything_in_order_with_the_default_backoff(sqlite_url, receiver):
    import time

    engine = db.connect(sqlite_url)
    cfg = config(receiver, hold="1s")
    receiver.down()
    with Dispatcher(engine, cfg) as dispatcher:  # the default poll and backoff (0.5 s doubling to 10 s)
        mood = lambda t, p: "sad" if (1.0 <= t < 4.0 if p == 0 else 3.0 <= t < 7.0) else "happy"  # noqa: E731
        sid = clip(engine, cfg, mood, people=(LEFT, RIGHT))
        time.sleep(30)
        assert receiver.bodies == []
        receiver.up()
        assert dispatcher.drain(30)
    feed = changes(engine, sid)
    assert keys(receiver.bodies) == keys(feed) and len({b["id"] for b in feed}) == 2


def test_mqtt_over_tls_with_a_username_and_password_that_are_never_printed(sqlite_url, tmp_path, monkeypatch, caplog):
    import subprocess

    from tests.events.servers import Mosquitto

    cert, key, passwords = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "passwd"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "alice", "pw-9xq"], check=True, capture_output=True)
    broker = Mosquitto(tmp_path, f"certfile {cert}\nkeyfile {key}\npassword_file {passwords}\n", anonymous=False)
    broker.start()
    monkeypatch.setenv("FS_MQTT_PASSWORD", "pw-9xq")
    caplog.set_level(logging.DEBUG)
    data = {"rules": [{"name": "sad-person", "emotions": ["sad", "fear"], "min_share": 0.6, "for": "1s"}],
            "mqtt": {"url": f"mqtts://alice@127.0.0.1:{broker.port}", "password_env": "FS_MQTT_PASSWORD",
                     "tls": {"ca_certs": str(cert)}, "prefix": "secure"}}
    cfg = parse_events(data, "test")
    sub = Subscriber(broker.port, "secure/events", user=("alice", "pw-9xq"), ca_certs=str(cert))
    engine = db.connect(sqlite_url)
    try:
        with Dispatcher(engine, cfg, **FAST) as dispatcher:
            sid = clip(engine, cfg, sad_2_to_7)
            assert dispatcher.drain(20)
            feed = changes(engine, sid)
            assert wait_until(lambda: len(sub.events()) >= len(feed))
        assert keys(sub.events()) == keys(feed)
        assert cfg.mqtt.endpoint == f"mqtt mqtts://alice@127.0.0.1:{broker.port}/secure"
        wrong = parse_events({**data, "mqtt": {**data["mqtt"], "password_env": None, "prefix": "other",
                                               "url": f"mqtts://alice:nope-7@127.0.0.1:{broker.port}"}}, "test")
        with Dispatcher(engine, wrong, **FAST) as refused:
            assert not refused.drain(2)  # the broker refuses a wrong password: nothing delivered, kept for later
        assert "pw-9xq" not in caplog.text and "nope-7" not in caplog.text and "refused" in caplog.text
    finally:
        sub.close()
        broker.stop()
