"""Pack FER+ (votes and pixels) and real photos' faces for a GPU machine reached through a 64 MiB transfer.

``pack_fer2013.py``'s coding (a median-edge predictor, then LZMA): Training's faces and the ``--extra`` faces with
``--bits`` grey-level bits (7: off by at most 1 of 255; 6: by at most 2), PublicTest's exactly, the ten vote
columns as bytes.
Unpacked, it is the FER+ CSV layout ``ferstream train --data`` reads (Usage, the vote columns, pixels) and the
``.npz`` that ``--extra`` reads (``tools/wild/faces.py``'s faces and labels). The machine there has pandas,
numpy and OpenCV; unpacking needs numpy and pandas only.

    python tools/gpu/pack_ferplus.py pack ../shared/datasets/ferplus/ferplus-train-publictest.csv.gz \\
        .gpu/ferplus.npz [--extra runs/wild/faces.npz]
    python tools/gpu/pack_ferplus.py unpack .gpu/ferplus.npz /tmp/ferplus   # there: ferplus.csv.gz [extra.npz]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pack_fer2013 import decode, encode  # noqa: E402

#: FER+'s vote columns, in its file's order (ferstream.training.votes.VOTE_COLUMNS: this file runs without ferstream)
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")


def _blob(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.uint8)


def pack(csv: str, out: str, extra: str | None = None, bits: int = 7) -> None:
    import pandas as pd

    df = pd.read_csv(csv)
    faces = np.array(" ".join(df["pixels"]).split(), np.uint8).reshape(-1, 48, 48)
    train = (df["Usage"] == "Training").to_numpy()
    public = (df["Usage"] == "PublicTest").to_numpy()
    if not (train | public).all():
        raise SystemExit(f"{csv}: only Training and PublicTest rows are packed")
    order = np.concatenate([np.flatnonzero(train), np.flatnonzero(public)])
    parts = {"train": _blob(encode(faces[train], bits)), "test": _blob(encode(faces[public], 8)),
             "votes": df.loc[order, list(VOTE_COLUMNS)].to_numpy(np.uint8), "n_train": int(train.sum()), "bits": bits}
    if extra:
        with np.load(extra) as z:
            parts |= {"extra": _blob(encode(z["faces"], bits)), "extra_labels": z["labels"].astype(np.uint8),
                      **{f"extra_{k}": z[k] for k in ("crop", "zoom") if k in z}}  # their framing (load_extra checks it)
    np.savez(out, **parts)
    print(out, f"{Path(out).stat().st_size / 2**20:.1f} MiB:", int(train.sum()), "Training,", int(public.sum()),
          "PublicTest", f"and {len(parts['extra_labels'])} extra faces" if extra else "")


def unpack(packed: str, folder: str) -> None:
    import pandas as pd

    z = np.load(packed)
    n_train, votes, bits = int(z["n_train"]), z["votes"], int(z["bits"])
    faces = np.concatenate([decode(z["train"].tobytes(), n_train, bits), decode(z["test"].tobytes(), len(votes) - n_train, 8)])
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(votes, columns=list(VOTE_COLUMNS))
    df.insert(0, "Usage", ["Training"] * n_train + ["PublicTest"] * (len(votes) - n_train))
    df["pixels"] = [" ".join(map(str, face.ravel())) for face in faces]
    df.to_csv(root / "ferplus.csv.gz", index=False)
    made = {"ferplus.csv.gz": len(df)}
    if "extra" in z:
        labels = z["extra_labels"]
        np.savez(root / "extra.npz", faces=decode(z["extra"].tobytes(), len(labels), bits), labels=labels.astype(np.int64),
                 **{k: z[f"extra_{k}"] for k in ("crop", "zoom") if f"extra_{k}" in z})
        made["extra.npz"] = len(labels)
    print("unpacked", made)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="FER+ CSV (and --extra faces) -> one .npz")
    p.add_argument("csv"), p.add_argument("out"), p.add_argument("--extra", metavar="NPZ")
    p.add_argument("--bits", type=int, choices=(6, 7, 8), default=7,
                   help="grey-level bits kept of Training's and the extra faces (PublicTest keeps 8) (default: %(default)s)")
    u = sub.add_parser("unpack", help="the .npz -> FOLDER/ferplus.csv.gz (and FOLDER/extra.npz)")
    u.add_argument("packed"), u.add_argument("folder")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.csv, args.out, args.extra, args.bits)
    else:
        unpack(args.packed, args.folder)
