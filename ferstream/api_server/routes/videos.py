"""``POST /v1/videos``: a video to analyse (a multipart upload, or JSON with a URL FFmpeg can read), answered
``202`` with its source id and URL while ingest goes on (``api_server.videos``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ferstream.api_server.auth import writer
from ferstream.api_server.downloads import fetch_video
from ferstream.api_server.problems import ApiProblem
from ferstream.api_server.state import ApiState, api_state
from ferstream.api_server.uploads import MIB, read_json, read_multipart
from ferstream.errors import FerstreamError, VideoError
from ferstream.ingest.files import safe_name
from ferstream.urls import scheme

router = APIRouter(prefix="/v1", tags=["videos"], dependencies=[Depends(writer)])


class VideoUrlIn(BaseModel):
    url: str = Field(description="an http(s) URL of a video file, of a public address unless the server opens its "
                     "network (--allow-url-net); file:// and paths only with --allow-local-files")
    name: str | None = Field(None, max_length=255, description="the source's name (default: the file's)")
    sample_fps: float | None = Field(None, gt=0, le=1000, description="frames per second analysed (default: every frame)")


class Submitted(BaseModel):
    id: int
    url: str = Field(description="where its state and results are: GET it")
    status: str = "queued"


_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}, "name": {"type": "string"},
        "sample_fps": {"type": "number"}}}},
    "application/json": {"schema": VideoUrlIn.model_json_schema(ref_template="#/components/schemas/{model}")},
}}}


@router.post("/videos", status_code=202, response_model=Submitted, openapi_extra=_BODY,
             summary="submit a video (upload or URL): analysed by the workers (Redis) or in the server")
async def submit_video(request: Request, state: ApiState = Depends(api_state)):
    config = state.config
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        path, name, sample_fps = await _upload(request, state)
        remove = True
    elif kind == "application/json":
        body = await read_json(request, 64 * 1024, "the request")
        try:
            given = VideoUrlIn.model_validate(body)
        except Exception as exc:
            raise ApiProblem(422, "Unprocessable content", "expected {\"url\": URL, \"name\": ..., \"sample_fps\": ...}: "
                             + "; ".join(e["msg"] for e in getattr(exc, "errors", lambda: [])())) from None
        path = state.videos.check_url(given.url, config.allow_local_files)
        name, sample_fps, remove = given.name, given.sample_fps, False
        if scheme(path):  # fetched by the server itself, every hop's address checked (api_server.downloads)
            stored, file_name = await run_in_threadpool(fetch_video, path, state.videos.folder, config.max_upload_mb,
                                                        config.allow_url_networks)
            path, name, remove = str(stored), name or file_name, True
    else:
        raise ApiProblem(415, "Unsupported media type", "send the video as multipart/form-data (a `file` part) or "
                         "application/json ({\"url\": URL})")
    source_id = await run_in_threadpool(state.videos.submit, path, name=name, sample_fps=sample_fps, remove=remove,
                                        wait_s=config.submit_wait_s)
    where = f"/v1/sources/{source_id}"
    return JSONResponse(Submitted(id=source_id, url=where).model_dump(), status_code=202, headers={"Location": where})


async def _upload(request: Request, state: ApiState) -> tuple[str, str, float | None]:
    """The upload streamed to the upload folder and checked by its content: a whole video, renamed from .part."""
    folder = state.videos.folder
    part = folder.new_name()
    stored = None
    opened = []

    def open_file(field, filename, content_type):
        if field not in ("file", "video"):
            raise ApiProblem(422, "Unprocessable content", f"unexpected file part {field!r}: send the video as `file`")
        opened.append(folder.create(part))
        return opened[-1]

    try:
        form = await read_multipart(request, state.config.max_upload_mb * MIB, "the upload", open_file, max_files=1)
        for f in opened:
            f.close()
        if not form.files:
            raise ApiProblem(422, "Unprocessable content", "no video in the request: send it as a `file` part")
        upload = form.files[0]
        if upload.size == 0:
            raise ApiProblem(422, "Unprocessable content", f"{safe_name(upload.filename)} is empty")
        sample_fps = _sample_fps(form.fields.get("sample_fps"))
        name = (form.fields.get("name") or "").strip()[:255] or safe_name(upload.filename)
        stored = folder.rename(part, f"{part.removesuffix('.part')}-{safe_name(upload.filename)}")
        await run_in_threadpool(_check_video, stored, safe_name(upload.filename))
        return str(stored), name, sample_fps
    except BaseException:
        for f in opened:
            f.close()
        folder.remove(part)
        if stored is not None:
            folder.remove(stored.name)
        raise


def _check_video(path: Path, shown: str) -> None:
    from ferstream.ingest.video import probe_video

    try:
        info = probe_video(path)
    except VideoError:
        raise ApiProblem(422, "Unprocessable content", f"{shown} is not a video: no frame of it can be decoded") from None
    if info.frame_count == 1:
        raise ApiProblem(422, "Unprocessable content", f"{shown} is a still image, not a video: POST it to /v1/analyze")


def _sample_fps(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    from ferstream.settings import positive_number

    try:
        return positive_number(float(text), "sample_fps")
    except (ValueError, FerstreamError):
        raise ApiProblem(422, "Unprocessable content", f"sample_fps: a number of frames per second above 0") from None
