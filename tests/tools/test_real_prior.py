"""tools/levers/real_prior.py: the class prior chosen on the real set's tune part within a bound on FER+ PublicTest."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

from ferstream.emotion_model import EMOTIONS
from tests.training.conftest import make_faces


def test_a_shift_multiplies_the_class_odds_and_the_choice_keeps_ferplus_within_bounds():
    import real_prior

    probs = np.full((2, 7), 1 / 7)
    out = real_prior.shifted(probs, "neutral", np.log(3))
    assert np.isclose(out[0, EMOTIONS.index("neutral")] / out[0, 0], 3)
    np.testing.assert_allclose(out.sum(axis=1), 1)
    rows = [dict(shift=0.0, tune=0.90, ferplus=0.80), dict(shift=0.3, tune=0.95, ferplus=0.70),
            dict(shift=0.2, tune=0.93, ferplus=0.799), dict(shift=-0.4, tune=0.93, ferplus=0.81)]
    assert real_prior.choose(rows, 0.005)["shift"] == 0.2  # equal tune scores: the smaller shift; 0.3 drops FER+
    assert real_prior.choose(rows, 0.0005)["shift"] == -0.4  # 0.2 now drops FER+ too much
    recalls = [0.70, 0.50, 0.60, 0.68]  # the shifted emotion's FER+ recall: 0.2 costs it 10 points, -0.4 two
    rows = [dict(r, recall=c) for r, c in zip(rows, recalls)]
    assert real_prior.choose(rows, 0.005, max_recall_drop=0.05)["shift"] == -0.4
    assert real_prior.choose(rows, 0.005, max_recall_drop=0.01)["shift"] == 0.0  # nothing else keeps the recall
    # one recall per emotion: a shift that keeps its own emotion's recall but costs another's is out too
    per_class = [[0.70, 0.60], [0.72, 0.60], [0.75, 0.50], [0.70, 0.59]]  # 0.2 raises the first, lowers the second
    rows = [dict(r, recall=c) for r, c in zip(rows, per_class)]
    assert real_prior.choose(rows, 0.005, max_recall_drop=0.05)["shift"] == -0.4
    assert real_prior.choose(rows, 0.005, max_recall_drop=0.2)["shift"] == 0.2


def test_the_lever_runs_on_a_tune_set_and_a_ferplus_file(tune_set, tmp_path, capsys):
    import real_prior

    from tests.training.test_votes import ferplus_frame

    ferplus = tmp_path / "ferplus.csv"
    ferplus_frame({"Training": make_faces(2, 0), "PublicTest": make_faces(2, 1)}).to_csv(ferplus, index=False)
    args = tune_set[:4]  # --labels, --realset
    assert real_prior.main([*args, "--model", "ferstream/models/ferstream-emotion.tflite", "--ferplus", str(ferplus),
                            "--grid", "-0.2", "0.2", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "tune faces right (20)" in printed and "| +0.20 |" in printed and "chosen: neutral=" in printed
    assert "FER+ neutral recall" in printed


def test_the_lever_frames_faces_as_the_model_reads_them(tune_set, tmp_path):
    """A model of aligned crops is scored on aligned real faces and aligned FER+ faces, as the worker and
    ``ferstream evaluate`` would show it them; a model of box crops on box crops and FER's own crops (the shared
    helpers the lever, ``bench/real_emotions.py`` and ``bench/accuracy.py`` frame faces with)."""
    from finetune_real import split_faces

    from bench.face_crops import ferstream_crops, model_crops
    from ferstream.training.align_faces import framed_faces
    from ferstream.emotion_model import EmotionModel
    from tests.training.test_align_faces import aligned_copy

    args = type("Args", (), {"labels": Path(tune_set[1]), "realset": Path(tune_set[3]), "media": tmp_path})
    frames, faces = split_faces(args, "tune")
    (tmp_path / "box").mkdir(), (tmp_path / "aligned").mkdir()
    box_model = EmotionModel(aligned_copy(tmp_path / "box", crop="box"))
    aligned_model = EmotionModel(aligned_copy(tmp_path / "aligned", zoom=1.2))
    boxed = ferstream_crops(frames, faces)
    np.testing.assert_array_equal(model_crops(frames, faces, box_model.metadata), boxed)
    assert not np.array_equal(model_crops(frames, faces, aligned_model.metadata)[0], boxed[0])
    face = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[30:230, 130:330], (48, 48))[None]
    np.testing.assert_array_equal(framed_faces(face, box_model.metadata), face)
    assert not np.array_equal(framed_faces(face, aligned_model.metadata), face)
