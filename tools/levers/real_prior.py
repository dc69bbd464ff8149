"""The class prior chosen on real faces (issue 44): how far to move the output towards or away from ``neutral``.

A network trained on FER+'s votes predicts at the votes' class shares (about a third neutral); the real set's faces
show how far that is from what cameras see. A shift ``s`` of one class's logit (the output layer's bias: free at
inference, ``ferstream ensemble --bias-shift neutral=s`` writes it into an export) multiplies that class's
probability by ``exp(s)`` before the probabilities are renormalised. This lever scores a grid of shifts on

- the real set's **tune** part (its faces right), where the choice is made, and
- FER+ PublicTest's majority votes, which must not drop by more than ``--max-drop`` points, nor its recall of any
  emotion by more than ``--max-recall-drop`` (the tune part holds mostly happy and calm faces and no sad one: a
  shift away from sad, or towards neutral, can only gain there, and FER+'s sad faces say what it costs),

and names the shift chosen: the most tune faces right within those bounds, the smallest shift among equals. The
judging part is not read.

    python tools/levers/real_prior.py --model runs/X/ferstream-emotion.tflite \\
        --ferplus ../shared/datasets/ferplus/ferplus-train-publictest.csv.gz [--emotion neutral] [--grid -1 1 0.1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools" / "levers"))

from bench import face_crops, realset  # noqa: E402
from ferstream.emotion_model import EMOTIONS  # noqa: E402


def shifted(probs: np.ndarray, emotion: str, shift: float) -> np.ndarray:
    """Probabilities with ``emotion``'s logit moved by ``shift``, renormalised (what a bias shift does)."""
    out = probs.astype(np.float64).copy()
    out[:, EMOTIONS.index(emotion)] *= np.exp(shift)
    return out / out.sum(axis=1, keepdims=True)


def choose(rows: list[dict], max_drop: float, max_recall_drop: float = 1.0) -> dict:
    """The row with the most tune faces right whose FER+ accuracy is within ``max_drop`` of the unshifted one's and
    whose FER+ recalls (``recall``: one per emotion, or one number, where the rows have it) are each within
    ``max_recall_drop`` of the unshifted one's."""
    base = next(r for r in rows if abs(r["shift"]) < 1e-9)

    def recalls(row: dict) -> np.ndarray:
        return np.atleast_1d(np.asarray(row.get("recall", 0.0), np.float64))

    allowed = [r for r in rows if r["ferplus"] >= base["ferplus"] - max_drop
               and bool(np.all(recalls(r) >= recalls(base) - max_recall_drop))]
    return max(allowed, key=lambda r: (round(r["tune"], 6), -abs(r["shift"])))


def main(argv: list[str] | None = None) -> int:
    from finetune_real import right, split_faces

    from ferstream.emotion_model import EmotionModel
    from ferstream.training.align_faces import framed_faces
    from ferstream.training.data import load_dataset
    from ferstream.training.evaluate import predict, scores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="an exported model (.tflite)")
    parser.add_argument("--ferplus", type=Path, required=True, help="FER+ (votes and pixels): PublicTest's majority")
    parser.add_argument("--emotion", default="neutral", choices=EMOTIONS, help="the class shifted (default: neutral)")
    parser.add_argument("--grid", type=float, nargs=3, default=(-1.0, 1.0, 0.1), metavar=("FROM", "TO", "STEP"))
    parser.add_argument("--max-drop", type=float, default=0.005, help="FER+ PublicTest may drop this much (default 0.5 points)")
    parser.add_argument("--max-recall-drop", type=float, default=0.05,
                        help="FER+ PublicTest's recall of each emotion may drop this much (default 5 points): the "
                             "tune part may hold few faces of one (it holds no sad face), so it cannot say what a "
                             "shift costs that emotion")
    parser.add_argument("--labels", type=Path, default=realset.LABELS)
    parser.add_argument("--realset", type=Path, default=realset.default_realset())
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    args = parser.parse_args(argv)

    model = EmotionModel(args.model)
    frames, faces = split_faces(args, "tune")
    accept = np.array([[e in f.accept for e in EMOTIONS] for f in faces])
    tune = model.predict(face_crops.model_crops(frames, faces, model.metadata).astype(np.float32))
    public = load_dataset(args.ferplus).splits["PublicTest"].scored()
    pub = predict(model, framed_faces(public.faces, model.metadata))
    rows, index = [], EMOTIONS.index(args.emotion)
    for s in np.round(np.arange(args.grid[0], args.grid[1] + 1e-9, args.grid[2]), 3):
        on_ferplus = scores(public.labels, shifted(pub, args.emotion, s).argmax(axis=1), len(EMOTIONS))
        rows.append({"shift": float(s), "tune": right(shifted(tune, args.emotion, s).argmax(axis=1), accept),
                     "ferplus": on_ferplus["accuracy"], "recall": on_ferplus["recall"],
                     "share": float((shifted(tune, args.emotion, s).argmax(axis=1) == index).mean())})
    base = next(r for r in rows if abs(r["shift"]) < 1e-9)

    def worst(row: dict) -> str:
        """The emotion whose FER+ recall the shift lowers most, and by how much."""
        drop = base["recall"] - row["recall"]
        return f"{EMOTIONS[int(drop.argmax())]} {-drop.max():+.3f}" if drop.max() > 0 else "none"

    print(f"| {args.emotion} shift | tune faces right ({len(accept)}) | tune faces called {args.emotion} | "
          f"FER+ PublicTest majority ({len(public)}) | FER+ {args.emotion} recall | FER+ recall lowered most |\n"
          "|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shift']:+.2f} | {100 * r['tune']:.1f}% | {100 * r['share']:.1f}% | {100 * r['ferplus']:.2f}% "
              f"| {r['recall'][index]:.3f} | {worst(r)} |")
    best = choose(rows, args.max_drop, args.max_recall_drop)
    print(f"chosen: {args.emotion}={best['shift']:+.2f} (tune {100 * best['tune']:.1f}%, FER+ {100 * best['ferplus']:.2f}%, "
          f"FER+ {args.emotion} recall {best['recall'][index]:.3f}, recall lowered most: {worst(best)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
