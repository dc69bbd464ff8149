"""Rules files: the issue's shape is read as written; bad rules are refused with one clear line, before anything
starts (no database written)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ferstream.errors import ConfigError
from ferstream.events.rules import Rule, load_rules, parse_events
from ferstream.ingest.cameras import load_cameras

ISSUE_SHAPE = """
rules:
  - name: sad-person
    per: track            # or: source (the crowd)
    emotions: [sad, fear]
    min_share: 0.6        # of the track's smoothed emotion, or of the source's faces in the window
    for: 3s               # held this long (per: source -> the window)
    cooldown: 60s
    severity: alert       # or: detection
webhooks:
  - url: http://127.0.0.1:9000/hook
    secret: change-me
mqtt:
  url: mqtt://127.0.0.1:1883
  prefix: ferstream
"""


def write(tmp_path, text, name="rules.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_issue_s_shape_reads_as_written(tmp_path):
    cfg = load_rules(write(tmp_path, ISSUE_SHAPE))
    assert cfg.rules == (Rule("sad-person", "track", ("sad", "fear"), min_share=0.6, hold_s=3.0, cooldown_s=60.0,
                              severity="alert"),)
    assert cfg.webhooks[0].url == "http://127.0.0.1:9000/hook" and cfg.webhooks[0].secret == "change-me"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.prefix, cfg.mqtt.tls) == ("127.0.0.1", 1883, "ferstream", False)
    assert Rule.from_json(cfg.rules[0].to_json()) == cfg.rules[0]
    assert "change-me" not in repr(cfg)


def rule(**fields):
    base = {"name": "r", "per": "track", "emotions": ["sad"], "min_share": 0.6, "for": "3s"}
    base.update(fields)
    return {"rules": [{k: v for k, v in base.items() if v is not None}]}


@pytest.mark.parametrize("data, message", [
    (rule(emotions=["sad", "gloomy"]), "rule 'r': emotions: unknown emotion 'gloomy' (known: angry, disgust, fear"),
    (rule(**{"for": "-3s"}), "rule 'r': for: a duration cannot be negative, got '-3s'"),
    (rule(cooldown=-1), "rule 'r': cooldown: a duration cannot be negative, got -1"),
    (rule(min_share=1.5), "rule 'r': min_share: a share between 0 and 1, got 1.5 (above 1)"),
    (rule(sources=["lobby", "attic"]), "rule 'r': sources: unknown source 'attic' (this run's: lobby)"),
    (rule(per="person"), "rule 'r': per: track (a person) or source (the crowd), got 'person'"),
    (rule(severity="loud"), "rule 'r': severity: alert or detection, got 'loud'"),
    (rule(**{"for": "3 fortnights"}), "rule 'r': for: a duration such as 3s, 500ms, 2m or 1h, got '3 fortnights'"),
    (rule(min_share=None), "rule 'r': min_share (or, per: source, max_share): required"),
    (rule(colour="red"), "rule 'r': unknown field(s) colour"),
    ({**rule(), "webhooks": [{"url": "ftp://host/hook", "secret": "x"}]},
     "webhook #1: url: an http:// or https:// URL, got 'ftp://host/hook'"),
    ({**rule(), "webhooks": [{"url": "http://host/hook"}]}, "webhook #1: secret (or secret_env): required"),
    ({**rule(), "mqtt": {"url": "http://broker:1883"}}, "mqtt: url: an mqtt:// or mqtts:// URL"),
    ({"rules": [rule()["rules"][0], rule()["rules"][0]]}, "rule 'r': name: used by another rule"),
])
def test_bad_rules_are_refused_with_one_clear_line(data, message):
    with pytest.raises(ConfigError) as caught:
        parse_events(data, "rules.yaml", ["lobby"])
    text = str(caught.value)
    assert text.startswith("rules.yaml: ") and message in text and "\n" not in text


def test_a_password_in_a_bad_mqtt_url_is_masked():
    with pytest.raises(ConfigError) as caught:
        parse_events({**rule(), "mqtt": {"url": "http://user:hunter2@broker:1883"}}, "rules.yaml")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_a_cameras_file_holds_rules_webhooks_and_mqtt(tmp_path):
    path = write(tmp_path, """
        cameras:
          - {name: lobby, url: "rtsp://cam1.local/stream"}
          - {name: desk-3, url: "rtsp://cam2.local/stream"}
        rules:
          - {name: angry-customer, per: track, emotions: [angry], min_share: 0.7, for: 2s, sources: [desk-3]}
          - {name: gloomy-lobby, per: source, emotions: [happy], max_share: 0.3, window: 60s, min_faces: 5}
        webhooks:
          - {url: "https://hooks.example/ferstream", secret: abc}
        mqtt: {url: "mqtts://bob:pw@broker.example", prefix: site1}
        """, "cameras.yaml")
    cfg = load_cameras(path).events
    assert [r.name for r in cfg.rules_for("desk-3")] == ["angry-customer", "gloomy-lobby"]
    assert [r.name for r in cfg.rules_for("lobby")] == ["gloomy-lobby"]
    assert cfg.rules[1].hold_s == 60.0 and cfg.rules[1].max_share == 0.3 and cfg.rules[1].min_faces == 5
    assert cfg.mqtt.tls and cfg.mqtt.port == 8883 and cfg.mqtt.username == "bob" and cfg.mqtt.password == "pw"
    assert "pw" not in cfg.mqtt.endpoint


def test_a_cameras_file_rule_naming_no_camera_is_refused(tmp_path):
    path = write(tmp_path, """
        cameras: [{name: lobby, url: "rtsp://cam1.local/stream"}]
        rules: [{name: r, emotions: [sad], min_share: 0.5, sources: [hall]}]
        """, "cameras.yaml")
    with pytest.raises(ConfigError, match=r"rule 'r': sources: unknown source 'hall' \(this run's: lobby\)"):
        load_cameras(path)


def test_analyze_refuses_a_bad_rules_file_before_anything_starts(tmp_path, astronaut_video):
    bad = write(tmp_path, """
        rules:
          - {name: sad-person, emotions: [sad], min_share: 2, for: 3s}
        """)
    db_file = tmp_path / "never.db"
    done = subprocess.run([sys.executable, "-m", "ferstream.cli", "analyze", str(astronaut_video), "--rules", str(bad),
                           "--database", f"sqlite:///{db_file}"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"ferstream: error: {bad}: rule 'sad-person': min_share: a share between 0 and 1, got 2 (above 1)"]
    assert not db_file.exists()
