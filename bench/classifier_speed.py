"""Batched per-face inference time of an emotion model (the worker's code path).

    python bench/classifier_speed.py [--model models/ferstream-emotion.tflite] [--batch 32] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ferstream.emotion_model import DEFAULT_MODEL, EmotionModel


def per_face_ms(model: EmotionModel, batch: int, seconds: float = 3.0) -> float:
    faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48, 1)).astype(np.float32)
    for _ in range(5):
        model.predict(faces)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.predict(faces)
        n += 1
    return (time.perf_counter() - start) / (n * batch) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print("| model | batch | threads | ms per face |\n|---|---|---|---|")
    for threads in args.threads:
        model = EmotionModel(args.model, num_threads=threads)
        print(f"| {model.path.name} ({model.version}) | {args.batch} | {threads} | {per_face_ms(model, args.batch):.3f} |")


if __name__ == "__main__":
    main()
