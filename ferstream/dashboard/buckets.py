"""Time buckets of the headline chart: their size, picked from the span shown, and their labels."""

from __future__ import annotations

from ferstream.dashboard.defaults import DEFAULT_MAX_BUCKETS, DEFAULT_TARGET_BUCKETS

MINUTE, HOUR, DAY = 60, 3600, 86400
#: the bucket sizes on offer, in seconds: seconds for a clip, minutes and hours for a stream
SIZES = (1, 2, 5, 10, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
         HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY)


def auto_bucket(span_s: float, target: int = DEFAULT_TARGET_BUCKETS) -> int:
    """The smallest size that cuts ``span_s`` seconds into at most ``target`` buckets."""
    for size in SIZES:
        if span_s / size <= target:
            return size
    return SIZES[-1]


def bucket_choices(span_s: float, max_buckets: int = DEFAULT_MAX_BUCKETS) -> list[int]:
    """Sizes worth offering for a span: from the finest that stays under ``max_buckets`` to one bucket for all."""
    choices = []
    for size in SIZES:
        if span_s / size > max_buckets:
            continue
        choices.append(size)
        if size >= span_s:  # one bucket holds everything: larger sizes look the same
            break
    return choices or [SIZES[-1]]


def bucket_label(size_s: float) -> str:
    """``5 s``, ``15 min``, ``2 h``, ``1 day``."""
    for unit, name in ((7 * DAY, "week"), (DAY, "day"), (HOUR, "h"), (MINUTE, "min")):
        if size_s >= unit and size_s % unit == 0:
            n = int(size_s // unit)
            return f"{n} {name}{'s' if n > 1 and name in ('day', 'week') else ''}"
    return f"{size_s:g} s"
