"""Request bodies read as they arrive, in bounded memory: multipart parts streamed to where they go (a video to a
file on disk, an image to memory), a JSON body read up to its limit. A body over its limit is refused at the limit:
by its declared length before a byte is read, else as soon as the bytes read pass it, and what was written goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from ferstream.api_server.problems import ApiProblem

MIB = 1024 * 1024
#: the largest form field (not a file) of a multipart body
MAX_FIELD_BYTES = 64 * 1024


@dataclass
class FilePart:
    field: str
    filename: str
    content_type: str
    sink: BinaryIO
    size: int = 0


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[FilePart] = field(default_factory=list)


def size_text(limit: int) -> str:
    """A size for a message: bytes under a megabyte ("65,536 bytes"), else megabytes ("64 MB", "1.5 MB")."""
    if limit < MIB:
        return f"{limit:,} bytes"
    return f"{limit / MIB:,.1f}".removesuffix(".0") + " MB"


def too_large(limit: int, what: str) -> ApiProblem:
    # the connection closes with the answer: the rest of the body is not read (and not drained) by the server
    return ApiProblem(413, "Content too large", f"{what} is larger than the {size_text(limit)} accepted",
                      {"Connection": "close"})


def check_length(request: Request, limit: int, what: str) -> None:
    """413 at once when the declared length passes ``limit`` (nothing read)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiProblem(400, "Bad request", "Content-Length is not a number")
        if int(declared) > limit:
            raise too_large(limit, what)


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The whole body, at most ``limit`` bytes."""
    check_length(request, limit, what)
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit, what)
        parts.append(chunk)
    return b"".join(parts)


async def read_json(request: Request, limit: int, what: str) -> object:
    body = await read_body(request, limit, what)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiProblem(400, "Bad request", f"the body is not valid JSON: {exc}") from None


async def read_multipart(request: Request, limit: int, what: str,
                         open_file: Callable[[str, str, str], BinaryIO], max_files: int) -> Form:
    """A multipart/form-data body: its fields, and its files each written to ``open_file(field, filename,
    content_type)``; at most ``limit`` bytes in all and ``max_files`` files. On any error the caller's sinks are
    left to the caller to remove (``Form`` so far is in the exception's ``form``)."""
    check_length(request, limit, what)
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiProblem(400, "Bad request", "a multipart/form-data body needs a boundary in its Content-Type")
    form = Form()
    state: dict = {"headers": {}, "field": b"", "value": b"", "part": None, "text": None}
    pending: list[tuple[BinaryIO, bytes]] = []
    problems: list[ApiProblem] = []

    def on_part_begin() -> None:
        state["headers"], state["part"], state["text"] = {}, None, None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if filename is None:
            state["text"] = (name, bytearray())
            return
        if len(form.files) >= max_files:
            problems.append(ApiProblem(413, "Content too large", f"at most {max_files} file(s) per request"))
            return
        content_type = state["headers"].get(b"content-type", b"application/octet-stream").decode("latin-1")
        part = FilePart(name, filename.decode("utf-8", "replace"), content_type,
                        open_file(name, filename.decode("utf-8", "replace"), content_type))
        form.files.append(part)
        state["part"] = part

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part, text = state["part"], state["text"]
        if part is not None:
            part.size += end - start
            pending.append((part.sink, bytes(data[start:end])))
        elif text is not None:
            text[1].extend(data[start:end])
            if len(text[1]) > MAX_FIELD_BYTES:
                problems.append(ApiProblem(413, "Content too large", f"the form field {text[0]!r} is over 64 kB"))

    def on_part_end() -> None:
        if state["text"] is not None:
            name, value = state["text"]
            form.fields[name] = value.decode("utf-8", "replace")

    parser = MultipartParser(boundary, {"on_part_begin": on_part_begin, "on_header_field": on_header_field,
                                        "on_header_value": on_header_value, "on_header_end": on_header_end,
                                        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
                                        "on_part_end": on_part_end})
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit, what)
            parser.write(chunk)
            if problems:
                raise problems[0]
            if pending:
                writes, pending[:] = list(pending), []
                await run_in_threadpool(_write_all, writes)
        parser.finalize()
    except ApiProblem as exc:
        exc.form = form  # type: ignore[attr-defined]
        raise
    except Exception as exc:  # the multipart parser's own errors: a malformed body
        error = ApiProblem(400, "Bad request", f"the multipart body is malformed: {type(exc).__name__}")
        error.form = form  # type: ignore[attr-defined]
        raise error from None
    return form


def _write_all(writes: list[tuple[BinaryIO, bytes]]) -> None:
    for sink, data in writes:
        sink.write(data)
