"""The higher-resolution copy ingest sends for the worker's discovery scans (issue 46): on the first frame of each
chunk only, at the source's width up to full HD, in the same compact chunk as the frames (JPEG), and readable by a
decoder that does not know it. Real video files, the real codec."""

from __future__ import annotations

import json
import struct

import cv2
import numpy as np

from bench.data import write_video
from ferstream.codec import decode_chunk, encode_chunk
from ferstream.ingest.chunks import chunk_frames
from ferstream.ingest.video import DETAIL_WIDTH, VideoReader, detail_scale
from ferstream.results import Chunk


def _clip(path, width: int, height: int, frames: int = 30):
    rng = np.random.default_rng(4)
    image = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), np.uint8), (9, 9), 3)
    return write_video(path, [np.roll(image, 4 * i, axis=1) for i in range(frames)], 24.0)


def test_each_chunks_first_frame_carries_a_full_hd_copy(tmp_path):
    clip = _clip(tmp_path / "uhd.mp4", 2560, 1440)
    plain = list(VideoReader(clip, None, 640))
    reader = VideoReader(clip, None, 640)
    reader.add_detail(12, 1.0)
    frames = list(reader)
    assert [i for i, f in enumerate(frames) if f.detail is not None] == [0, 12, 24]  # each chunk of 12 frames' first
    assert all(f.detail.shape == (1080, DETAIL_WIDTH) for f in frames if f.detail is not None)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(plain, frames))  # the analysed frames as before
    assert all(f.detail is None for f in plain)


def test_a_copy_is_also_due_a_discovery_period_into_a_long_chunk(tmp_path):
    reader = VideoReader(_clip(tmp_path / "hd.mp4", 1280, 720), None, 640)
    reader.add_detail(1000, 0.5)  # one chunk of every frame: a copy every half second of it
    assert [f.index for f in reader if f.detail is not None] == [0, 12, 24]


def test_no_copy_where_the_source_is_little_larger_than_the_analysis_frame(tmp_path):
    reader = VideoReader(_clip(tmp_path / "sd.mp4", 854, 480), None, 640)
    reader.add_detail(12)
    assert all(f.detail is None for f in reader)
    assert detail_scale(854, 854 / 640) is None and detail_scale(3840, 6.0) == 2.0 and detail_scale(1280, 2.0) == 1.0


def test_the_copy_travels_in_the_chunk_after_every_frame(tmp_path):
    reader = VideoReader(_clip(tmp_path / "fhd.mp4", 1920, 1080, 24), None, 640)
    reader.add_detail(12)
    chunk = next(chunk_frames(reader, 7, 12))
    data = encode_chunk(chunk)
    decoded = decode_chunk(data)
    assert decoded.frames[0].detail is None  # decoded only where a discovery scan reads it
    assert [f.detailed() is not None for f in decoded.frames] == [True] + [False] * 11
    assert decoded.frames[0].detail.shape == (1080, 1920)
    assert np.abs(decoded.frames[0].detail.astype(int) - chunk.frames[0].detail).mean() < 3  # JPEG, like the frames
    # a decoder that knows nothing of the copies reads the frames: they come first, the copies after them
    (n,) = struct.unpack(">I", data[:4])
    header = json.loads(data[4:4 + n])
    for meta in header["frames"]:
        meta.pop("detail_bytes", None)
    head = json.dumps(header).encode()
    older = decode_chunk(struct.pack(">I", len(head)) + head + data[4 + n:])
    assert all(np.array_equal(a.image, b.image) and b.detailed() is None for a, b in zip(decoded.frames, older.frames))
    without = encode_chunk(Chunk(7, 0, [f.__class__(f.index, f.timestamp, f.image) for f in chunk.frames]))
    assert len(data) > len(without)  # the copy's bytes, only on the frame that has one


def test_a_damaged_copy_loses_nothing_but_itself(tmp_path, caplog):
    """Bad input: a chunk whose copy's bytes are garbage still gives every frame; the copy reads as none, with a warning."""
    reader = VideoReader(_clip(tmp_path / "fhd.mp4", 1920, 1080, 24), None, 640)
    reader.add_detail(12)
    chunk = next(chunk_frames(reader, 7, 12))
    data = encode_chunk(chunk)
    (n,) = struct.unpack(">I", data[:4])
    size = json.loads(data[4:4 + n])["frames"][0]["detail_bytes"]
    damaged = decode_chunk(data[:-size] + b"\0" * size)  # the copy's bytes are the chunk's last
    assert all(np.array_equal(a.image, b.image) for a, b in zip(decode_chunk(data).frames, damaged.frames))
    assert damaged.frames[0].detailed() is None
    assert "higher-resolution copy is not a decodable JPEG" in caplog.text
