"""Every benchmark of issue 6, ferstream beside fer, in one run; one Markdown table at the end.

Runs throughput, parity, detectors, tracks, accuracy, real emotions, real quality, scale-out, cost curve, memory, events, the HTTP API and gallery views in this order, in this
process (scale-out and memory start their own subprocesses), sharing one folder of clips
made at run time. Each benchmark's detail tables print as it finishes; the summary table,
with the command, machine and versions, prints last and, with the details, goes to --out.
A benchmark that fails is reported in the table and the others still run (exit status 1).

    python bench/run_all.py [--out runs/bench/results.md] [--only NAME ...] [--skip NAME ...] [--quick] [--no-fer]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/run_all.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import DEFAULT_FER2013, DEFAULT_MEDIA
from bench.script import setup_process, workdir
from bench.tables import Report, Row, summary_table
from bench.timing import environment

BENCHMARKS = ("throughput", "parity", "detectors", "tracks", "accuracy", "real_emotions", "real_quality", "scaleout",
              "cost_curve", "memory", "events", "api", "gallery")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the summary and the details to FILE (Markdown)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME", help=f"run only these: {', '.join(BENCHMARKS)}")
    parser.add_argument("--skip", nargs="+", choices=BENCHMARKS, default=[], metavar="NAME", help="leave these out")
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder with the real footage (default: ../shared/media)")
    parser.add_argument("--data", type=Path, default=DEFAULT_FER2013, help="FER-2013 for the accuracy benchmark")
    parser.add_argument("--frames", type=int, metavar="N", help="frames per clip, for the benchmarks that take --frames")
    parser.add_argument("--quick", action="store_true", help="smoke run: every benchmark on a few frames")
    parser.add_argument("--no-fer", action="store_true", help="measure ferstream only (fer not installed)")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="folder for clips and databases (default: a temporary one)")
    return parser


def benchmark_args(module, args: argparse.Namespace, folder: Path) -> argparse.Namespace:
    """The benchmark's own arguments: its defaults, with the options of this run that it takes."""
    forwarded = [f"--media={args.media}", f"--workdir={folder}", f"--data={args.data}"]
    forwarded += ["--quick"] * args.quick + ["--no-fer"] * args.no_fer
    if args.frames:
        forwarded.append(f"--frames={args.frames}")
    ns, _unknown = module.build_parser().parse_known_args(forwarded)
    return ns


def main(argv: list[str] | None = None) -> int:
    setup_process()
    args = build_parser().parse_args(argv)
    if not args.media.is_dir():
        print(f"bench: media folder {args.media} not found (set --media or FERSTREAM_MEDIA)", file=sys.stderr)
        return 2
    chosen = [b for b in (args.only or BENCHMARKS) if b not in args.skip]
    reports: list[Report] = []
    failed = False
    with workdir(args) as folder:
        for name in chosen:
            module = importlib.import_module(f"bench.{name}")
            start = time.perf_counter()
            try:
                report = module.measure(benchmark_args(module, args, folder), folder)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
                traceback.print_exc()
                failed = True
                report = Report(name, [f"failed: `{type(exc).__name__}: {exc}`"],
                                [Row(name, f"failed: {type(exc).__name__}: {str(exc)[:120]}", "", "", "", False)])
            report.details.append(f"({time.perf_counter() - start:.0f} s)")
            print(report.markdown() + "\n", flush=True)
            reports.append(report)
    summary = summary_table([row for r in reports for row in r.rows])
    head = environment()
    print(head + "\n\n" + summary, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# ferstream beside fer\n\n" + head + "\n\n" + summary + "\n\n"
                            + "\n\n".join(r.markdown() for r in reports) + "\n")
        print(f"\nwrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
