"""Evaluating a model file on FER-2013 or FER+'s majority votes: accuracy, per-class scores, confusion matrix.

Predictions go through ``ferstream.emotion_model.EmotionModel``, the same code
the worker runs, so the figures are those of the shipped inference export.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ferstream.emotion_model import DEFAULT_MODEL, EmotionModel
from ferstream.errors import DataError
from ferstream.training.data import SPLITS, Dataset, Split, load_dataset

log = logging.getLogger(__name__)

BATCH = 256


def predict(model: EmotionModel, faces: np.ndarray) -> np.ndarray:
    """Probabilities for all faces, in batches."""
    return np.concatenate([model.predict(faces[i:i + BATCH]) for i in range(0, len(faces), BATCH)]) if len(faces) else np.zeros((0, len(model.labels)))


def keras_accuracy(model, faces: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of a Keras network (not an export) on N x 48 x 48 grey ``faces``: how the training job compares
    checkpoints, soups and BatchNormalization statistics before it exports."""
    probs = model.predict(faces[..., None].astype(np.float32), batch_size=512, verbose=0)
    return float((probs.argmax(axis=1) == labels).mean())


def scores(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Accuracy, the confusion matrix (rows: truth) and per-class precision, recall, F1, support."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (labels, predicted), 1)
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "confusion": cm,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": cm.sum(axis=1),
    }


def report(name: str, labels: tuple[str, ...], s: dict) -> str:
    lines = [f"{name}: accuracy {s['accuracy']:.4f} on {int(s['support'].sum())} faces",
             f"{'emotion':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for i, label in enumerate(labels):
        lines.append(f"{label:<10}{s['precision'][i]:>10.3f}{s['recall'][i]:>10.3f}{s['f1'][i]:>10.3f}{int(s['support'][i]):>10d}")
    return "\n".join(lines)


def plot_confusion(cm: np.ndarray, labels: tuple[str, ...], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=100)
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{rows[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center", fontsize=7,
                    color="white" if rows[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def evaluate_splits(model_path, data: Dataset, splits=None, out: Path | str = ".", crop: str | None = None) -> dict[str, dict]:
    """Scores of the model on each requested split present in ``data``; prints a report and writes PNGs. The faces
    are framed as ``crop`` says (default: the model's metadata, as the worker crops real faces for it)."""
    from ferstream.training.align_faces import framed

    model = EmotionModel(model_path)
    wanted = [s for s in (splits or ("PublicTest", "PrivateTest")) if s in data.splits]
    if not wanted:
        wanted = [s for s in SPLITS if s in data.splits]
    data = framed(data, crop or model.metadata.crop, model.metadata.zoom, wanted)
    results = {}
    for split in wanted:
        scored = data.splits[split].scored()  # with FER+ votes: the faces a clear majority labels
        name = split_name(split, scored)
        s = scores(scored.labels, predict(model, scored.faces).argmax(axis=1), len(model.labels))
        s["png"] = plot_confusion(s["confusion"], model.labels, f"{Path(model.path).stem} on {name} (acc {s['accuracy']:.3f})",
                                  Path(out) / f"confusion_{name.replace('+', 'plus').replace(' ', '_')}.png")
        print(report(name, model.labels, s), flush=True)
        print(f"confusion matrix: {s['png']}", flush=True)
        results[name] = s
    return results


def split_name(split: str, data: Split) -> str:
    """How a split's scores are named in reports and the model's metadata: ``PublicTest`` for FER-2013's single
    labels, ``FER+ PublicTest majority`` for FER+'s majority votes."""
    return f"FER+ {split} majority" if data.votes is not None else split


def evaluate_fer2013(model_path, path: str | Path, out: Path | str = ".") -> dict[str, dict]:
    """FER-2013's own PublicTest labels (a Kaggle-layout file), reported beside FER+'s votes as ``FER-2013 PublicTest``."""
    data = load_dataset(path)
    if data.splits.get("PublicTest") is None or data.splits["PublicTest"].votes is not None:
        raise DataError(f"--fer2013 {path}: expected FER-2013's single labels with a PublicTest split")
    return {"FER-2013 PublicTest": evaluate_splits(model_path, data, ("PublicTest",), out)["PublicTest"]}


def evaluate(model_path: str | None, data_path: str, splits=None, out: str = ".", votes: str | None = None,
             crop: str | None = None) -> dict[str, dict]:
    return evaluate_splits(model_path or DEFAULT_MODEL, load_dataset(data_path, votes), splits, Path(out), crop)
