"""Uncertain faces (issue 34): stored with their quality, exported, and left out of summaries, track smoothing and
the tracks' emotions unless asked for (real SQLite and PostgreSQL)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from ferstream import db
from ferstream.db.queries import EXPORT_COLUMNS, emotion_summary, faces_table, tracks_table
from tests.helpers import FLAGGED_CERTAIN, FLAGGED_FRAMES, ferstream, write_flagged_source

LEFT_X = 100


def test_the_summary_leaves_uncertain_faces_out_and_says_how_many(database_url):
    from ferstream.cli.summary import print_summary

    engine = db.connect(database_url)
    sid = write_flagged_source(database_url)
    uncertain = 2 * FLAGGED_FRAMES - FLAGGED_CERTAIN

    summary = emotion_summary(engine, sid).set_index("emotion")
    assert summary["faces"].to_dict() == {"angry": 0, "disgust": 0, "fear": 0, "happy": FLAGGED_CERTAIN, "sad": 0,
                                          "surprise": 0, "neutral": 0}
    assert summary.loc["happy", "share"] == 1.0 and summary.loc["happy", "mean_confidence"] == pytest.approx(0.7)
    assert np.isnan(summary.loc["sad", "mean_confidence"])
    assert summary["uncertain"].to_dict() == {"angry": 0, "disgust": 0, "fear": 0, "happy": 0, "sad": 6,
                                              "surprise": 0, "neutral": FLAGGED_FRAMES}

    everything = emotion_summary(engine, sid, include_uncertain=True).set_index("emotion")
    assert everything.loc[["happy", "sad", "neutral"], "faces"].tolist() == [4, 6, 10]
    assert everything.loc["neutral", "share"] == 0.5 and everything["uncertain"].sum() == uncertain

    out = io.StringIO()
    print_summary(engine, sid, file=out)
    text = out.getvalue()
    assert f"20 faces, {uncertain} uncertain (left out of the shares" in text
    assert "dominant emotion: happy (100.0% of certain faces)" in text
    out = io.StringIO()
    print_summary(engine, sid, file=out, include_uncertain=True)
    text = out.getvalue()
    assert f"20 faces, {uncertain} uncertain (counted in the shares" in text
    assert "dominant emotion: neutral (50.0% of faces)" in text


def test_track_smoothing_and_the_tracks_emotions_count_certain_faces_only(database_url):
    engine = db.connect(database_url)
    sid = write_flagged_source(database_url)

    faces = faces_table(engine, sid)
    left, right = faces[faces["x"] == LEFT_X], faces[faces["x"] != LEFT_X]
    assert left["track_id"].nunique() == 1 and right["track_id"].nunique() == 1
    # the left person's uncertain "sad" faces take the smoothed label of their track's certain faces
    assert left["emotion"].tolist() == ["happy"] * 4 + ["sad"] * 6
    assert left["smoothed_emotion"].tolist() == ["happy"] * 10
    # a track whose faces are all uncertain has no smoothed label
    assert right["smoothed_emotion"].isna().all() and right["smooth_neutral"].isna().all()

    everything = faces_table(engine, sid, include_uncertain=True)
    assert everything[everything["x"] == LEFT_X]["smoothed_emotion"].tolist()[-1] == "sad"
    assert (everything[everything["x"] != LEFT_X]["smoothed_emotion"] == "neutral").all()

    people = tracks_table(engine, sid)
    by_track = people.set_index("track_id")
    left_id, right_id = int(left["track_id"].iloc[0]), int(right["track_id"].iloc[0])
    assert by_track.loc[left_id, "dominant_emotion"] == "happy" and by_track.loc[left_id, "share_happy"] == 1.0
    assert by_track.loc[left_id, ["faces", "uncertain_faces"]].tolist() == [10, 6]
    assert by_track.loc[left_id, "mean_sad"] == pytest.approx(0.05)  # the uncertain sad faces are not averaged in
    assert pd.isna(by_track.loc[right_id, "dominant_emotion"]) and np.isnan(by_track.loc[right_id, "share_neutral"])
    assert by_track.loc[right_id, "mean_quality"] == pytest.approx(0.1)

    everything = tracks_table(engine, sid, include_uncertain=True).set_index("track_id")
    assert everything.loc[left_id, "dominant_emotion"] == "sad" and everything.loc[left_id, "share_sad"] == 0.6
    assert everything.loc[right_id, "dominant_emotion"] == "neutral"


def test_export_carries_quality_and_uncertain_in_every_format(tmp_path, capsys):
    from ferstream.cli import main

    url = f"sqlite:///{tmp_path / 'flagged.db'}"
    write_flagged_source(url)
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"faces.{fmt}"
        args = ("export", "--source", "flagged", "--format", fmt, "-o", str(out), "--database", url)
        if fmt == "csv":
            ferstream(*args)  # the command as a user runs it, once
        else:
            assert main(list(args)) == 0
        df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert list(df.columns) == EXPORT_COLUMNS
        assert df["uncertain"].tolist() == [False, True] * FLAGGED_CERTAIN + [True, True] * (FLAGGED_FRAMES - FLAGGED_CERTAIN)
        assert np.isnan(df["quality"].iloc[0])  # not measured: an empty cell, not 0
        assert df["quality"].iloc[1:].round(3).tolist() == [0.1] + [0.8, 0.1] * 3 + [0.2, 0.1] * 6
        assert df["smoothed_emotion"].isna().sum() == FLAGGED_FRAMES  # the right person: all uncertain
    tracks = tmp_path / "tracks.csv"
    assert main(["export", "--source", "flagged", "--per-track", "-o", str(tracks), "--database", url]) == 0
    assert pd.read_csv(tracks)["uncertain_faces"].tolist() == [6, 10]
    capsys.readouterr()
    assert main(["export", "--source", "flagged", "-o", "-", "--include-uncertain", "--database", url]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["smoothed_emotion"].isna().sum() == 0


def test_the_python_api_summary_leaves_uncertain_faces_out_unless_asked(tmp_path):
    import ferstream

    url = f"sqlite:///{tmp_path / 'flagged.db'}"
    faces = faces_table(db.connect(url), write_flagged_source(url))
    summary = ferstream.summarize(faces).set_index("emotion")
    assert summary.loc["happy", "faces"] == summary["faces"].sum() == FLAGGED_CERTAIN
    assert summary["uncertain"].sum() == 16
    everything = ferstream.summarize(faces, include_uncertain=True)
    pd.testing.assert_frame_equal(everything, emotion_summary(db.connect(url), 1, include_uncertain=True))
    assert ferstream.summarize(faces.drop(columns=["uncertain"]))["faces"].sum() == 20  # no flags: every face counts
    with pytest.raises(TypeError, match="DataFrame of faces"):
        ferstream.summarize([1, 2, 3])


@pytest.mark.parametrize("command", [["analyze", "a.mp4"], ["demo"], ["watch", "0"], ["export", "--source", "1"]])
def test_every_command_that_prints_or_exports_emotions_has_the_switch(command):
    from ferstream.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(command).include_uncertain is False
    assert parser.parse_args([*command, "--include-uncertain"]).include_uncertain is True
