"""Time of one training step of the training job, float32 against mixed bfloat16, with the CPU's flags.

    python bench/train_step.py [--arch 24,48,112,208/2,2,3,3] [--batch 128] [--steps 10]

Each step is the one ``ferstream train`` fits: augmentation, the network, AdamW, random faces (the time does not
depend on them). Use it to choose ``ferstream train --precision`` on a machine: mixed-bfloat16 pays where the CPU
has bfloat16 units (lscpu ``amx_bf16`` or ``avx512_bf16``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: python bench/train_step.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.classifier_speed import parse_arch
from bench.timing import cpu_flags


#: steps left out of the timing: the first traces the step, and oneDNN sets up its kernels in the next ones
WARM_UP = 5


def step_ms(arch: str, precision: str, batch: int, steps: int) -> float:
    import keras

    from ferstream.training.model import build_augmentation, build_model, build_trainer

    widths, depths = parse_arch(arch)
    trainer = build_trainer(build_model(widths=widths, depths=depths, precision=precision), build_augmentation())
    trainer.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch * (WARM_UP + steps), 48, 48, 1)).astype(np.float32)
    targets = np.eye(7, dtype=np.float32)[rng.integers(0, 7, len(faces))]
    ends = step_clock()
    trainer.fit(faces, targets, batch_size=batch, epochs=1, verbose=0, callbacks=[ends])
    return float(np.median(np.diff(ends.times[WARM_UP - 1:]))) * 1000  # steady steps: not the tracing, not oneDNN's set-up


def step_clock():
    """A Keras callback that notes the time at the end of each training step (``.times``)."""
    import keras

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    return StepClock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="24,48,112,208/2,2,3,3", metavar="WIDTHS/DEPTHS")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", nargs="+", default=["float32", "mixed-bfloat16"])
    args = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}\n")
    print("| network | precision | faces a step | ms a step | s an epoch of 28,709 faces |\n|---|---|---|---|---|")
    for precision in args.precision:
        ms = step_ms(args.arch, precision, args.batch, args.steps)
        print(f"| {args.arch} | {precision} | {args.batch} | {ms:.0f} | {ms * 28709 / args.batch / 1000:.0f} |", flush=True)


if __name__ == "__main__":
    main()
