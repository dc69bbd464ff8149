"""Batched per-face inference time of an emotion model (the worker's code path), with the CPU's SIMD flags.

    python bench/classifier_speed.py [--model ferstream/models/ferstream-emotion.tflite] [--batch 32] [--threads 1 2]
    python bench/classifier_speed.py --arch 32,64,128,256/1,1,2,3 [--tta none] [--quantize dynamic]

``--arch WIDTHS/DEPTHS`` times a network of the training job's family before training it: random
weights, exported as ``ferstream train`` would (needs the training extra). The time does not depend
on the weights.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/classifier_speed.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_flags
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


def untrained_export(arch: str, tta: str, quantize: str, folder: Path) -> Path:
    """An export of the network ``WIDTHS/DEPTHS`` with random weights, as the training job exports."""
    from ferstream.training.export import export_model
    from ferstream.training.model import build_model

    widths, depths = parse_arch(arch)
    model = build_model(widths=widths, depths=depths)
    calibration = np.random.default_rng(0).integers(0, 256, (64, 48, 48)).astype(np.float32)
    return export_model(model, folder / "arch", tta=tta, quantize=quantize, calibration=calibration)["tflite"]


def parse_arch(arch: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    widths, depths = (tuple(int(v) for v in part.split(",")) for part in arch.split("/"))
    return widths, depths


def arch_multiply_adds(arch: str) -> int:
    from ferstream.training.model import multiply_adds

    return multiply_adds(*parse_arch(arch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--arch", metavar="WIDTHS/DEPTHS", help="time an untrained network instead, e.g. 32,64,128,256/1,1,2,3")
    parser.add_argument("--tta", choices=("none", "flip", "flip-zoom"), default="none", help="with --arch: views in the export")
    parser.add_argument("--quantize", choices=("dynamic", "int8", "none"), default="dynamic", help="with --arch: numbers in the export")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = untrained_export(args.arch, args.tta, args.quantize, Path(tmp)) if args.arch else args.model
        label = f"{args.arch} ({args.tta} views, {args.quantize}, untrained, {arch_multiply_adds(args.arch) / 1e6:.1f} M multiply-adds a view)" if args.arch else None
        print("| model | batch | threads | ms per face |\n|---|---|---|---|")
        for threads in args.threads:
            model = EmotionModel(path, num_threads=threads)
            name = label or f"{model.path.name} ({model.version})"
            print(f"| {name} | {args.batch} | {threads} | {per_face_ms(model, args.batch):.3f} |", flush=True)


if __name__ == "__main__":
    main()
