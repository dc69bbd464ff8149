"""Bucket sizes: picked from the span (seconds for a clip, minutes and hours for a stream), adjustable."""

from __future__ import annotations

import pytest

from ferstream.dashboard.buckets import auto_bucket, bucket_choices, bucket_label


@pytest.mark.parametrize("span, size", [(4, 1), (19.7, 1), (60, 1), (90, 2), (600, 10), (3600, 60),
                                        (6 * 3600, 600), (86400, 1800), (7 * 86400, 3 * 3600)])
def test_auto_bucket_aims_for_about_sixty_buckets(span, size):
    assert auto_bucket(span) == size
    assert span / size <= 60


def test_choices_run_from_fine_to_one_bucket_for_all():
    assert bucket_choices(19.7) == [1, 2, 5, 10, 15, 30]  # 30 s already holds the whole clip
    hour = bucket_choices(3600)
    assert hour[0] == 5 and hour[-1] == 3600  # no more than 1000 buckets, up to one bucket
    assert auto_bucket(3600) in hour
    assert bucket_choices(0) == [1]


@pytest.mark.parametrize("size, label", [(1, "1 s"), (30, "30 s"), (60, "1 min"), (900, "15 min"), (3600, "1 h"),
                                         (7200, "2 h"), (86400, "1 day"), (7 * 86400, "1 week"), (2.5, "2.5 s")])
def test_labels(size, label):
    assert bucket_label(size) == label
