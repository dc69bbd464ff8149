"""The training job end to end on tiny data: train, export, load as the worker does, evaluate, resume."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from ferstream.emotion_model import EMOTIONS, EmotionModel, ModelMetadata, model_paths
from ferstream.errors import DataError
from ferstream.training.cli import add_train_arguments
from tests.training.conftest import make_faces, write_csv


def train_args(*argv: str) -> argparse.Namespace:
    args = add_train_arguments(argparse.ArgumentParser()).parse_args(list(argv))
    args.argv = ["train", *argv]
    return args


def history(out) -> list[dict]:
    with open(out / "history.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tiny_csv, tmp_path_factory):
    from ferstream.training.train import run

    out = tmp_path_factory.mktemp("run")
    meta = run(train_args("--data", str(tiny_csv), "--out", str(out), "--epochs", "2", "--batch-size", "16",
                          "--widths", "8,16", "--depths", "1,1"))
    return out, meta


def test_training_writes_the_model_contract(trained):
    out, meta = trained
    paths = model_paths(out / "ferstream-emotion")
    assert all(p.exists() for p in paths.values())
    written = json.loads(paths["json"].read_text())
    assert written["labels"] == list(EMOTIONS)
    assert written["input_shape"] == [48, 48, 1]
    assert written["epochs"] == 2
    assert set(written["accuracy"]) == {"PublicTest", "PrivateTest"}  # PrivateTest reported when present
    assert len(written["data_sha256"]) == 64 and written["version"]
    assert written["training_command"].startswith("ferstream train --data ")
    assert (out / "confusion_PublicTest.png").stat().st_size > 1000
    assert len(history(out)) == 2


def test_exported_model_loads_through_the_worker_code_and_predicts(trained):
    out, _ = trained
    model = EmotionModel(out / "ferstream-emotion.tflite")
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48)).astype(np.float32)
    probs = model.predict(faces)
    assert probs.shape == (5, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert model.predict(faces[:0]).shape == (0, 7)


def test_tflite_export_matches_the_keras_model(trained, tmp_path):
    import keras

    from ferstream.training.export import export_model

    out, _ = trained
    keras_model = keras.saving.load_model(out / "ferstream-emotion.keras")
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    expected = (keras_model(faces).numpy() + keras_model(faces[:, :, ::-1]).numpy()) / 2  # flip TTA
    exact = export_model(keras_model, tmp_path / "float", quantize="none")
    np.testing.assert_allclose(EmotionModel(exact["tflite"]).predict(faces), expected, atol=1e-4)
    quantized = EmotionModel(out / "ferstream-emotion.tflite").predict(faces)  # the default: int8 weights, close
    np.testing.assert_allclose(quantized, expected, atol=0.05)
    calibration = np.random.default_rng(2).integers(0, 256, (64, 48, 48)).astype(np.uint8)
    int8 = export_model(keras_model, tmp_path / "int8", quantize="int8", calibration=calibration)
    probs = EmotionModel(int8["tflite"]).predict(faces)  # int8 activations too: coarser
    np.testing.assert_allclose(probs, expected, atol=0.1)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)
    assert "int8 weights and activations" in ModelMetadata.read(int8["json"]).architecture
    assert (out / "ferstream-emotion.tflite").stat().st_size < exact["tflite"].stat().st_size


def test_flip_zoom_tta_averages_four_views_of_each_face(trained, tmp_path):
    import keras
    import tensorflow as tf

    from ferstream.training.export import ZOOM_MARGIN, export_model

    out, _ = trained
    keras_model = keras.saving.load_model(out / "ferstream-emotion.keras")
    faces = np.random.default_rng(4).integers(0, 256, (3, 48, 48, 1)).astype(np.float32)
    m = ZOOM_MARGIN
    zoom = tf.image.resize(faces[:, m:48 - m, m:48 - m], (48, 48)).numpy()
    views = [faces, faces[:, :, ::-1], zoom, zoom[:, :, ::-1]]
    expected = np.mean([keras_model(v).numpy() for v in views], axis=0)
    paths = export_model(keras_model, tmp_path / "fz", tta="flip-zoom", quantize="none")
    model = EmotionModel(paths["tflite"])
    np.testing.assert_allclose(model.predict(faces), expected, atol=1e-4)
    np.testing.assert_allclose(model.predict(faces[:1]), expected[:1], atol=1e-4)  # batch sizes change at run time
    assert "flip/zoom TTA" in ModelMetadata.read(paths["json"]).architecture
    plain = export_model(keras_model, tmp_path / "plain", tta="none", quantize="none")
    np.testing.assert_allclose(EmotionModel(plain["tflite"]).predict(faces), keras_model(faces).numpy(), atol=1e-4)


def test_bad_export_options_are_refused(trained):
    import keras

    from ferstream.training.export import to_tflite

    out, _ = trained
    with pytest.raises(ValueError, match="calibration"):
        to_tflite(keras.saving.load_model(out / "ferstream-emotion.keras"), quantize="int8")
    with pytest.raises(ValueError, match="quantize must be one of"):
        to_tflite(keras.saving.load_model(out / "ferstream-emotion.keras"), quantize="int4")
    with pytest.raises(ValueError, match="tta must be one of"):
        to_tflite(keras.saving.load_model(out / "ferstream-emotion.keras"), tta="crop10")


def test_evaluate_command_prints_scores_and_writes_the_confusion_matrix(trained, tiny_folder, tmp_path):
    out, _ = trained
    result = subprocess.run([sys.executable, "-m", "ferstream.cli", "evaluate", "--model", str(out / "ferstream-emotion"),
                             "--data", str(tiny_folder), "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "PublicTest: accuracy" in result.stdout
    for label in EMOTIONS:
        assert label in result.stdout
    assert (tmp_path / "confusion_PublicTest.png").exists()


def test_training_on_the_image_folder_layout(tiny_folder, tmp_path):
    from ferstream.training.train import run

    meta = run(train_args("--data", str(tiny_folder), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "16",
                          "--widths", "8", "--depths", "1", "--no-flip-tta"))
    assert set(meta["accuracy"]) == {"PublicTest"}
    assert EmotionModel(tmp_path / "ferstream-emotion.tflite").predict(np.zeros((2, 48, 48))).shape == (2, 7)


@pytest.mark.long  # 10-20 s: `make test-long`
def test_resume_continues_from_the_checkpoint(tiny_csv, tmp_path):
    from ferstream.training.train import run

    common = ("--data", str(tiny_csv), "--out", str(tmp_path), "--batch-size", "16", "--widths", "8", "--depths", "1")
    run(train_args(*common, "--epochs", "1"))
    assert [r["epoch"] for r in history(tmp_path)] == ["0"]
    with pytest.raises(DataError, match="pass --resume"):
        run(train_args(*common, "--epochs", "3"))  # never silently overwrites a run
    run(train_args(*common, "--epochs", "3", "--resume"))
    assert [r["epoch"] for r in history(tmp_path)] == ["0", "1", "2"]  # continued at epoch 1, not from 0
    meta = run(train_args(*common, "--epochs", "3", "--resume", "--tta", "flip-zoom"))  # a finished run: export again
    assert [r["epoch"] for r in history(tmp_path)] == ["0", "1", "2"]  # no epoch trained
    assert "flip/zoom TTA" in meta["architecture"] and meta["epochs"] == 3


def test_bad_data_fails_before_training(tmp_path):
    from ferstream.training.train import run

    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n9," + " ".join(["1"] * 2304) + ",Training\n")
    with pytest.raises(DataError, match="outside 0-6"):
        run(train_args("--data", str(bad), "--out", str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_cli_reports_bad_data_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ferstream.training", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "missing.csv: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.long  # 10-20 s: `make test-long`
def test_init_starts_from_another_models_weights(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.errors import ModelError
    from ferstream.training.train import run

    out, _ = trained
    donor = keras.saving.load_model(out / "ferstream-emotion.keras")
    args = ("--data", str(tiny_csv), "--out", str(tmp_path / "ft"), "--batch-size", "16", "--widths", "8,16",
            "--depths", "1,1", "--learning-rate", "1e-9")
    run(train_args(*args, "--epochs", "1", "--init", str(out / "ferstream-emotion.keras")))
    tuned = keras.saving.load_model(tmp_path / "ft" / "ferstream-emotion.keras")
    for a, b in zip(donor.trainable_weights, tuned.trainable_weights):  # a near-zero learning rate keeps them
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-3)
    with pytest.raises(ModelError, match="architecture"):
        run(train_args("--data", str(tiny_csv), "--out", str(tmp_path / "bad"), "--epochs", "1", "--widths", "8",
                       "--depths", "1", "--init", str(out / "ferstream-emotion.keras")))


def test_an_ensemble_of_trained_models_keeps_the_contract_and_averages_them(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.training.ensemble import run

    out, _ = trained
    member = out / "ferstream-emotion.keras"
    args = argparse.Namespace(models=[str(member), str(member)], data=str(tiny_csv), out=str(tmp_path), name="ens",
                              version="test", quantize="none", tta="none", bn_stats="as-trained",
                              argv=["ensemble", "--models", "..."])
    meta = run(args)
    assert set(meta["accuracy"]) == {"PublicTest", "PrivateTest"}
    assert meta["training_command"].startswith("ferstream ensemble")
    faces = np.random.default_rng(3).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    single = keras.saving.load_model(member)(faces).numpy()
    np.testing.assert_allclose(EmotionModel(tmp_path / "ens.tflite").predict(faces), single, atol=1e-4)  # mean of equals
    reloaded = keras.saving.load_model(tmp_path / "ens.keras", compile=False)
    np.testing.assert_allclose(reloaded(faces).numpy(), single, atol=1e-5)


@pytest.mark.long  # 10-20 s: `make test-long`
def test_averaging_weights_exports_one_network_with_the_members_mean_weights(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.errors import ModelError
    from ferstream.training.ensemble import run

    out, _ = trained
    member = out / "ferstream-emotion.keras"
    first = keras.saving.load_model(member, compile=False)
    other = keras.saving.load_model(member, compile=False)  # a sibling: the same network, its weights moved
    rng = np.random.default_rng(5)
    other.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.ndim > 1 else w for w in other.get_weights()])
    other.save(tmp_path / "sibling.keras")
    args = argparse.Namespace(models=[str(member), str(tmp_path / "sibling.keras")], combine="weights",
                              data=str(tiny_csv), out=str(tmp_path / "soup"), name="soup", version="test",
                              quantize="none", tta="none", bn_stats="as-trained", argv=["ensemble", "--combine", "weights"])
    meta = run(args)
    assert "PublicTest" in meta["accuracy"] and meta["epochs"] > 0
    soup = keras.saving.load_model(tmp_path / "soup" / "soup.keras", compile=False)
    assert soup.count_params() == first.count_params()  # one network, not two
    for a, b, c in zip(first.get_weights(), other.get_weights(), soup.get_weights()):
        np.testing.assert_allclose(c, (a + b) / 2, atol=1e-6)
    faces = np.random.default_rng(6).integers(0, 256, (3, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(EmotionModel(tmp_path / "soup" / "soup.tflite").predict(faces), soup(faces).numpy(), atol=1e-4)

    greedy = run(argparse.Namespace(**{**vars(args), "greedy": True, "out": str(tmp_path / "greedy")}))
    assert greedy["accuracy"]["PublicTest"] >= meta["accuracy"]["PublicTest"]  # the plain soup was one of its choices
    with pytest.raises(ModelError, match="two or more"):
        run(argparse.Namespace(**{**vars(args), "models": [str(member)]}))
    wider = tmp_path / "wider"
    from ferstream.training.train import run as train

    train(train_args("--data", str(tiny_csv), "--out", str(wider), "--epochs", "1", "--batch-size", "16",
                     "--widths", "8,24", "--depths", "1,1"))
    with pytest.raises(ModelError, match="one architecture"):
        run(argparse.Namespace(**{**vars(args), "models": [str(member), str(wider / "ferstream-emotion.keras")]}))


def test_class_prior_refuses_a_network_without_the_output_layer_it_shifts():
    import keras

    from ferstream.errors import ModelError
    from ferstream.training.prior import shift_to_data_prior

    face = keras.Input((48, 48, 1))
    other = keras.Model(face, keras.layers.Dense(len(EMOTIONS), name="logits")(keras.layers.Flatten()(face)))
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(ModelError, match="no 'probabilities' layer"):
        shift_to_data_prior(other, np.ones(len(EMOTIONS)))
    for w, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(w, b)  # nothing changed


@pytest.mark.long  # 10-20 s: `make test-long`
def test_class_weights_none_trains_every_face_alike_and_refuses_a_prior_to_undo(tmp_path):
    from ferstream.errors import ConfigError
    from ferstream.training.train import run

    faces, labels = make_faces(10, 0)
    keep = np.arange(len(labels)) % 10 < 3 + labels  # classes of 3 to 9 faces: the weights matter
    skewed = tmp_path / "skewed.csv.gz"
    write_csv(skewed, {"Training": (faces[keep], labels[keep]), "PublicTest": make_faces(2, 1)})
    common = ("--data", str(skewed), "--epochs", "1", "--batch-size", "8", "--widths", "8,16", "--depths", "1,1",
              "--tta", "none", "--quantize", "none", "--seed", "4")
    run(train_args(*common, "--out", str(tmp_path / "sqrt")))
    run(train_args(*common, "--out", str(tmp_path / "none"), "--class-weights", "none"))
    loss = {name: float(history(tmp_path / name)[0]["loss"]) for name in ("sqrt", "none")}
    assert loss["sqrt"] != pytest.approx(loss["none"], rel=1e-3)  # the same faces and seed, weighted otherwise
    with pytest.raises(ConfigError, match="none to undo"):
        run(train_args(*common, "--out", str(tmp_path / "bad"), "--class-weights", "none", "--class-prior", "data"))


def test_a_greedy_soup_keeps_the_members_that_do_not_lower_its_accuracy(trained, tiny_csv):
    import keras

    from ferstream.errors import ModelError
    from ferstream.training.ensemble import greedy_soup, run

    faces, labels = make_faces(3, 0)  # class c: bright columns 6c..6c+5

    def linear(kernel: np.ndarray) -> keras.Model:
        face = keras.Input((48, 48, 1))
        out = keras.layers.Dense(len(EMOTIONS), activation="softmax", name="probabilities")(keras.layers.Flatten()(face))
        model = keras.Model(face, out)
        model.get_layer("probabilities").set_weights([kernel.astype(np.float32), np.zeros(len(EMOTIONS), np.float32)])
        return model

    right = np.zeros((48, 48, len(EMOTIONS)))
    for c in range(len(EMOTIONS)):
        right[:, c * 6:(c + 1) * 6, c] = 1e-3  # each output sums its class's columns: every face right
    right = right.reshape(-1, len(EMOTIONS))
    wrong = 3 * np.roll(right, 1, axis=1)  # sees class c, answers c + 1, louder: it spoils any average it joins
    members = [linear(right), linear(wrong), linear(2 * right)]
    assert greedy_soup(members, faces, labels) == [0, 2]  # the two right ones (tied, first listed first); never `wrong`

    out, _ = trained
    member = str(out / "ferstream-emotion.keras")
    args = argparse.Namespace(models=[member, member], combine="probabilities", greedy=True, data=str(tiny_csv),
                              out="unused", name="x", version="test", quantize="none", tta="none", bn_stats="as-trained")
    with pytest.raises(ModelError, match="--greedy"):
        run(args)


def test_an_ensemble_refuses_a_missing_model(trained, tiny_csv, tmp_path):
    from ferstream.errors import ModelError
    from ferstream.training.ensemble import build_ensemble, load_member, run

    out, _ = trained
    args = argparse.Namespace(models=[str(out / "ferstream-emotion.keras"), str(tmp_path / "nope.keras")],
                              data=str(tiny_csv), out=str(tmp_path), name="ens", version=None, quantize="none",
                              tta="none", bn_stats="plain")
    with pytest.raises(ModelError, match="nope"):
        run(args)
    with pytest.raises(ModelError, match="at least two"):
        build_ensemble([load_member(out / "ferstream-emotion.keras", 0)])


def test_one_model_is_exported_again_with_the_views_asked_for(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.training.ensemble import run

    out, _ = trained
    member = out / "ferstream-emotion.keras"
    args = argparse.Namespace(models=[str(member)], data=str(tiny_csv), out=str(tmp_path), name="flip",
                              version="test", quantize="none", tta="flip", bn_stats="as-trained",
                              argv=["ensemble", "--models", str(member)])
    meta = run(args)
    assert "flip TTA" in meta["architecture"] and "PublicTest" in meta["accuracy"]
    assert meta["epochs"] == json.loads((out / "ferstream-emotion.json").read_text())["epochs"] > 0
    faces = np.random.default_rng(4).integers(0, 256, (3, 48, 48, 1)).astype(np.float32)
    single = keras.saving.load_model(member)
    expected = (single(faces).numpy() + single(faces[:, :, ::-1]).numpy()) / 2  # the face and its mirror image
    np.testing.assert_allclose(EmotionModel(tmp_path / "flip.tflite").predict(faces), expected, atol=1e-4)


@pytest.mark.long  # 10-20 s: `make test-long`
def test_class_prior_data_undoes_the_class_weights_in_the_output_bias(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.training.data import load_dataset
    from ferstream.training.ensemble import run

    out, _ = trained
    member = out / "ferstream-emotion.keras"
    faces, labels = make_faces(10, 0)
    keep = np.arange(len(labels)) % 10 < 3 + labels  # 3 angry faces ... 9 neutral: classes of unequal counts
    skewed = tmp_path / "skewed.csv.gz"
    write_csv(skewed, {"Training": (faces[keep], labels[keep]), "PublicTest": make_faces(3, 1)})
    args = argparse.Namespace(models=[str(member)], data=str(skewed), out=str(tmp_path), name="prior",
                              version="test", quantize="none", tta="none", bn_stats="as-trained", class_prior="data",
                              argv=["ensemble", "--class-prior", "data"])
    run(args)
    counts = np.bincount(load_dataset(skewed).splits["Training"].labels, minlength=len(EMOTIONS))
    assert counts.tolist() == [3, 4, 5, 6, 7, 8, 9]
    faces = np.random.default_rng(8).integers(0, 256, (5, 48, 48, 1)).astype(np.float32)
    trained_probs = keras.saving.load_model(member)(faces).numpy()
    # Bayes' rule with training's 1/sqrt(count) weights divided out: p(c) * sqrt(count c), renormalised
    expected = trained_probs * np.sqrt(counts)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(EmotionModel(tmp_path / "prior.tflite").predict(faces), expected, atol=1e-4)
    shipped = keras.saving.load_model(tmp_path / "prior.keras", compile=False)
    np.testing.assert_allclose(shipped(faces).numpy(), expected, atol=1e-5)  # the shift is in the saved weights

    from ferstream.training.train import run as train  # the training job's own export shifts the same way
    run_out = tmp_path / "trained"
    train(train_args("--data", str(skewed), "--out", str(run_out), "--epochs", "1", "--batch-size", "16",
                     "--widths", "8,16", "--depths", "1,1", "--bn-stats", "as-trained", "--class-prior", "data", "--quantize", "none", "--tta", "none"))
    best = keras.saving.load_model(run_out / "best.keras")(faces).numpy() * np.sqrt(counts)
    np.testing.assert_allclose(EmotionModel(run_out / "ferstream-emotion.tflite").predict(faces),
                               best / best.sum(axis=1, keepdims=True), atol=1e-4)


@pytest.mark.long  # 10-20 s: `make test-long`
def test_distillation_learns_from_the_teachers_probabilities_and_starts_from_its_layers(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.errors import ConfigError, ModelError
    from ferstream.training.distill import distilled_targets
    from ferstream.training.train import run

    teacher, _ = trained
    out = tmp_path / "student"
    args = ("--data", str(tiny_csv), "--out", str(out), "--batch-size", "16", "--widths", "8,16", "--depths", "1,1",
            "--teacher", str(teacher / "ferstream-emotion.tflite"), "--init-layers", str(teacher / "ferstream-emotion.keras"),
            "--learning-rate", "1e-9")
    meta = run(train_args(*args, "--epochs", "1"))
    assert meta["accuracy"]["PublicTest"] >= 0
    cached = list(out.glob("teacher-*.npy"))  # the teacher's probabilities, kept beside the run
    assert len(cached) == 1
    probs = np.load(cached[0])
    assert probs.shape == (70, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    expected = EmotionModel(teacher / "ferstream-emotion.tflite").predict(
        np.asarray(__import__("ferstream.training.data", fromlist=["load_dataset"]).load_dataset(tiny_csv).splits["Training"].faces[:5],
                   dtype=np.float32))
    np.testing.assert_allclose(probs[:5], expected, atol=1e-5)
    donor = keras.saving.load_model(teacher / "ferstream-emotion.keras")
    student = keras.saving.load_model(out / "ferstream-emotion.keras")
    for a, b in zip(donor.trainable_weights, student.trainable_weights):  # same names and shapes: copied, then kept
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-3)
    mtime = cached[0].stat().st_mtime
    run(train_args(*args, "--epochs", "2", "--resume"))  # a resumed run reads the cached probabilities back
    assert cached[0].stat().st_mtime == mtime and len(history(out)) == 2

    targets = distilled_targets(np.array([0, 3]), np.full((2, 7), 1 / 7, np.float32), 0.7)
    np.testing.assert_allclose(targets.sum(axis=1), 1, atol=1e-6)
    assert targets[1, 3] == pytest.approx(0.3 + 0.1)
    with pytest.raises(ConfigError, match="distill-weight"):
        run(train_args(*args, "--epochs", "1", "--distill-weight", "1.5"))
    with pytest.raises(ModelError, match="no exported model"):
        run(train_args("--data", str(tiny_csv), "--out", str(tmp_path / "t2"), "--epochs", "1",
                       "--teacher", str(tmp_path / "missing.tflite")))
    with pytest.raises(ModelError, match="no layer"):
        run(train_args("--data", str(tiny_csv), "--out", str(tmp_path / "t3"), "--epochs", "1", "--widths", "4",
                       "--depths", "1", "--init-layers", str(teacher / "ferstream-emotion.keras")))


@pytest.mark.long  # 10-20 s: `make test-long`
def test_online_distillation_runs_the_frozen_teacher_on_the_students_faces(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.errors import ConfigError, ModelError
    from ferstream.training import ensemble
    from ferstream.training.distill import teacher_network
    from ferstream.training.model import build_model, build_trainer
    from ferstream.training.train import run

    teacher, _ = trained
    network = teacher_network(teacher / "ferstream-emotion.tflite", "flip")  # the .keras beside it runs
    student = build_model(widths=(8,), depths=(1,))
    trainer = build_trainer(student, keras.Sequential([keras.layers.Identity()]), network)
    faces = np.random.default_rng(5).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    both = np.asarray(trainer(faces, training=True))
    assert both.shape == (4, 14)
    # the teacher answers in inference mode (no dropout, BN statistics frozen) while the student trains
    np.testing.assert_allclose(both[:, 7:], np.asarray(network(faces, training=False)), atol=1e-5)
    assert len(trainer.trainable_weights) == len(student.trainable_weights)

    out = tmp_path / "online"
    args = ("--data", str(tiny_csv), "--out", str(out), "--batch-size", "16", "--widths", "8", "--depths", "1",
            "--teacher", str(teacher / "ferstream-emotion.tflite"), "--distill", "online", "--teacher-tta", "flip")
    meta = run(train_args(*args, "--epochs", "2"))
    assert meta["accuracy"]["PublicTest"] >= 0 and len(history(out)) == 2
    assert not list(out.glob("teacher-*.npy"))  # nothing stored: the teacher ran in the steps
    assert keras.saving.load_model(out / "best.keras").name == "vgg8x1"  # the student alone, not the trainer
    # a best checkpoint trained elsewhere (another Keras backend) is exported here; its epochs come from the run's history
    again = ensemble.run(argparse.Namespace(models=[str(out / "best.keras")], data=str(tiny_csv), out=str(tmp_path / "x"),
                                            name="student", version="test", quantize="dynamic", tta="none",
                                            bn_stats="plain", argv=["ensemble"]))
    assert again["epochs"] == 2 and "PublicTest" in again["accuracy"]

    (tmp_path / "lone.tflite").write_bytes((teacher / "ferstream-emotion.tflite").read_bytes())
    with pytest.raises(ConfigError, match="name it with --teacher"):
        run(train_args("--data", str(tiny_csv), "--out", str(tmp_path / "t5"), "--epochs", "1", "--distill", "online"))
    with pytest.raises(ModelError, match="online distillation runs the teacher's .keras"):
        run(train_args("--data", str(tiny_csv), "--out", str(tmp_path / "t4"), "--epochs", "1", "--distill", "online",
                       "--teacher", str(tmp_path / "lone.tflite")))
@pytest.mark.long
def test_a_time_budget_runs_the_schedule_on_the_clock_and_stops_in_time(tiny_csv, tmp_path):
    import time

    from ferstream.training.train import ClockSchedule, run

    common = ("--data", str(tiny_csv), "--out", str(tmp_path), "--batch-size", "16", "--widths", "8", "--depths", "1",
              "--epochs", "500", "--patience", "500")
    start = time.time()
    run(train_args(*common, "--time-budget", "12s"))  # 12 s: two epochs or more, also on a busy machine
    rows = history(tmp_path)
    assert 2 <= len(rows) < 500 and time.time() - start < 60  # stopped by the clock, not by --epochs
    elapsed = [float(r["elapsed_s"]) for r in rows]
    rates = [float(r["learning_rate"]) for r in rows]
    assert elapsed == sorted(elapsed) and elapsed[-1] <= 12 + 0.5
    assert max(rates) > rates[-1] and rates[-1] < 0.5 * 2e-3  # warmed up, then decayed towards the end of the budget
    run(train_args(*common, "--time-budget", "12s", "--resume"))  # the clock continues: little or nothing is left
    assert len(history(tmp_path)) <= len(rows) + 1

    schedule = ClockSchedule(1.0, 100)
    assert schedule.rate(0) == pytest.approx(0.1) and schedule.rate(0.05) == pytest.approx(1.0)
    assert schedule.rate(1) == pytest.approx(0.01) and schedule.rate(0.5) < schedule.rate(0.3)
    for bad in ("soon", "0", "-5m"):
        with pytest.raises(SystemExit):
            train_args("--data", "x", "--time-budget", bad)
@pytest.mark.long
def test_training_on_jax_compiles_one_step_and_its_checkpoint_exports_here(trained, tiny_csv, tmp_path):
    """The GPU route: the same job under KERAS_BACKEND=jax (on the CPU here), online teacher and augmentation inside
    one XLA-compiled step; the TFLite export of its best checkpoint then runs with TensorFlow."""
    pytest.importorskip("jax")
    import os

    from ferstream.training import ensemble

    teacher, _ = trained
    out = tmp_path / "jax"
    proc = subprocess.run(
        [sys.executable, "-m", "ferstream.training", "--data", str(tiny_csv), "--out", str(out), "--epochs", "2",
         "--batch-size", "16", "--widths", "8,16", "--depths", "1,1", "--teacher", str(teacher / "ferstream-emotion.tflite"),
         "--distill", "online", "--teacher-tta", "flip-zoom", "--tta", "none"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the affine augmentation layers would otherwise keep the whole step out of XLA (op by op: many times slower)
    assert "jax backend, one XLA-compiled step" in proc.stderr
    assert "the TFLite export needs TensorFlow" in proc.stderr and "ferstream ensemble --models" in proc.stderr
    assert len(history(out)) == 2 and not (out / "ferstream-emotion.tflite").exists()
    meta = ensemble.run(argparse.Namespace(models=[str(out / "best.keras")], data=str(tiny_csv), out=str(tmp_path / "x"),
                                           name="student", version="test", quantize="dynamic", tta="none", bn_stats="plain",
                                           argv=["ensemble"]))
    assert meta["epochs"] == 2 and meta["parameters"] > 0
    assert EmotionModel(tmp_path / "x" / "student.tflite").predict(np.zeros((2, 48, 48))).shape == (2, 7)


@pytest.mark.long  # 10-20 s: `make test-long`
def test_mixed_bfloat16_training_saves_and_exports_a_float32_network(tiny_csv, tmp_path):
    import keras

    from ferstream.training.train import run

    out = tmp_path / "bf16"
    run(train_args("--data", str(tiny_csv), "--out", str(out), "--epochs", "2", "--batch-size", "16",
                   "--widths", "8,16", "--depths", "1,1", "--precision", "mixed-bfloat16", "--tta", "none"))
    assert keras.config.dtype_policy().name == "float32"  # the run leaves the process's policy as it was
    for path in (out / "best.keras", out / "ferstream-emotion.keras"):  # the checkpoint and the exported network
        network = keras.saving.load_model(path)
        assert {layer.dtype_policy.name for layer in network.layers} == {"float32"}
    faces = np.random.default_rng(3).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    probs = EmotionModel(out / "ferstream-emotion.tflite").predict(faces[..., 0])
    np.testing.assert_allclose(probs, network(faces).numpy(), atol=0.05)  # the .tflite runs that float32 network
    assert len(history(out)) == 2


def test_float32_copy_keeps_the_weights_and_the_outputs():
    import keras

    from ferstream.training.model import build_model, float32_copy

    mixed = build_model(widths=(8, 16), depths=(1, 1), precision="mixed-bfloat16")
    assert mixed.get_layer("s0_conv0").compute_dtype == "bfloat16"
    assert mixed.get_layer("probabilities").compute_dtype == "float32"
    plain = float32_copy(mixed)
    assert {layer.compute_dtype for layer in plain.layers} == {"float32"}
    for a, b in zip(mixed.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    faces = np.random.default_rng(4).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(plain(faces).numpy(), mixed(faces).numpy(), atol=0.02)  # bfloat16 keeps ~3 digits
    assert float32_copy(plain) is plain
    with pytest.raises(ValueError, match="precision is one of"):
        build_model(precision="float16")
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.long  # 10-20 s: `make test-long`
def test_ema_scores_and_saves_the_averaged_weights_and_resumes(trained, tiny_csv, tmp_path):
    import keras

    from ferstream.errors import ConfigError
    from ferstream.training.train import run

    out, _ = trained
    donor = keras.saving.load_model(out / "ferstream-emotion.keras")
    common = ("--data", str(tiny_csv), "--batch-size", "4", "--widths", "8,16", "--depths", "1,1",
              "--learning-rate", "5e-2", "--init", str(out / "ferstream-emotion.keras"), "--bn-stats", "as-trained")

    def moved(folder) -> float:  # how far the checkpoint's convolutions went from where they started
        saved = keras.saving.load_model(folder / "best.keras")
        return sum(float(np.abs(saved.get_layer(n).kernel.numpy() - donor.get_layer(n).kernel.numpy()).sum())
                   for n in ("s0_conv0", "s1_conv0"))

    run(train_args(*common, "--out", str(tmp_path / "plain"), "--epochs", "1"))
    run(train_args(*common, "--out", str(tmp_path / "ema"), "--epochs", "1", "--ema", "0.9999", "--keep-epochs"))
    # --keep-epochs saves each epoch's network, averaged like the best checkpoint: the first epoch's is that one
    first = keras.saving.load_model(tmp_path / "ema" / "epochs" / "epoch-001.keras")
    for kept, best in zip(first.get_weights(), keras.saving.load_model(tmp_path / "ema" / "best.keras").get_weights()):
        np.testing.assert_array_equal(kept, best)
    # momentum 0.9999 over 18 steps: the average stays where the first step left it, and Adam's first step moves
    # each of the 72 + 1,152 kernel weights by the learning rate; the weights trained on went three times as far
    one_step = 5e-2 * (9 * 1 * 8 + 9 * 8 * 16)
    assert moved(tmp_path / "ema") == pytest.approx(one_step, rel=0.02)
    assert moved(tmp_path / "plain") > 2 * one_step
    run(train_args(*common, "--out", str(tmp_path / "ema"), "--epochs", "2", "--ema", "0.9999", "--resume", "--keep-epochs"))
    assert [r["epoch"] for r in history(tmp_path / "ema")] == ["0", "1"]
    assert sorted(p.name for p in (tmp_path / "ema" / "epochs").iterdir()) == ["epoch-001.keras", "epoch-002.keras"]
    for bad in ("1", "0", "-0.5"):
        with pytest.raises(ConfigError, match="--ema is a momentum"):
            run(train_args(*common, "--out", str(tmp_path / "bad"), "--epochs", "1", "--ema", bad))


def test_a_bias_shift_in_the_export_makes_its_class_likelier_by_exp_of_the_shift(trained, tiny_csv, tmp_path):
    from ferstream.training.cli import add_ensemble_arguments
    from ferstream.training.ensemble import run

    out, _ = trained
    member = str(out / "ferstream-emotion.keras")
    common = ["--models", member, "--data", str(tiny_csv), "--quantize", "none", "--tta", "none", "--bn-stats", "as-trained"]
    parser = add_ensemble_arguments(argparse.ArgumentParser())
    run(parser.parse_args([*common, "--out", str(tmp_path / "plain")]))
    run(parser.parse_args([*common, "--out", str(tmp_path / "shifted"), "--bias-shift", "neutral=+1.5"]))
    faces = np.random.default_rng(4).integers(0, 256, (6, 48, 48)).astype(np.float32)
    plain = EmotionModel(tmp_path / "plain" / "ferstream-emotion.tflite").predict(faces)
    shifted = EmotionModel(tmp_path / "shifted" / "ferstream-emotion.tflite").predict(faces)
    n = EMOTIONS.index("neutral")
    ratio = (shifted[:, n] / shifted[:, 0]) / (plain[:, n] / plain[:, 0])  # odds against angry grow by exp(1.5)
    np.testing.assert_allclose(ratio, np.exp(1.5), rtol=1e-3)


@pytest.mark.parametrize("value, message", [("calm=0.3", "EMOTION one of angry"), ("neutral=much", "must be a number")])
def test_a_bad_bias_shift_is_refused_before_anything_runs(value, message, capsys):
    with pytest.raises(SystemExit):
        train_args("--data", "x.csv", "--bias-shift", value)
    assert message in capsys.readouterr().err
