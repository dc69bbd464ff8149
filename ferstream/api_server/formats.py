"""Face and track rows as the caller asks (``?format=`` or ``Accept``): a JSON page, or CSV or Parquet streamed a
page of rows at a time, so that a million rows never sit in the server's memory."""

from __future__ import annotations

import io
from typing import Iterable, Iterator

from fastapi import Request

from ferstream.api_server.problems import ApiProblem

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
_ACCEPTED = {"application/json": "json", "text/csv": "csv", "application/vnd.apache.parquet": "parquet",
             "application/x-parquet": "parquet", "application/parquet": "parquet"}


def chosen_format(request: Request, given: str | None) -> str:
    """``?format=`` when given, else the first of ``Accept`` the API serves, else JSON; 406 for an unknown one."""
    if given:
        if given not in MEDIA:
            raise ApiProblem(422, "Unprocessable content", f"format: one of {', '.join(MEDIA)}, got {given!r}")
        return given
    for item in request.headers.get("accept", "").split(","):
        kind = item.split(";")[0].strip().lower()
        if kind in _ACCEPTED:
            return _ACCEPTED[kind]
        if kind in ("*/*", "application/*", ""):
            return "json"
    raise ApiProblem(406, "Not acceptable", f"the rows are served as {', '.join(MEDIA.values())}")


def csv_stream(pages: Iterable[list[dict]], columns: list[str]) -> Iterator[bytes]:
    import pandas as pd

    yield (",".join(columns) + "\n").encode()
    for rows in pages:
        out = io.StringIO()
        pd.DataFrame(rows, columns=columns).to_csv(out, index=False, header=False)
        yield out.getvalue().encode()


def parquet_stream(pages: Iterable[list[dict]], columns: list[str], schema) -> Iterator[bytes]:
    """Parquet written a row group per page into a buffer emptied after each: the bytes go as they are made."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = _Drain()
    with pq.ParquetWriter(buffer, schema) as writer:
        for rows in pages:
            writer.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=schema))
            yield buffer.take()
    yield buffer.take()


class _Drain(io.RawIOBase):
    """A write-only stream whose bytes are taken away as they come."""

    def __init__(self):
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def face_schema(columns: list[str]):
    import pyarrow as pa

    types = {"frame_index": pa.int64(), "face_index": pa.int64(), "timestamp": pa.float64(),
             "captured_at": pa.timestamp("us", tz="UTC"), "track_id": pa.int64(), "x": pa.int64(), "y": pa.int64(),
             "w": pa.int64(), "h": pa.int64(), "emotion": pa.string(), "confidence": pa.float64(),
             "quality": pa.float64(), "uncertain": pa.bool_(), "model_version": pa.string()}
    return pa.schema([(c, types.get(c, pa.float64())) for c in columns])
