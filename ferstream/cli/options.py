"""What several commands share: argument types, the flags many commands take, and the settings they make.

Imports stay light (no pandas, no SQLAlchemy): every command module imports this one, and ``ferstream --help``
builds every command's parser.
"""

from __future__ import annotations

import argparse

from ferstream.errors import FerstreamError


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0 (frames per second, seconds), by the Python API's own rule."""
    from ferstream.settings import positive_number as checked

    try:
        return checked(float(text), "")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    except FerstreamError:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}") from None


def network(text: str):
    """A network in CIDR notation (an address alone: that address only)."""
    import ipaddress

    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a network in CIDR notation (10.0.0.0/8, fd00::/8), got {text!r}") from None


def int_at_least(low: int, high: int | None = None):
    """An argparse type: a whole number from ``low`` (to ``high``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {low} or more{f' and at most {high}' if high else ''}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def retention_period(text: str | None):
    """A retention's duration (30d, 12h) as a timedelta; None for None."""
    if text is None:
        return None
    from ferstream.db.retention import parse_duration

    return parse_duration(text)


def settings_of(args: argparse.Namespace):
    """The settings of a command: its flags over the environment's."""
    from ferstream.settings import Settings

    return Settings.from_env(
        database_url=getattr(args, "database", None),
        redis_url=getattr(args, "redis", None),
        analysis_width=getattr(args, "analysis_width", None),
        min_face=getattr(args, "min_face", None),
        detector=getattr(args, "detector", None),
        model_path=getattr(args, "model", None),
        preview=getattr(args, "preview", None),
        preview_fps=getattr(args, "preview_fps", None),
    )


def add_rules(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--rules", metavar="FILE", help=f"event rules, webhooks and MQTT (YAML; see the README, Events): "
                                                   f"{what}")


def add_detector(p: argparse.ArgumentParser) -> None:
    from ferstream.settings import DEFAULT_DETECTOR, DETECTORS

    p.add_argument("--detector", choices=DETECTORS, metavar="NAME",
                   help=f"face detector: {' or '.join(DETECTORS)} (default: {DEFAULT_DETECTOR}, or FERSTREAM_DETECTOR); "
                        "blazeface, a neural detector, also finds faces turned, tilted, laughing and small; haar is "
                        "OpenCV's frontal cascade (see the README for both measured)")


def add_metrics(p: argparse.ArgumentParser) -> None:
    from ferstream.settings import DEFAULT_METRICS_HOST

    p.add_argument("--metrics-port", type=int_at_least(1, 65535), metavar="PORT",
                   help="serve Prometheus metrics on http://HOST:PORT/metrics (names: see the README, Metrics)")
    p.add_argument("--metrics-host", default=DEFAULT_METRICS_HOST, metavar="HOST",
                   help="the address --metrics-port listens on (default: %(default)s, this machine only; 0.0.0.0 for "
                        "every interface, where a Prometheus on another machine scrapes it)")


def add_preview(p: argparse.ArgumentParser, whose: str) -> None:
    from ferstream.settings import DEFAULT_PREVIEW, DEFAULT_PREVIEW_FPS, PREVIEW_MODES

    p.add_argument("--preview", choices=PREVIEW_MODES, metavar="MODE",
                   help=f"live pictures of {whose} (HTTP live.mjpeg, the dashboard's Live page): on (the analysed frames "
                        "with the faces drawn), blur (the faces blurred under their labels) or off (never drawn); kept "
                        f"in Redis for seconds, only while watched, never on disk (default: $FERSTREAM_PREVIEW, else "
                        f"{DEFAULT_PREVIEW})")
    p.add_argument("--preview-fps", type=positive_number, metavar="F",
                   help=f"at most F live pictures a second per source (default: {DEFAULT_PREVIEW_FPS:g})")


def add_include_uncertain(p: argparse.ArgumentParser, what: str = "the summary's shares, dominant emotions and "
                          "people") -> None:
    p.add_argument("--include-uncertain", action="store_true",
                   help=f"count uncertain faces (too turned, blurred, dark or small for their emotion to be trusted) "
                        f"in {what}; by default they are left out, and counted apart")


def add_services(p: argparse.ArgumentParser, redis: bool = True) -> None:
    p.add_argument("--database", metavar="URL", help="SQLAlchemy URL (default: $DATABASE_URL, else sqlite:///ferstream.db)")
    if redis:
        p.add_argument("--redis", metavar="URL", help="Redis URL of the RQ queue (default: $REDIS_URL; none: analyse in this process)")


def add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="emotion model (.tflite; default: the shipped model)")
