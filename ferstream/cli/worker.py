"""``ferstream worker``: RQ workers analysing queued chunks, one process or a pool."""

from __future__ import annotations

import argparse

from ferstream.cli.options import (add_detector, add_metrics, add_model, add_preview, add_services, int_at_least,
                                   settings_of)
from ferstream.console import run_command


def register(sub) -> None:
    """worker."""
    p = sub.add_parser("worker", help="run RQ workers that analyse queued chunks",
                       description="RQ SimpleWorkers: each process loads the detector and model once and reuses them for every job.")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--processes", type=int_at_least(1), default=1, metavar="N", help="worker processes (default: %(default)s; about one per core)")
    p.add_argument("--name", help="worker name (default: RQ's)")
    add_metrics(p)
    add_model(p)
    p.add_argument("--min-face", type=float, metavar="FRACTION", help="smallest face to find, as a fraction of the frame's shorter side (default: 0.13, or FERSTREAM_MIN_FACE; smaller finds smaller faces, more slowly)")
    add_detector(p)
    add_preview(p, "every source this worker analyses (the more private of this and the chunk's --preview wins)")
    add_services(p)
    p.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import contextlib

    # the multiprocess folder is set before anything imports prometheus_client (worker.process does)
    with _metrics_multiprocess() if args.metrics_port is not None and args.processes > 1 else contextlib.nullcontext():
        from ferstream.worker.process import run_workers

        return run_command(lambda: run_workers(settings_of(args), burst=args.burst, processes=args.processes,
                                               name=args.name, metrics_port=args.metrics_port,
                                               metrics_host=args.metrics_host))


def _metrics_multiprocess():
    """prometheus-client's multiprocess mode for a worker pool: a fresh folder (PROMETHEUS_MULTIPROC_DIR) where every
    process keeps its counts, set before anything imports the library; the pool's one endpoint merges them. A folder
    made here goes when the pool ends."""
    import contextlib
    import os
    import shutil
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    made = not folder
    if folder:
        shutil.rmtree(folder, ignore_errors=True)  # an earlier run's counts must not add to this one's
        os.makedirs(folder)
    else:
        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ferstream-metrics-")
    owner = os.getpid()

    @contextlib.contextmanager
    def removed_at_the_end():
        try:
            yield
        finally:
            if made and os.getpid() == owner:  # the pool's parent, not a forked worker leaving
                shutil.rmtree(folder, ignore_errors=True)

    return removed_at_the_end()
