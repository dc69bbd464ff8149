"""Event rules, webhooks and MQTT: the ``--rules`` file (or the ``rules:``/``webhooks:``/``mqtt:`` of a cameras file).

```yaml
rules:
  - name: sad-person
    per: track            # or: source (the crowd)
    emotions: [sad, fear]
    min_share: 0.6        # of the track's smoothed emotion, or of the source's faces in the window
    for: 3s               # held this long (per: source -> the window)
    cooldown: 60s         # no new event of this rule for the same person (source) this long after the last ended
    severity: alert       # or: detection
    sources: [lobby]      # optional: the sources (cameras, videos) it applies to; default: all
    min_quality: 0.5      # optional, per: track: faces of a lower quality (the faces' `quality`) do not count
  - name: gloomy-audience
    per: source
    emotions: [happy]
    max_share: 0.3        # below: the share fell to at most 0.3 (min_share: rose to at least)
    for: 60s
    min_faces: 5          # faces in the window needed to judge at all
webhooks:
  - url: http://127.0.0.1:9000/hook
    secret: change-me     # or secret_env: NAME (read from the environment)
mqtt:
  url: mqtt://user:pass@127.0.0.1:1883   # mqtts:// for TLS
  prefix: ferstream
  password_env: NAME      # optional, instead of a password in the URL
  tls: {ca_certs: ca.pem} # optional (mqtts:// turns TLS on with the system's CAs)
```

Every error is one line naming the file, the rule (or endpoint) and the field.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ferstream.emotion_model import EMOTIONS
from ferstream.errors import ConfigError
from ferstream.urls import mask_secrets, mask_url

PER = ("track", "source")
SEVERITIES = ("alert", "detection")
RULE_FIELDS = ("name", "per", "emotions", "min_share", "max_share", "for", "window", "cooldown", "severity", "sources",
               "min_quality", "min_faces")
TOP_FIELDS = ("rules", "webhooks", "mqtt")
WEBHOOK_FIELDS = ("url", "secret", "secret_env", "timeout")
MQTT_FIELDS = ("url", "prefix", "username", "password", "password_env", "tls", "client_id")
#: ``for`` of a crowd rule (its window) when the rule names none
DEFAULT_WINDOW_S = 10.0
#: the MQTT topic prefix when the configuration names none
DEFAULT_MQTT_PREFIX = "ferstream"
#: seconds a webhook receiver may take to answer one POST
DEFAULT_WEBHOOK_TIMEOUT_S = 5.0
_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Rule:
    """One rule: per person (``per="track"``) or per crowd (``per="source"``)."""

    name: str
    per: str
    emotions: tuple[str, ...]
    min_share: float | None = None  # the value must reach this ...
    max_share: float | None = None  # ... or (crowd rules) fall to this
    hold_s: float = 0.0  # `for`: held this long (crowd: the window)
    cooldown_s: float = 0.0
    severity: str = "alert"
    sources: tuple[str, ...] | None = None  # None: every source
    min_quality: float | None = None
    min_faces: int = 1

    def applies_to(self, source: str) -> bool:
        return self.sources is None or source in self.sources

    def holds(self, value: float) -> bool:
        """Whether ``value`` (a share) meets the rule's threshold."""
        return value >= self.min_share if self.min_share is not None else value <= self.max_share

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is a new peak (higher, or lower for a `max_share` rule)."""
        return value > than if self.min_share is not None else value < than

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Rule":
        d = json.loads(text)
        d["emotions"] = tuple(d["emotions"])
        d["sources"] = tuple(d["sources"]) if d.get("sources") is not None else None
        return cls(**d)


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str = field(repr=False)
    timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S

    @property
    def endpoint(self) -> str:
        """How deliveries name it: its URL, any password masked."""
        return f"webhook {mask_url(self.url)}"


@dataclass(frozen=True)
class Mqtt:
    host: str
    port: int
    tls: bool
    prefix: str = DEFAULT_MQTT_PREFIX
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    client_id: str | None = None

    @property
    def endpoint(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"mqtt {'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}/{self.prefix}"


@dataclass(frozen=True)
class EventsConfig:
    rules: tuple[Rule, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    mqtt: Mqtt | None = None

    def rules_for(self, source: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies_to(source))

    @property
    def endpoints(self) -> tuple:
        return (*self.webhooks, *((self.mqtt,) if self.mqtt else ()))

    def __bool__(self) -> bool:
        return bool(self.rules)


def load_rules(path: str | os.PathLike, sources: list[str] | None = None) -> EventsConfig:
    """Read and check a rules file; ``sources``: the names of the sources of this run (a rule naming another is
    refused). ``ConfigError``, one line, for anything wrong."""
    path = Path(path)
    data = read_yaml(path, "rules file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a `rules:` list, got {type(data).__name__}")
    unknown = sorted(map(str, set(data) - set(TOP_FIELDS)))
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)} (known: {', '.join(TOP_FIELDS)})")
    return parse_events(data, str(path), sources)


def read_yaml(path: Path, kind: str) -> object:
    """A YAML file's data (a rules or cameras file); one-line ``ConfigError``s that never quote the file's lines
    (they hold URLs with passwords, and an excerpt cut short cannot be masked reliably)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {kind}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None


def _yaml_problem(exc) -> str:
    """What the YAML parser found wrong, with its line and column, but not its excerpt of the file."""
    parts = []
    for what, mark in ((getattr(exc, "context", None), getattr(exc, "context_mark", None)),
                       (getattr(exc, "problem", None), getattr(exc, "problem_mark", None))):
        if what:
            parts.append(what + (f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""))
    return mask_secrets("; ".join(parts) or type(exc).__name__)


def parse_events(data: dict, where: str, sources: list[str] | None = None) -> EventsConfig:
    """The ``rules``, ``webhooks`` and ``mqtt`` of ``data`` (a rules file, or a cameras file's top level)."""
    try:
        return _parse(data, where, sources)
    except ConfigError as exc:  # a quoted value may be a URL with a password
        raise ConfigError(mask_secrets(str(exc))) from None


def _parse(data: dict, where: str, sources: list[str] | None) -> EventsConfig:
    entries = data.get("rules")
    if entries is None:
        entries = []
    if not isinstance(entries, list) or ("rules" in data and not entries):
        raise ConfigError(f"{where}: rules: expected a non-empty list of rules (each with a name, per, emotions, ...)")
    rules, names = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: rule #{i + 1}: expected a mapping (name, per, emotions, ...), got {entry!r}")
        label = f"{where}: rule {entry.get('name')!r}" if entry.get("name") else f"{where}: rule #{i + 1}"
        rule = _rule(entry, label, sources)
        if rule.name in names:
            raise ConfigError(f"{label}: name: used by another rule (names must be unique)")
        names.add(rule.name)
        rules.append(rule)
    hooks = data.get("webhooks") or []
    if not isinstance(hooks, list):
        raise ConfigError(f"{where}: webhooks: expected a list of webhooks (each with a url and a secret)")
    webhooks = tuple(_webhook(h, f"{where}: webhook #{i + 1}") for i, h in enumerate(hooks))
    if len({w.url for w in webhooks}) < len(webhooks):
        raise ConfigError(f"{where}: webhooks: the same URL twice")
    mqtt = _mqtt(data["mqtt"], f"{where}: mqtt") if data.get("mqtt") is not None else None
    if (webhooks or mqtt) and not rules:
        raise ConfigError(f"{where}: webhooks or mqtt without rules: add a `rules:` list (nothing would be delivered)")
    return EventsConfig(tuple(rules), webhooks, mqtt)


def parse_duration(value: object, label: str) -> float:
    """Seconds of ``3s``, ``1.5s``, ``500ms``, ``2m``, ``1h`` or a bare number of seconds; never negative."""
    if isinstance(value, bool):
        raise ConfigError(f"{label}: a duration such as 3s, 500ms, 2m or 1h, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*", str(value))
        if not m or (m.group(2) and m.group(2) not in _UNITS):
            raise ConfigError(f"{label}: a duration such as 3s, 500ms, 2m or 1h, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not math.isfinite(seconds):
        raise ConfigError(f"{label}: a finite duration, got {value!r}")
    if seconds < 0:
        raise ConfigError(f"{label}: a duration cannot be negative, got {value!r}")
    return seconds


def _share(value: object, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{label}: a share between 0 and 1, got {value!r}")
    if value > 1:
        raise ConfigError(f"{label}: a share between 0 and 1, got {value!r} (above 1)")
    if value < 0:
        raise ConfigError(f"{label}: a share between 0 and 1, got {value!r} (below 0)")
    return float(value)


def _rule(entry: dict, label: str, sources: list[str] | None) -> Rule:
    _mapping(entry, label, RULE_FIELDS, "name, per, emotions, ...")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise ConfigError(f"{label}: name: required, a non-empty string of at most 128 characters")
    per = entry.get("per", "track")
    if per not in PER:
        raise ConfigError(f"{label}: per: track (a person) or source (the crowd), got {per!r}")
    emotions = entry.get("emotions")
    if isinstance(emotions, str):
        emotions = [emotions]
    if not isinstance(emotions, list) or not emotions:
        raise ConfigError(f"{label}: emotions: required, a list of emotions ({', '.join(EMOTIONS)})")
    for e in emotions:
        if e not in EMOTIONS:
            raise ConfigError(f"{label}: emotions: unknown emotion {e!r} (known: {', '.join(EMOTIONS)})")
    if "min_share" in entry and "max_share" in entry:
        raise ConfigError(f"{label}: min_share or max_share, not both")
    if "max_share" in entry and per == "track":
        raise ConfigError(f"{label}: max_share: only for per: source rules (a person's rule takes min_share)")
    if "min_share" not in entry and "max_share" not in entry:
        raise ConfigError(f"{label}: min_share (or, per: source, max_share): required, a share between 0 and 1")
    min_share = _share(entry["min_share"], f"{label}: min_share") if "min_share" in entry else None
    max_share = _share(entry["max_share"], f"{label}: max_share") if "max_share" in entry else None
    if "for" in entry and "window" in entry:
        raise ConfigError(f"{label}: for or window, not both")
    hold = entry.get("for", entry.get("window"))
    key = "window" if "window" in entry else "for"
    hold_s = parse_duration(hold, f"{label}: {key}") if hold is not None else (DEFAULT_WINDOW_S if per == "source" else 0.0)
    if per == "source" and hold_s <= 0:
        raise ConfigError(f"{label}: {key}: a crowd rule's window must be longer than 0s")
    cooldown_s = parse_duration(entry.get("cooldown", 0), f"{label}: cooldown")
    severity = entry.get("severity", "alert")
    if severity not in SEVERITIES:
        raise ConfigError(f"{label}: severity: alert or detection, got {severity!r}")
    names = entry.get("sources")
    if isinstance(names, str):
        names = [names]
    if names is not None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"{label}: sources: a list of source (camera) names")
        if sources is not None:
            for n in names:
                if n not in sources:
                    raise ConfigError(f"{label}: sources: unknown source {n!r} (this run's: {', '.join(sources)})")
    min_quality = entry.get("min_quality")
    if min_quality is not None:
        if per == "source":
            raise ConfigError(f"{label}: min_quality: only for per: track rules")
        min_quality = _share(min_quality, f"{label}: min_quality")
    min_faces = entry.get("min_faces", 1)
    if isinstance(min_faces, bool) or not isinstance(min_faces, int) or min_faces < 1:
        raise ConfigError(f"{label}: min_faces: a whole number of faces, at least 1, got {min_faces!r}")
    if "min_faces" in entry and per == "track":
        raise ConfigError(f"{label}: min_faces: only for per: source rules")
    return Rule(name.strip(), per, tuple(emotions), min_share, max_share, hold_s, cooldown_s, severity,
                tuple(names) if names is not None else None, min_quality, min_faces)


def _secret(entry: dict, key: str, label: str) -> str | None:
    """``entry[key]``, or the environment variable named by ``entry[key + '_env']``."""
    if entry.get(f"{key}_env") is not None:
        var = str(entry[f"{key}_env"])
        if var not in os.environ:
            raise ConfigError(f"{label}: {key}_env: the environment variable {var} is not set")
        return os.environ[var]
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{label}: {key}: a string")
    return value


def _mapping(entry: object, label: str, fields: tuple[str, ...], what: str) -> None:
    """``entry`` is a mapping of ``fields`` only."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{label}: expected a mapping with {what}, got {type(entry).__name__}")
    unknown = sorted(map(str, set(entry) - set(fields)))
    if unknown:
        raise ConfigError(f"{label}: unknown field(s) {', '.join(unknown)} (known: {', '.join(fields)})")


def _webhook(entry: object, label: str) -> Webhook:
    _mapping(entry, label, WEBHOOK_FIELDS, "a url and a secret")
    from urllib.parse import urlsplit

    url = entry.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError(f"{label}: url: an http:// or https:// URL, got {url!r}")
    secret = _secret(entry, "secret", label)
    if not secret:
        raise ConfigError(f"{label}: secret (or secret_env): required, the key its deliveries are signed with")
    timeout = entry.get("timeout", DEFAULT_WEBHOOK_TIMEOUT_S)
    return Webhook(url, secret, parse_duration(timeout, f"{label}: timeout") or DEFAULT_WEBHOOK_TIMEOUT_S)


def _mqtt(entry: object, label: str) -> Mqtt:
    _mapping(entry, label, MQTT_FIELDS, "a url (mqtt://host:1883) and a prefix")
    from urllib.parse import unquote, urlsplit

    url = entry.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"{label}: url: an mqtt:// or mqtts:// URL (mqtt://host:1883), got {url!r}")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ConfigError(f"{label}: url: the port is not a number: {url!r}") from None
    prefix = entry.get("prefix", DEFAULT_MQTT_PREFIX)
    if not isinstance(prefix, str) or not prefix.strip("/") or any(c in prefix for c in "+#"):
        raise ConfigError(f"{label}: prefix: a topic prefix without + or #, got {prefix!r}")
    username = entry.get("username") or (unquote(parts.username) if parts.username else None)
    password = _secret(entry, "password", label) or (unquote(parts.password) if parts.password else None)
    tls = entry.get("tls")
    files = {}
    if isinstance(tls, dict):
        bad = sorted(set(tls) - {"ca_certs", "certfile", "keyfile"})
        if bad:
            raise ConfigError(f"{label}: tls: unknown field(s) {', '.join(bad)} (known: ca_certs, certfile, keyfile)")
        for k, v in tls.items():
            if not os.path.isfile(str(v)):
                raise ConfigError(f"{label}: tls: {k}: no such file {v}")
        files = {k: str(v) for k, v in tls.items()}
    elif tls is not None and not isinstance(tls, bool):
        raise ConfigError(f"{label}: tls: true, false or a mapping (ca_certs, certfile, keyfile)")
    use_tls = parts.scheme == "mqtts" or bool(tls)
    return Mqtt(parts.hostname, port, use_tls, prefix.strip("/"), username, password, files.get("ca_certs"),
                files.get("certfile"), files.get("keyfile"), entry.get("client_id"))
