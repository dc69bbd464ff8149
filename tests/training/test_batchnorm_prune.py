"""BatchNormalization statistics re-estimated on plain faces, and students narrowed from a trained network."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from ferstream.emotion_model import EmotionModel
from ferstream.training.cli import add_ensemble_arguments, add_train_arguments
from ferstream.training.data import load_dataset


def train_args(*argv: str) -> argparse.Namespace:
    args = add_train_arguments(argparse.ArgumentParser()).parse_args(list(argv))
    args.argv = ["train", *argv]
    return args


@pytest.fixture(scope="module")
def teacher(tiny_csv, tmp_path_factory):
    """A tiny trained network (widths 8,16) with its statistics as training left them."""
    from ferstream.training.train import run

    out = tmp_path_factory.mktemp("teacher")
    run(train_args("--data", str(tiny_csv), "--out", str(out), "--epochs", "2", "--batch-size", "16",
                   "--widths", "8,16", "--depths", "1,2", "--bn-stats", "as-trained"))
    return out / "ferstream-emotion.keras"


def norms(model):
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_statistics_are_those_of_each_layers_inputs_over_the_plain_faces(teacher, tiny_csv):
    import keras

    from ferstream.training.batchnorm import reestimate

    model = keras.saving.load_model(teacher, compile=False)
    faces = load_dataset(tiny_csv).splits["Training"].faces
    before = [np.asarray(n.moving_mean).copy() for n in norms(model)]
    assert reestimate(model, faces, n=len(faces), batch_size=16) == 3
    for norm, old in zip(norms(model), before):  # measured in order: each on the layers before it, already re-estimated
        x = keras.Model(model.inputs, norm.input).predict(faces[..., None].astype(np.float32), verbose=0)
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        np.testing.assert_allclose(np.asarray(norm.moving_mean), x.mean(axis=0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(norm.moving_variance), x.var(axis=0), rtol=1e-3, atol=1e-4)
        assert not np.allclose(np.asarray(norm.moving_mean), old)  # two epochs of augmented faces left other values


def test_new_statistics_that_score_worse_on_publictest_are_undone(tiny_csv):
    import keras

    from ferstream.training.batchnorm import reestimate, reestimate_if_better
    from ferstream.training.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(widths=(8, 16), depths=(1, 2))  # untrained: its statistics (0 and 1) are far from the data's
    data = load_dataset(tiny_csv)
    train, public = data.splits["Training"].faces, data.splits["PublicTest"].faces

    def predicted(m):
        return m.predict(public[..., None].astype(np.float32), verbose=0).argmax(axis=1)

    other = keras.models.clone_model(model)
    other.set_weights(model.get_weights())
    reestimate(other, train)
    as_is, reestimated = predicted(model), predicted(other)
    assert (as_is != reestimated).any()
    kept = [np.array(w, copy=True) for w in model.get_weights()]
    # PublicTest labels that the model as it stands gets all right: the new statistics can only score worse
    assert reestimate_if_better(model, train, public, as_is) == (1.0, 1.0)
    for a, b in zip(kept, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # labels the new statistics get all right: they stay
    before, after = reestimate_if_better(model, train, public, reestimated)
    assert before < 1.0 and after == 1.0
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_trained_run_and_a_re_export_use_plain_statistics_by_default(teacher, tiny_csv, tmp_path):
    import keras

    from ferstream.training import ensemble
    from ferstream.training.batchnorm import reestimate_if_better

    data = load_dataset(tiny_csv)
    args = add_ensemble_arguments(argparse.ArgumentParser()).parse_args(
        ["--models", str(teacher), "--data", str(tiny_csv), "--out", str(tmp_path), "--tta", "none", "--quantize", "none"])
    assert args.bn_stats == "plain"
    ensemble.run(args)
    expected = keras.saving.load_model(teacher, compile=False)
    public = data.splits["PublicTest"]
    reestimate_if_better(expected, data.splits["Training"].faces, public.faces, public.labels)
    faces = public.faces[..., None].astype(np.float32)
    np.testing.assert_allclose(EmotionModel(tmp_path / "ferstream-emotion.tflite").predict(faces),
                               expected.predict(faces, verbose=0), atol=1e-4)


@pytest.mark.long  # 10-20 s: `make test-long`
def test_a_student_narrowed_from_its_teacher_keeps_the_strongest_filters(teacher, tiny_csv, tmp_path):
    import keras

    from ferstream.training.train import run

    out = tmp_path / "pruned"
    run(train_args("--data", str(tiny_csv), "--out", str(out), "--epochs", "1", "--batch-size", "16", "--widths", "4,8",
                   "--depths", "1,2", "--prune-from", str(teacher), "--learning-rate", "1e-9", "--tta", "none"))
    donor = keras.saving.load_model(teacher, compile=False)
    student = keras.saving.load_model(out / "ferstream-emotion.keras", compile=False)
    assert student.name == "vgg4x1-8x2"
    kept_in = np.arange(1)
    for name in ("s0_conv0", "s1_conv0", "s1_conv1"):
        kernel = donor.get_layer(name).get_weights()[0][:, :, kept_in]
        strength = np.abs(kernel).sum(axis=(0, 1, 2))
        width = student.get_layer(name).filters
        kept = np.sort(np.argsort(-strength, kind="stable")[:width])
        assert strength[kept].min() >= np.sort(strength)[::-1][width - 1]  # the strongest filters, none weaker
        np.testing.assert_allclose(student.get_layer(name).get_weights()[0], kernel[..., kept], atol=1e-3)
        bn = name.replace("conv", "bn")
        np.testing.assert_allclose(student.get_layer(bn).get_weights()[0], donor.get_layer(bn).get_weights()[0][kept], atol=1e-3)
        kept_in = kept
    np.testing.assert_allclose(student.get_layer("probabilities").get_weights()[0],
                               donor.get_layer("probabilities").get_weights()[0][kept_in], atol=1e-3)


def test_narrowing_refuses_what_it_cannot_do(teacher, tiny_csv, tmp_path):
    from ferstream.errors import ConfigError, ModelError
    from ferstream.training.train import run

    base = ("--data", str(tiny_csv), "--epochs", "1", "--prune-from", str(teacher))
    with pytest.raises(ModelError, match="can only narrow"):
        run(train_args(*base, "--out", str(tmp_path / "a"), "--widths", "16,16", "--depths", "1,2"))
    with pytest.raises(ModelError, match="differ in depth"):
        run(train_args(*base, "--out", str(tmp_path / "b"), "--widths", "4,8", "--depths", "1,1"))
    with pytest.raises(ModelError, match="no .keras model"):
        run(train_args("--data", str(tiny_csv), "--epochs", "1", "--out", str(tmp_path / "c"), "--widths", "4,8",
                       "--depths", "1,2", "--prune-from", str(tmp_path / "missing.keras")))
    with pytest.raises(ConfigError, match="leave out --init"):
        run(train_args(*base, "--out", str(tmp_path / "d"), "--widths", "4,8", "--depths", "1,2", "--init", str(teacher)))


@pytest.mark.parametrize("widths, depths", [((32, 64, 128, 256), (2, 2, 3, 3)), ((24, 48, 112, 208), (2, 2, 3, 3)), ((8, 16), (1, 2))])
def test_multiply_adds_are_those_of_the_built_network(widths, depths):
    import keras

    from ferstream.training.model import build_model, multiply_adds

    model = build_model(widths=widths, depths=depths)
    expected = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, out = layer.output.shape
            kh, kw, cin, _ = layer.kernel.shape
            expected += h * w * kh * kw * cin * out
        elif isinstance(layer, keras.layers.Dense):
            expected += int(np.prod(layer.kernel.shape))
    assert multiply_adds(widths, depths) == expected
