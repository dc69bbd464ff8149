"""Batched per-face inference time of an emotion model (the worker's code path), with the CPU's SIMD flags.

    python bench/classifier_speed.py [--model ferstream/models/ferstream-emotion.tflite] [--batch 32] [--threads 1 2]
    python bench/classifier_speed.py --arch 32,64,128,256/1,1,2,3 [--tta none] [--quantize dynamic]
    python bench/classifier_speed.py --arch 24,48,112,208/2,2,3,3 24,48,96,176/2,2,3,3 --rounds 6 --threads 2
    python bench/classifier_speed.py --arch 24,48,112,208/2,2,3,3 --per-stage --threads 2

``--arch WIDTHS/DEPTHS`` times a network of the training job's family before training it: random
weights, exported as ``ferstream train`` would (needs the training extra). The time does not depend
on the weights. ``--per-stage`` times the network cut after each stage (one view, LiteRT called
directly), so each stage's share of the time and its cost per million multiply-adds show: a
convolution on a large, thin feature map costs more per multiply-add than one on a small, wide map.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/classifier_speed.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import cpu_flags, ms_per_item
from ferstream.emotion_model import DEFAULT_MODEL, EmotionModel
from ferstream.training.cli import TTA_CHOICES


def per_face_ms(model: EmotionModel | Prefix, batch: int, seconds: float = 3.0) -> float:
    faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48, 1)).astype(np.float32)
    return ms_per_item(lambda: model.predict(faces), batch, seconds, warm_up=5, min_calls=1)


def untrained_export(arch: str, tta: str, quantize: str, folder: Path) -> Path:
    """An export of the network ``WIDTHS/DEPTHS`` with random weights, as the training job exports."""
    from ferstream.training.export import export_model
    from ferstream.training.model import build_model

    widths, depths = parse_arch(arch)
    model = build_model(widths=widths, depths=depths)
    calibration = np.random.default_rng(0).integers(0, 256, (64, 48, 48)).astype(np.float32)
    return export_model(model, folder / "arch", tta=tta, quantize=quantize, calibration=calibration)["tflite"]


def per_stage(arch: str, quantize: str, batch: int, threads: int, folder: Path, rounds: int = 3) -> list[tuple]:
    """(stage, its widths x depth at side x side, its multiply-adds, ms per face up to its end, ms per face of it)
    for each stage of the network ``arch``: the prefixes are exported and timed in turn, ``rounds`` times, medians."""
    import keras

    from ferstream.training.export import to_tflite
    from ferstream.training.model import build_model, multiply_adds

    widths, depths = parse_arch(arch)
    model = build_model(widths=widths, depths=depths)
    paths = []
    for stage in range(len(widths)):
        last = f"s{stage}_pool" if stage < len(widths) - 1 else model.layers[-1].name
        prefix = keras.Model(model.inputs, model.get_layer(last).output)
        paths.append(folder / f"stage{stage}.tflite")
        paths[-1].write_bytes(to_tflite(prefix, tta="none", quantize=quantize))
    prefixes = [Prefix(p, threads) for p in paths]
    times = [[per_face_ms(prefix, batch, seconds=2.0) for prefix in prefixes] for _ in range(rounds)]
    upto = [float(np.median(t)) for t in zip(*times)]
    rows, before, prev_ms = [], 0, 0.0
    for stage, ms in enumerate(upto):
        total = multiply_adds(widths[:stage + 1], depths[:stage + 1]) - widths[stage] * 7  # less the classifier
        side = 48 // 2**stage
        rows.append((stage, f"{widths[stage]}x{depths[stage]} at {side}x{side}", total - before, ms, ms - prev_ms))
        before, prev_ms = total, ms
    return rows


class Prefix:
    """A TFLite model with any output (a network cut after a stage), called as ``EmotionModel.predict`` is."""

    def __init__(self, path: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.index, self.batch = self.interpreter.get_input_details()[0]["index"], 0

    def predict(self, faces: np.ndarray) -> np.ndarray:
        if len(faces) != self.batch:
            self.interpreter.resize_tensor_input(self.index, list(faces.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(faces)
        self.interpreter.set_tensor(self.index, faces)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])


def parse_arch(arch: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    widths, depths = (tuple(int(v) for v in part.split(",")) for part in arch.split("/"))
    return widths, depths


def arch_multiply_adds(arch: str) -> int:
    from ferstream.training.model import multiply_adds

    return multiply_adds(*parse_arch(arch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=[str(DEFAULT_MODEL)], help="one or more .tflite exports")
    parser.add_argument("--arch", metavar="WIDTHS/DEPTHS", nargs="+",
                        help="time untrained networks instead, e.g. 32,64,128,256/1,1,2,3 24,48,96,176/2,2,3,3")
    parser.add_argument("--tta", choices=TTA_CHOICES, default="none", help="with --arch: views in the export")
    parser.add_argument("--quantize", choices=("dynamic", "int8", "none"), default="dynamic", help="with --arch: numbers in the export")
    parser.add_argument("--per-stage", action="store_true",
                        help="with one --arch: the time of each stage (one view; --quantize dynamic or none)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time every model this many times in turn and print the median and the range: on a "
                             "shared or virtual CPU one timing can be 10%% off (default: 1)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    print(f"CPU flags: {cpu_flags()}\n")
    if args.per_stage:
        if not args.arch or len(args.arch) != 1 or args.quantize == "int8":
            parser.error("--per-stage needs one --arch, and --quantize dynamic or none")
        print_per_stage(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.arch:
            paths = [untrained_export(arch, args.tta, args.quantize, Path(tmp) / str(i)) for i, arch in enumerate(args.arch)]
            labels = [f"{arch} ({args.tta} views, {args.quantize}, untrained, {arch_multiply_adds(arch) / 1e6:.1f} M "
                      "multiply-adds a view)" for arch in args.arch]
        else:
            paths, labels = args.model, [None] * len(args.model)
        spread = args.rounds > 1
        print("| model | batch | threads | ms per face |" + (f" range over {args.rounds} rounds |" if spread else "")
              + "\n|---|---|---|---|" + ("---|" if spread else ""))
        for threads in args.threads:
            models = [EmotionModel(path, num_threads=threads) for path in paths]
            laps = [[per_face_ms(model, args.batch) for model in models] for _ in range(args.rounds)]
            for model, label, times in zip(models, labels, zip(*laps)):
                shown = model.path.name if len(paths) == 1 else model.path  # several exports: tell them apart
                name = label or f"{shown} ({model.version})"
                extra = f" {min(times):.3f}-{max(times):.3f} |" if spread else ""
                print(f"| {name} | {args.batch} | {threads} | {float(np.median(times)):.3f} |{extra}", flush=True)


def print_per_stage(args: argparse.Namespace) -> None:
    print(f"{args.arch[0]}, one view, {args.quantize} weights, batch {args.batch}, LiteRT called directly\n")
    print("| stage | channels x convolutions | threads | M multiply-adds | ms per face up to its end | ms per face in it "
          "| µs per M multiply-adds |\n|---|---|---|---|---|---|---|")
    for threads in args.threads:
        with tempfile.TemporaryDirectory() as tmp:
            for stage, shape, macs, upto, own in per_stage(args.arch[0], args.quantize, args.batch, threads, Path(tmp)):
                print(f"| {stage} | {shape} | {threads} | {macs / 1e6:.1f} | {upto:.3f} | {own:.3f} | "
                      f"{own * 1000 / (macs / 1e6):.1f} |", flush=True)


if __name__ == "__main__":
    main()
