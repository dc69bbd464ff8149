"""What the frame codec costs: bytes per queued frame (Redis memory) and encode + decode time, per choice.

Both analysis paths pass frames through the queue's codec (in-process analysis round-trips them too), so
the choice sets Redis memory per waiting chunk and the time every frame spends in the codec:

    python bench/codec.py [VIDEO] [--frames 200]

VIDEO defaults to WolfgangLanger_Pexels.mp4 in --media (or the astronaut clip when the media is absent).
Frames are the grey, scaled analysis frames ingest queues.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.script import base_parser
from bench.tables import markdown_table
from bench.timing import environment
from ferstream.ingest.video import VideoReader

#: name -> (encode, decode); each encode returns bytes
CHOICES = {
    "JPEG q90 (shipped)": (lambda f: cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(),
                           lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE)),
    "JPEG q95": (lambda f: cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes(),
                 lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE)),
    "PNG level 1 (lossless)": (lambda f: cv2.imencode(".png", f, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes(),
                               lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE)),
    "raw (lossless)": (lambda f: f.tobytes(), lambda b: np.frombuffer(b, np.uint8)),
}


def measure(frames: list[np.ndarray]) -> list[list[str]]:
    rows = []
    pixels = frames[0].size
    for name, (encode, decode) in CHOICES.items():
        start = time.perf_counter()
        blobs = [encode(f) for f in frames]
        encoded = time.perf_counter()
        for b in blobs:
            decode(b)
        done = time.perf_counter()
        size = np.mean([len(b) for b in blobs])
        changed = np.mean([np.abs(decode(b).reshape(f.shape).astype(int) - f).mean() for b, f in zip(blobs, frames)])
        chunk_mib = size * 24 * 32 / 2**20  # 32 waiting 1-second chunks of a 24 fps source
        rows.append([name, f"{size / 1024:.1f}", f"{size / pixels:.3f}", f"{chunk_mib:.0f}",
                     f"{(encoded - start) / len(frames) * 1000:.2f}", f"{(done - encoded) / len(frames) * 1000:.2f}",
                     f"{changed:.2f}"])
    return rows


def main() -> None:
    parser = base_parser(__doc__, frames_help="frames measured (default: 200)")
    parser.add_argument("video", nargs="?", type=Path, help="video to take frames from")
    args = parser.parse_args()
    video = args.video or args.media / "WolfgangLanger_Pexels.mp4"
    if not video.exists():
        from ferstream.demo import make_astronaut_video

        video = make_astronaut_video(Path(tempfile.mkdtemp()) / "astronaut.mp4")
    frames = []
    for frame in VideoReader(video):
        frames.append(frame.image)
        if len(frames) == (args.frames or 200):
            break
    h, w = frames[0].shape
    print(f"{len(frames)} grey analysis frames ({w}x{h}) of {video.name}\n{environment()}\n")
    print(markdown_table(["codec", "KiB per frame", "bytes per pixel", "Redis MiB, 32 chunks of 24 frames waiting",
                          "encode ms", "decode ms", "mean abs grey-level change"], measure(frames)))


if __name__ == "__main__":
    main()
