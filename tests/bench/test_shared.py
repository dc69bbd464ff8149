"""What the benchmarks share (bench/data.py, bench/box_matching.py, bench/tables.py), on real frames any clone has."""

from __future__ import annotations

import numpy as np
import pytest

from bench.box_matching import match_boxes
from bench.data import clip_info, make_clip, read_frames, write_video
from bench.tables import Report, Row, pct, summary_table


def test_boxes_match_one_to_one_best_overlap_first():
    labels = [np.array([0, 0, 100, 100]), np.array([300, 0, 100, 100])]
    found = [np.array([10, 10, 100, 100]), np.array([0, 0, 100, 100]), np.array([600, 0, 50, 50])]
    # both detections overlap the first label: the exact one takes it, the other is left over
    assert match_boxes(labels, found, 0.4) == {0: 1}
    assert match_boxes(found, labels, 0.4) == {1: 0}
    assert match_boxes(labels, found, 0.0001) == {0: 1}  # the label at x=300 overlaps nothing
    assert match_boxes(labels, [], 0.4) == {}


def test_a_clip_made_at_run_time_is_scaled_cut_and_looped(tmp_path):
    from ferstream.demo import astronaut_frames

    src = write_video(tmp_path / "astronaut.mp4", astronaut_frames(10), 10.0)
    assert make_clip(src, tmp_path) == src  # nothing to change: the source itself
    clip = make_clip(src, tmp_path, height=180, frames=4, loops=3)
    info = clip_info(clip)
    assert (info.width, info.height, info.frames) == (320, 180, 12)
    frames = list(read_frames(clip))
    assert len(frames) == 12 and frames[0].shape == (180, 320, 3)
    assert np.abs(frames[0].astype(int) - frames[4].astype(int)).mean() < 8  # the loop starts again
    assert make_clip(src, tmp_path, height=180, frames=4, loops=3) == clip  # made once, then found by name


def test_no_frames_to_write_is_an_error(tmp_path):
    with pytest.raises(OSError, match="no frames"):
        write_video(tmp_path / "empty.mp4", [], 10.0)


def test_the_summary_table_marks_targets_missed():
    report = Report("T", ["detail"], [Row("b", "m", pct(0.9531), pct(None), ">= 95%", True),
                                     Row("b", "n", "1", met=False)])
    assert report.markdown() == "## T\n\ndetail"
    assert summary_table(report.rows).splitlines()[2:] == ["| b | m | 95.3% | n/a | >= 95% | yes |",
                                                           "| b | n | 1 |  |  | **no** |"]
