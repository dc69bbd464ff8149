"""The "flip-unsure" export: the mirror view runs only for the least sure face in every 8 of a model call."""

from __future__ import annotations

import numpy as np
import pytest

from ferstream.emotion_model import MAX_BATCH, EmotionModel, ModelMetadata


@pytest.fixture(scope="module")
def network():
    import keras

    from ferstream.training.model import build_model

    keras.utils.set_random_seed(3)
    model = build_model(widths=(8, 16), depths=(1, 1))
    # an untrained network answers almost alike for every face: spread its output so the faces differ in sureness
    kernel, bias = model.get_layer("probabilities").get_weights()
    model.get_layer("probabilities").set_weights([kernel * 10, bias])
    return model


@pytest.fixture(scope="module")
def faces():
    """Real photo crops: 48x48 grey patches of the astronaut picture skimage ships, at several places and scales."""
    import cv2
    from skimage import data

    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(20):
        size = int(rng.integers(60, 300))
        y, x = rng.integers(0, grey.shape[0] - size, 2)
        crops.append(cv2.resize(grey[y:y + size, x:x + size], (48, 48), interpolation=cv2.INTER_AREA))
    return np.stack(crops)[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def exports(network, tmp_path_factory):
    from ferstream.training.export import export_model

    out = tmp_path_factory.mktemp("unsure")
    return {tta: EmotionModel(export_model(network, out / tta, tta=tta, quantize="none")["tflite"])
            for tta in ("none", "flip", "flip-unsure")}


def test_the_least_sure_face_of_8_gets_the_mirror_view_and_the_others_one_view(exports, faces):
    batch = faces[:MAX_BATCH]
    one, both = exports["none"].predict(batch), exports["flip"].predict(batch)
    got = exports["flip-unsure"].predict(batch)
    least_sure = int(one.max(axis=1).argmin())
    assert not np.allclose(one[least_sure], both[least_sure], atol=1e-4)  # the mirror view changes that face's answer
    np.testing.assert_allclose(got[least_sure], both[least_sure], atol=1e-5)
    others = np.arange(len(batch)) != least_sure
    np.testing.assert_allclose(got[others], one[others], atol=1e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)


def test_one_mirror_view_per_8_faces_whatever_the_batch(exports, faces):
    plain = exports["none"].predict(faces[:1])
    np.testing.assert_allclose(exports["flip-unsure"].predict(faces[:1]), exports["flip"].predict(faces[:1]), atol=1e-5)
    assert not np.allclose(plain, exports["flip"].predict(faces[:1]), atol=1e-4)  # a lone face gets both views
    model = exports["flip-unsure"]
    model.max_batch = 20  # one call of 20 faces: ceil(20 / 8) = 3 mirror views
    one = exports["none"].predict(faces)
    changed = ~np.isclose(model.predict(faces), one, atol=1e-6).all(axis=1)
    assert changed.sum() == 3
    assert set(np.flatnonzero(changed)) == set(np.argsort(one.max(axis=1))[:3])  # the three least sure faces


def test_the_views_are_named_in_the_models_metadata_and_kept_by_int8_weights(network, faces, tmp_path):
    from ferstream.training.cli import TTA_CHOICES
    from ferstream.training.export import TTA_VIEWS, export_model

    assert set(TTA_CHOICES) == set(TTA_VIEWS)  # the command line offers every view set the export knows

    paths = export_model(network, tmp_path / "q", tta="flip-unsure")  # the default: int8 dynamic-range weights
    assert "flip TTA for the least sure face in 8" in ModelMetadata.read(paths["json"]).architecture
    probs = EmotionModel(paths["tflite"]).predict(faces)
    assert probs.shape == (len(faces), 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_ferstream_ensemble_exports_the_views_from_the_command_line(network, faces, tiny_csv, tmp_path):
    import subprocess
    import sys

    member = tmp_path / "member.keras"
    network.save(member)
    done = subprocess.run([sys.executable, "-m", "ferstream.cli", "ensemble", "--models", str(member), "--data", str(tiny_csv),
                           "--tta", "flip-unsure", "--quantize", "none", "--bn-stats", "as-trained",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    model = EmotionModel(tmp_path / "out" / "ferstream-emotion.tflite")
    assert "least sure face in 8" in model.metadata.architecture
    one = network(faces[:MAX_BATCH]).numpy()
    changed = ~np.isclose(model.predict(faces[:MAX_BATCH]), one, atol=1e-5).all(axis=1)
    assert np.flatnonzero(changed).tolist() == [int(one.max(axis=1).argmin())]
