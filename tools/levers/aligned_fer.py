"""Training on aligned faces, measured as a lever (issues 33 and 34): does a network taught FER-2013's faces aligned
as the worker aligns real faces (``worker.align``) read aligned real faces better than the shipped network reads its
box crops?

The shipped network learned FER-2013's own crops, and aligned real crops alone did not help it (models/README.md,
"Aligned crops and face quality"). Here each FER-2013 face is aligned the same way first: scaled up 4 times in a
padded canvas (as FER-2013's framing was measured), BlazeFace's keypoints found on it, the face aligned at ``--zoom``
(a face with no keypoints keeps its own crop). The shipped network is then fine-tuned on the aligned Training faces
(``finetune_real.fine_tune``: ``--steps`` AdamW steps, BatchNormalization frozen, the training augmentation) and
scored with aligned crops everywhere: PublicTest aligned, and the real set's tune part cropped as
``ferstream.worker.analysis.Analyzer(align=True)`` crops it. The control is the same steps on FER-2013's own faces,
scored with box crops as the worker crops today. The judging part is not read.

    python tools/levers/aligned_fer.py --data ../shared/datasets/fer2013/fer2013-train-publictest.csv.gz \\
        [--zoom 1.0] [--steps 224] [--seeds 0 1] [--cache runs/levers/aligned-fer.npz]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import finetune_real  # noqa: E402
from bench import face_crops, realset  # noqa: E402
from ferstream.emotion_model import EMOTIONS  # noqa: E402
from ferstream.training.align_faces import align_faces  # noqa: E402

def aligned_data(args, data) -> dict[str, np.ndarray]:
    """Training and PublicTest aligned (read from ``--cache`` when it holds this zoom's)."""
    cache = Path(args.cache) if args.cache else None
    if cache and cache.exists():
        stored = np.load(cache)
        if float(stored["zoom"]) == args.zoom and len(stored["Training"]) == len(data.splits["Training"].faces):
            return {k: stored[k] for k in ("Training", "PublicTest", "found_Training", "found_PublicTest")}
    out = {}
    for split in ("Training", "PublicTest"):
        out[split], out[f"found_{split}"] = align_faces(data.splits[split].faces, args.zoom)
        print(f"{split}: {out[f'found_{split}'].mean():.1%} of {len(out[split])} faces aligned", flush=True)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, zoom=args.zoom, **out)
    return out


def tune_crops(args):
    """The tune part's faces here: box crops (the worker's default), aligned crops at ``--zoom``, accepted labels and
    sources."""
    frames, faces = finetune_real.split_faces(args, "tune")
    boxed = face_crops.ferstream_crops(frames, faces)
    aligned = face_crops.aligned_crops(frames, faces, args.zoom)[0]
    accept = np.array([[e in f.accept for e in EMOTIONS] for f in faces])
    return boxed, aligned, accept, np.array([f.source for f in faces])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="FER-2013 (Kaggle CSV with Training and PublicTest)")
    p.add_argument("--model", type=Path, default=finetune_real.SHIPPED, help="the .keras network to start from")
    p.add_argument("--labels", type=Path, default=realset.LABELS, help="the labelled set (default: %(default)s)")
    p.add_argument("--realset", type=Path, default=realset.default_realset())
    p.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    p.add_argument("--zoom", type=float, default=1.0, help="the framing of every aligned crop (1: FER-2013's own)")
    p.add_argument("--steps", type=int, default=224, help="AdamW steps of each fine-tuning (224: one pass over Training)")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run of each kind per seed")
    p.add_argument("--cache", help="an .npz to keep the aligned FER-2013 faces in between runs")
    args = p.parse_args(argv)
    import keras

    from bench.tables import markdown_table
    from ferstream.training.data import load_dataset

    data = load_dataset(args.data)
    data.require("Training", "PublicTest")
    boxed, aligned, accept, sources = tune_crops(args)
    faces = aligned_data(args, data)
    public = data.splits["PublicTest"]
    held = finetune_real.held_out(sources)

    def row(name, model, crops, public_faces):
        predict = lambda x: model.predict(x.astype(np.float32)[..., None], batch_size=512, verbose=0).argmax(1)  # noqa: E731
        got = predict(crops)
        acc, low = finetune_real.publictest(predict(public_faces), public.labels)
        cells = [name, *[f"{100 * finetune_real.right(got[sources == h], accept[sources == h]):.1f}%" for h in held],
                 f"{100 * finetune_real.right(got, accept):.1f}%", f"{100 * acc:.2f}%", f"{low:.3f}"]
        print(" | ".join(cells), flush=True)
        return cells

    shipped = keras.models.load_model(args.model)
    rows = [row("shipped, box crops", shipped, boxed, public.faces),
            row(f"shipped, aligned crops (zoom {args.zoom:g})", shipped, aligned, faces["PublicTest"])]
    plain = data.splits["Training"]
    for seed in args.seeds:
        control = finetune_real.fine_tune(args, plain, seed)
        rows.append(row(f"{args.steps} steps on FER-2013 (control), box crops, seed {seed}", control, boxed,
                        public.faces))
        taught = finetune_real.fine_tune(args, replace(plain, faces=faces["Training"]), seed)
        rows.append(row(f"{args.steps} steps on aligned FER-2013, aligned crops, seed {seed}", taught, aligned,
                        faces["PublicTest"]))
    print(markdown_table(["setting", *[f"{h} ({int((sources == h).sum())})" for h in held], f"tune ({len(sources)})",
                          "PublicTest", "lowest recall"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
