"""Pack FER-2013 for a GPU machine reached through a transfer capped at 64 MiB (the workplace `device` tool).

The Kaggle CSV (83 MB gzipped) does not fit; lossless codecs reach about 1,760 bytes a face (57 MB).
Training is packed with grey levels halved (7 bits: each pixel off by at most 1 of 255, far below what
the augmentation changes) and PublicTest exactly: a median-edge predictor (LOCO-I), then LZMA. 46 MiB.

    python tools/gpu/pack_fer2013.py pack ../shared/datasets/fer2013/fer2013-train-publictest.csv.gz .gpu/fer2013.npz
    python tools/gpu/pack_fer2013.py unpack .gpu/fer2013.npz /tmp/fer   # there: train/<emotion>/*.png, test/<emotion>/*.png

The unpacked folder is the image-folder layout `ferstream train --data` reads. Unpacking needs numpy and OpenCV only.
"""
import lzma
import sys
from pathlib import Path

import numpy as np

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def med(x):
    a = np.zeros_like(x); b = np.zeros_like(x); c = np.zeros_like(x)
    a[:, :, 1:] = x[:, :, :-1]; b[:, 1:, :] = x[:, :-1, :]; c[:, 1:, 1:] = x[:, :-1, :-1]
    return np.where(c >= np.maximum(a, b), np.minimum(a, b), np.where(c <= np.minimum(a, b), np.maximum(a, b), a + b - c))


def encode(faces, bits):
    x = (faces >> (8 - bits)).astype(np.int16)
    return lzma.compress(((x - med(x)) % (1 << bits)).astype(np.uint8).tobytes(), preset=9)


def decode(blob, n, bits):
    res = np.frombuffer(lzma.decompress(blob), np.uint8).reshape(n, 48, 48).astype(np.int16)
    x = np.zeros((n, 48, 48), np.int16)
    m = 1 << bits
    for i in range(48):
        for j in range(48):
            a = x[:, i, j - 1] if j else 0
            b = x[:, i - 1, j] if i else 0
            c = x[:, i - 1, j - 1] if i and j else 0
            a, b, c = (np.broadcast_to(np.asarray(v, np.int16), (n,)) for v in (a, b, c))
            p = np.where(c >= np.maximum(a, b), np.minimum(a, b), np.where(c <= np.minimum(a, b), np.maximum(a, b), a + b - c))
            x[:, i, j] = (res[:, i, j] + p) % m
    x = x << (8 - bits)
    if bits < 8:
        x += 1 << (7 - bits)  # the middle of the rounded interval
    return x.astype(np.uint8)


def pack(csv: str, out: str) -> None:
    from ferstream.training.data import load_dataset

    data = load_dataset(csv)
    train, public = data.splits["Training"], data.splits["PublicTest"]
    np.savez(out, train=np.frombuffer(encode(train.faces, 7), np.uint8), test=np.frombuffer(encode(public.faces, 8), np.uint8),
             labels=np.concatenate([train.labels, public.labels]).astype(np.uint8), n_train=len(train))


def unpack(packed: str, folder: str) -> None:
    import cv2

    z = np.load(packed)
    n_train, labels = int(z["n_train"]), z["labels"]
    parts = {"train": decode(z["train"].tobytes(), n_train, 7), "test": decode(z["test"].tobytes(), len(labels) - n_train, 8)}
    root = Path(folder)
    for name, faces in parts.items():
        offset = 0 if name == "train" else n_train
        for e in EMOTIONS:
            (root / name / e).mkdir(parents=True, exist_ok=True)
        for k, face in enumerate(faces):
            cv2.imwrite(str(root / name / EMOTIONS[labels[offset + k]] / f"{offset + k:05d}.png"), face)
    print("unpacked", {k: len(v) for k, v in parts.items()})


if __name__ == "__main__":
    {"pack": pack, "unpack": unpack}[sys.argv[1]](sys.argv[2], sys.argv[3])
