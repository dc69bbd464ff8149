"""Throughput: frames analysed per second, every frame, in one process, ferstream beside fer.

ferstream runs the code path of `ferstream analyze` without Redis: ingest.files.ingest_file
into the in-process sink (ferstream.sinks.make_sink) on a fresh SQLite file, so decoding,
grey and scale, detection, classification and the database write are all on the clock.
fer decodes with OpenCV and calls FER(mtcnn=False).detect_emotions(frame) on every frame.
Both run here, one after the other, on the same clip, with the same thread settings; each
loads its model before its clock starts. The clip is WolfgangLanger_Pexels.mp4 at its
native 640x360 and scaled up with OpenCV's VideoWriter (mp4v) into a temporary folder.
"decode" is OpenCV decoding every frame and nothing else: the ceiling. "reader" adds
ferstream's grey conversion and scaling to 640 px wide (ingest.video.VideoReader).

    python bench/throughput.py [--heights 360 720 1080] [--frames N] [--repeat R] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/throughput.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fer_side
from bench.data import CLIP, HEIGHTS, decode_rate, make_clip, media_file, read_frames
from bench.ferstream_side import analyze_in_process, ferstream_settings
from bench.script import base_parser, frames_limit, run_main
from bench.tables import Report, Row, fmt, markdown_table, ratio

#: ferstream's frames/s as a multiple of fer's, per frame height (issue 6)
TARGETS = {360: 2.0, 1080: 5.0}
#: fer's frames/s on this machine when the issue was written, for reference
FER_IN_ISSUE = {360: 38, 720: 14, 1080: 7}


def build_parser():
    parser = base_parser(__doc__)
    parser.add_argument("--heights", type=int, nargs="+", metavar="H",
                        help="frame heights to measure (default: 360 720 1080; 360 1080 with --quick)")
    parser.add_argument("--repeat", type=int, default=1, metavar="R", help="runs per measure; the median counts (default: 1)")
    return parser


def ferstream_run(clip: Path, folder: Path, name: str) -> tuple[int, int, float]:
    """(frames, faces, seconds) of `ferstream analyze`'s in-process path on a fresh SQLite file."""
    run = analyze_in_process(clip, folder, name)
    return run.sink.frames_done, run.sink.faces, run.seconds


def fer_run(detector, clip: Path) -> tuple[int, int, float]:
    """(frames, faces, seconds) of OpenCV decoding plus fer's detect_emotions on every frame."""
    found, seconds = fer_side.detect_all(detector, read_frames(clip))
    return len(found), sum(map(len, found)), seconds


def reader_run(clip: Path) -> tuple[int, float]:
    """Frames and seconds of ferstream's VideoReader alone: decode, grey, scale to the analysis width."""
    from ferstream.ingest.video import VideoReader

    start, n = time.perf_counter(), 0
    for _ in VideoReader(clip, None, ferstream_settings("sqlite://").analysis_width):
        n += 1
    return n, time.perf_counter() - start


def median_rate(runs: list[tuple]) -> float:
    """Median frames per second over runs whose first item is frames and last is seconds."""
    return statistics.median(r[0] / r[-1] for r in runs)


def measure(args, folder: Path) -> Report:
    src = media_file(args, CLIP)
    limit = frames_limit(args)
    fer = fer_side.load_fer(args)
    if fer is not None:
        fer.detect_emotions(next(read_frames(src, 1)))  # warm-up: first-call set-up off the clock
    rows, summary = [], []
    for height in args.heights or ([360, 1080] if args.quick else list(HEIGHTS)):
        clip = make_clip(src, folder, height, limit)
        decode = [decode_rate(clip) for _ in range(args.repeat)]
        reader = [reader_run(clip) for _ in range(args.repeat)]
        ours, theirs = [], []
        for i in range(args.repeat):  # interleaved, so a change in the machine's load hits both sides
            ours.append(ferstream_run(clip, folder, f"throughput-{height}-{i}"))
            if fer is not None:
                theirs.append(fer_run(fer, clip))
        frames, faces = ours[0][0], ours[0][1]
        fps = median_rate(ours)
        fer_fps = median_rate(theirs) if theirs else None
        fer_faces = fmt(theirs[0][1] / max(theirs[0][0], 1), 2) if theirs else "n/a"
        x = ratio(fps, fer_fps)
        target = TARGETS.get(height)
        size = f"{round(height * 16 / 9)}x{height}"
        rows.append([size, frames, fmt(median_rate(decode)), fmt(median_rate(reader)), fmt(fps),
                     fmt(faces / max(frames, 1), 2), fmt(fer_fps), fer_faces, fmt(x, 2, "x"),
                     f">= {target:g}x" if target else "", FER_IN_ISSUE.get(height, "")])
        summary.append(Row("throughput", f"frames/s at {size} (decode alone {fmt(median_rate(decode), 0)})",
                           f"{fmt(fps)} ({fmt(x, 2, 'x')} fer)" if x is not None else fmt(fps), fmt(fer_fps),
                           f">= {target:g}x fer" if target else "", (x >= target) if target and x is not None else None))
    table = markdown_table(
        ["frames", "n", "decode fps", "reader fps", "ferstream fps", "faces/frame", "fer fps", "fer faces/frame",
         "ferstream / fer", "target", "fer fps in issue"], rows)
    note = (f"Every frame, one process, median of {args.repeat} run(s); ferstream includes the SQLite write. "
            "Both models load before the clock starts. 640x360 is the file itself (H.264, unless --frames cuts it); "
            "the larger sizes are mp4v re-encodes made here.")
    return Report("Throughput", [table, note], summary)


if __name__ == "__main__":
    sys.exit(run_main(build_parser, measure))
