"""Fine-tuning on the real set's tune part, measured as a lever (issue 33): does teaching the shipped network the
tune part's faces make it righter on real faces it has not seen?

The tune part (bench/labels/emotions.csv, ``split`` tune) holds two sources of its own (dlib's example faces and
Azure's sample photos) and one face of a third. Each is held out in turn: the network is fine-tuned on FER-2013
Training and the other source's faces, then scored on the held-out source's faces (leave one source out). The
judging part is never trained on, and is not read unless ``--judge`` asks for the one final score of a setting.

Two ways, each against the shipped network (ferstream/models/ferstream-emotion.keras):

- ``head``: the output layer alone is fitted again (the network's pooled features frozen, computed once):
  cross-entropy on FER-2013 Training and on the tune faces (weight ``lambda``, several crops of each), pulled
  towards the shipped weights (``mu``); a grid of both.
- ``network``: every weight but BatchNormalization's, a few hundred AdamW steps at a small learning rate, each batch
  128 FER-2013 faces and ``--real-per-batch`` tune faces (crops 0.10 / 0.15 / 0.20, the training augmentation);
  ``--real-per-batch 0`` is the control: the same steps on FER-2013 alone.

``--augment camera`` measures augmentation as a lever: before the training augmentation, half of each batch's faces
are degraded as a camera degrades them (``camera_degrade``: shrunk to 16-32 pixels and scaled back, blurred, darkened
or brightened by a gamma of 0.5-2, sensor noise), the real set's blurred and dim faces being among its worst
(``bench/realset.py``'s tags). With ``--real-per-batch 0`` it is one run on FER-2013 alone, to set beside the
control.

Each row: the held-out sources' accuracy, and PublicTest accuracy and its lowest class recall (one view, the
Keras network: the shipped export's views and int8 weights move both by a few tenths).

    python tools/levers/finetune_real.py head --data ../shared/datasets/fer2013/fer2013-train-publictest.csv.gz
    python tools/levers/finetune_real.py network --data ... [--steps 224] [--lr 1e-4] [--real-per-batch 16]
    python tools/levers/finetune_real.py network --data ... --real-per-batch 0 --augment camera
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench import face_crops, realset  # noqa: E402
from ferstream.emotion_model import EMOTIONS  # noqa: E402
from ferstream.worker.blazeface import CROP_MARGIN  # noqa: E402

SHIPPED = REPO / "ferstream" / "models" / "ferstream-emotion.keras"
#: crop margins of the tune faces taught (the worker's is the middle one)
MARGINS = (0.10, CROP_MARGIN, 0.20)
WORKER_MARGIN = CROP_MARGIN


def split_faces(args, split: str):
    """The real set's ``split`` faces whose files are here (``args.labels``, ``args.realset``, ``args.media``), and
    the frames they are read from; a clear error where none is."""
    every = [f for f in realset.read_labels(args.labels) if f.split == split]
    sources = realset.source_folders(every, args.realset, args.media)
    frames = realset.Frames(sources)
    faces = [f for f in every if frames.available(f)]
    if not faces:
        raise SystemExit(f"none of the real set's {split} part's files are in {args.realset} "
                         "(tools/realset/rebuild.py lays them out)")
    return frames, faces


def real_faces(args, split: str):
    """The split's faces whose files are here, their crops per margin, accepted labels, labels and sources."""
    frames, faces = split_faces(args, split)
    crops = {m: face_crops.ferstream_crops(frames, faces, None if m == WORKER_MARGIN else m) for m in MARGINS}
    accept = np.array([[e in f.accept for e in EMOTIONS] for f in faces])
    labels = np.array([EMOTIONS.index(f.emotion) for f in faces])
    return crops, accept, labels, np.array([f.source for f in faces])


def right(predicted: np.ndarray, accept: np.ndarray) -> float:
    return float(accept[np.arange(len(predicted)), predicted].mean())


def publictest(predicted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    recalls = [float((predicted[labels == c] == c).mean()) for c in range(len(EMOTIONS))]
    return float((predicted == labels).mean()), min(recalls)


def held_out(sources: np.ndarray) -> list[str]:
    """The sources held out in turn: those with at least 10 faces."""
    names, counts = np.unique(sources, return_counts=True)
    return [str(n) for n, c in zip(names, counts) if c >= 10]


def fit_head(features, labels, real_features, real_accept, W0, b0, lam: float, mu: float):
    """The output layer fitted again: mean cross-entropy on FER-2013 faces, ``lam`` times the mean -log P(an
    accepted label) on the real faces, ``mu`` times the squared distance from the shipped weights (L-BFGS)."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    n = W0.size

    def loss(theta):
        W, b = theta[:n].reshape(W0.shape), theta[n:]
        value = mu * (((W - W0) ** 2).sum() + ((b - b0) ** 2).sum())
        gW, gb = 2 * mu * (W - W0), 2 * mu * (b - b0)
        ls = log_softmax(features @ W + b, axis=1)
        value -= ls[np.arange(len(labels)), labels].mean()
        G = np.exp(ls)
        G[np.arange(len(labels)), labels] -= 1
        G /= len(labels)
        gW, gb = gW + features.T @ G, gb + G.sum(0)
        if lam and len(real_features):
            p = np.exp(log_softmax(real_features @ W + b, axis=1))
            pa = (p * real_accept).sum(1)
            value -= lam * np.log(pa).mean()
            G = lam * (p - p * real_accept / pa[:, None]) / len(real_features)
            gW, gb = gW + real_features.T @ G, gb + G.sum(0)
        return value, np.concatenate([gW.ravel(), gb])

    r = minimize(loss, np.concatenate([W0.ravel(), b0]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return r.x[:n].reshape(W0.shape), r.x[n:]


def run_head(args, data) -> list[list[str]]:
    import keras

    model = keras.models.load_model(args.model)
    body = keras.Model(model.input, model.get_layer("gap").output)
    W0, b0 = (w.astype(np.float64) for w in model.get_layer("probabilities").get_weights())

    def feats(faces):
        x = faces.astype(np.float32)[..., None]
        return np.concatenate([body.predict(x, batch_size=512, verbose=0),
                               body.predict(x[:, :, ::-1], batch_size=512, verbose=0)]).astype(np.float64)

    train, public = data.splits["Training"], data.splits["PublicTest"]
    F, y = feats(train.faces), np.concatenate([train.labels] * 2)
    Fpt = body.predict(public.faces.astype(np.float32)[..., None], batch_size=512, verbose=0).astype(np.float64)
    crops, accept, _, sources = real_faces(args, "tune")
    RF = {m: feats(c) for m, c in crops.items()}  # each face, then its mirror image
    both = lambda a: np.concatenate([a, a])  # noqa: E731
    rows = []
    holdouts = held_out(sources)
    for lam, mu in [(0.0, 0.0)] + list(itertools.product(args.lam, args.mu)):
        scores = []
        for held in holdouts:
            keep = both(sources != held)
            Rf = np.concatenate([RF[m][keep] for m in MARGINS])
            Ra = np.concatenate([both(accept)[keep]] * len(MARGINS))
            W, b = (W0, b0) if lam == mu == 0 else fit_head(F, y, Rf, Ra, W0, b0, lam, mu)
            test = sources == held
            scores.append(right((RF[WORKER_MARGIN][:len(sources)][test] @ W + b).argmax(1), accept[test]))
        Rf = np.concatenate([RF[m] for m in MARGINS])
        Ra = np.concatenate([both(accept)] * len(MARGINS))
        W, b = (W0, b0) if lam == mu == 0 else fit_head(F, y, Rf, Ra, W0, b0, lam, mu)
        acc, low = publictest((Fpt @ W + b).argmax(1), public.labels)
        name = "shipped" if lam == mu == 0 else f"head, lambda {lam:g}, mu {mu:g}"
        rows.append([name, *[f"{100 * s:.1f}%" for s in scores], f"{100 * acc:.2f}%", f"{low:.3f}"])
        print(" | ".join(rows[-1]), flush=True)
    return ["setting", *[f"held out: {h} ({int((sources == h).sum())})" for h in holdouts],
            "PublicTest (fitted on the whole tune part)", "lowest recall"], rows


def camera_degrade(faces: np.ndarray, rng: np.random.Generator, share: float = 0.5) -> np.ndarray:
    """``share`` of the N x 48 x 48 grey faces (0..255) degraded as a camera does, each in its own random way: shrunk
    to 16-32 pixels and scaled back (a small, far face), a Gaussian blur (focus, motion), a gamma of 0.5-2 (dim or
    washed-out light) and sensor noise; the rest unchanged. Returns float32 faces of the same shape."""
    out = faces.astype(np.float32).copy()
    side = faces.shape[1]
    for i in np.flatnonzero(rng.random(len(faces)) < share):
        face = out[i]
        if rng.random() < 0.5:
            small = int(rng.integers(16, 33))
            face = cv2.resize(cv2.resize(face, (small, small), interpolation=cv2.INTER_AREA), (side, side),
                              interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            face = cv2.GaussianBlur(face, (0, 0), float(rng.uniform(0.4, 1.0)))
        if rng.random() < 0.5:
            face = 255.0 * (face / 255.0) ** float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        if rng.random() < 0.5:
            face = face + rng.normal(0.0, rng.uniform(2.0, 8.0), face.shape)
        out[i] = np.clip(face, 0, 255)
    return out


def fine_tune(args, train, seed: int, real: tuple[np.ndarray, np.ndarray] | None = None, real_per_batch: int = 0):
    """The network at ``args.model`` fine-tuned for ``args.steps`` AdamW steps on ``train`` (a FER-2013 split), each
    batch 128 of its faces and ``real_per_batch`` of the ``real`` (faces, labels); BatchNormalization frozen, the
    training augmentation (after ``camera_degrade`` with ``args.augment`` camera)."""
    import keras
    import tensorflow as tf

    from ferstream.training.model import build_augmentation

    keras.utils.set_random_seed(seed)
    model = keras.models.load_model(args.model)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    augmentation = build_augmentation(seed)
    optimizer = keras.optimizers.AdamW(args.lr, weight_decay=1e-4)
    rx, ry = real if real is not None else (np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64))
    camera = getattr(args, "augment", "standard") == "camera"
    rng = np.random.default_rng(seed)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            p = model(augmentation(x, training=True), training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, p))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    for _ in range(args.steps):
        i = rng.integers(0, len(train), 128)
        x, y = train.faces[i], train.labels[i]
        if real_per_batch and len(rx):
            j = rng.integers(0, len(rx), real_per_batch)
            x, y = np.concatenate([x, rx[j]]), np.concatenate([y, ry[j]])
        if camera:
            x = camera_degrade(x, rng)
        step(tf.constant(x.astype(np.float32)[..., None]), tf.constant(y))
    return model


def run_network(args, data):
    import keras

    public = data.splits["PublicTest"]
    crops, accept, labels, sources = real_faces(args, "tune")
    predict = lambda m, faces: m.predict(faces.astype(np.float32)[..., None], batch_size=512, verbose=0).argmax(1)  # noqa: E731
    holdouts = held_out(sources)
    shipped = keras.models.load_model(args.model)
    acc, low = publictest(predict(shipped, public.faces), public.labels)
    rows = [["shipped", *[f"{100 * right(predict(shipped, crops[WORKER_MARGIN][sources == h]), accept[sources == h]):.1f}%"
                          for h in holdouts], f"{100 * acc:.2f}%", f"{low:.3f}"]]
    print(" | ".join(rows[-1]), flush=True)
    for per_batch in sorted({0, args.real_per_batch}):
        scores, pts = [], []
        for held in holdouts:
            if per_batch or not pts:  # the control sees no tune face: one run serves every held-out source
                keep = sources != held
                real = (np.concatenate([crops[m][keep] for m in MARGINS]), np.concatenate([labels[keep]] * len(MARGINS)))
                model = fine_tune(args, data.splits["Training"], args.seed, real, per_batch)
                pts.append(publictest(predict(model, public.faces), public.labels))
            test = sources == held
            scores.append(right(predict(model, crops[WORKER_MARGIN][test]), accept[test]))
        name = f"{args.steps} steps, lr {args.lr:g}, " + (f"{per_batch} tune faces a batch" if per_batch else "FER-2013 alone")
        name += ", camera augmentation" if args.augment == "camera" else "" if per_batch else " (control)"
        rows.append([name, *[f"{100 * s:.1f}%" for s in scores],
                     "/".join(f"{100 * a:.2f}%" for a, _ in pts), "/".join(f"{r:.3f}" for _, r in pts)])
        print(" | ".join(rows[-1]), flush=True)
    return ["setting", *[f"held out: {h} ({int((sources == h).sum())})" for h in holdouts],
            "PublicTest (each run)", "lowest recall (each run)"], rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("how", choices=("head", "network"))
    p.add_argument("--data", type=Path, required=True, help="FER-2013 (Kaggle CSV with Training and PublicTest)")
    p.add_argument("--model", type=Path, default=SHIPPED, help="the .keras network to start from (default: the shipped)")
    p.add_argument("--labels", type=Path, default=realset.LABELS, help="the labelled set (default: %(default)s)")
    p.add_argument("--realset", type=Path, default=realset.default_realset())
    p.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    p.add_argument("--lam", type=float, nargs="+", default=[0.05, 0.1, 0.3, 1.0], help="head: weights of the tune faces")
    p.add_argument("--mu", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1], help="head: pulls to the shipped weights")
    p.add_argument("--steps", type=int, default=224, help="network: AdamW steps (224: one pass over Training)")
    p.add_argument("--lr", type=float, default=1e-4, help="network: learning rate")
    p.add_argument("--real-per-batch", type=int, default=16, help="network: tune faces in each batch of 128 + these")
    p.add_argument("--augment", choices=("standard", "camera"), default="standard",
                   help="network: the training augmentation alone, or camera_degrade on half of each batch before it")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from bench.tables import markdown_table
    from ferstream.training.data import load_dataset

    data = load_dataset(args.data)
    data.require("Training", "PublicTest")
    header, rows = (run_head if args.how == "head" else run_network)(args, data)
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
