"""The frame codec: chunks of grey frames as compact bytes for Redis.

Layout: a 4-byte big-endian header length, a JSON header (source, chunk index,
per-frame index, timestamp, wall-clock time, scale, JPEG length, and the JPEG
length of its higher-resolution copy where it has one), then the JPEG-encoded
grey frames back to back, then the higher-resolution copies back to back (after
every frame, so a decoder that does not know them still reads the frames).
"""

from __future__ import annotations

import json
import logging
import struct
from functools import partial
from datetime import datetime

import cv2
import numpy as np

from ferstream.errors import FerstreamError
from ferstream.results import Chunk, Frame

log = logging.getLogger(__name__)

FORMAT = "ferstream-chunk/1"


class CodecError(FerstreamError):
    """A queued chunk cannot be decoded (corrupt or foreign bytes)."""


def encode_image(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise CodecError("JPEG encoding failed")
    return buf.tobytes()


def decode_image(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
    if image is None:
        raise CodecError("frame is not a decodable JPEG")
    return image


def _decode_detail(data: bytes, index: int) -> np.ndarray | None:
    """A frame's higher-resolution copy, or None where it does not decode: the discovery scan then reads the frame
    itself, and the chunk's frames are analysed as ever (a damaged copy never loses them)."""
    try:
        return decode_image(data)
    except CodecError:
        log.warning("frame %d: its higher-resolution copy is not a decodable JPEG; the discovery scan reads the frame", index)
        return None


def encode_chunk(chunk: Chunk, quality: int = 90) -> bytes:
    blobs = [encode_image(f.image, quality) for f in chunk.frames]
    details = [encode_image(f.detailed(), quality) if f.detailed() is not None else None for f in chunk.frames]
    header = {
        "format": FORMAT,
        "source_id": chunk.source_id,
        "index": chunk.index,
        "frames": [
            {
                "index": f.index,
                "timestamp": f.timestamp,
                "captured_at": f.captured_at.isoformat() if f.captured_at else None,
                "scale": f.scale,
                "bytes": len(b),
                **({"detail_bytes": len(d)} if d is not None else {}),
            }
            for f, b, d in zip(chunk.frames, blobs, details)
        ],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(head)) + head + b"".join(blobs) + b"".join(d for d in details if d is not None)


def decode_chunk(data: bytes) -> Chunk:
    try:
        (n,) = struct.unpack(">I", data[:4])
        header = json.loads(data[4:4 + n])
        if header.get("format") != FORMAT:
            raise ValueError(f"unknown format {header.get('format')!r}")
        offset = 4 + n
        frames = []
        for meta in header["frames"]:
            blob = data[offset:offset + meta["bytes"]]
            offset += meta["bytes"]
            captured = datetime.fromisoformat(meta["captured_at"]) if meta["captured_at"] else None
            frames.append(Frame(meta["index"], meta["timestamp"], decode_image(blob), captured, meta["scale"]))
        for frame, meta in zip(frames, header["frames"]):
            if meta.get("detail_bytes"):  # decoded where a discovery scan reads it (Frame.detailed)
                frame.detail_loader = partial(_decode_detail, data[offset:offset + meta["detail_bytes"]], meta["index"])
                offset += meta["detail_bytes"]
    except CodecError:
        raise
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise CodecError(f"corrupt chunk: {exc}") from exc
    return Chunk(header["source_id"], header["index"], frames)


def as_queued(chunk: Chunk, quality: int = 90) -> Chunk:
    """``chunk`` as a worker gets it from the queue (through this codec): what the in-process paths analyse, so
    they give the rows a queued chunk gives."""
    return decode_chunk(encode_chunk(chunk, quality))
