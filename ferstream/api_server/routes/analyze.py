"""``POST /v1/analyze``: photos analysed now (multipart files, or JSON with base64), each photo's faces answered."""

from __future__ import annotations

import base64
import binascii
import io

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ferstream.api_server.analysis import decode_photo
from ferstream.api_server.auth import writer
from ferstream.api_server.problems import ApiProblem
from ferstream.api_server.state import ApiState, api_state
from ferstream.api_server.uploads import MIB, read_json, read_multipart

#: a read-only key may not analyse: running the model is compute spent for the caller, a write as /v1/videos is
router = APIRouter(prefix="/v1", tags=["analyze"], dependencies=[Depends(writer)])


class Box(BaseModel):
    x: int
    y: int
    w: int
    h: int


class FaceOut(BaseModel):
    box: Box = Field(description="in the photo's pixels")
    probabilities: dict[str, float] = Field(description="the seven emotions' probabilities")
    emotion: str
    confidence: float
    quality: float | None = Field(None, description="how far the face can be read, 0..1: its worst aspect of pose, "
                                  "sharpness, light and size (null: not measured)")
    uncertain: bool = Field(False, description="kept, but its emotion is not to be trusted (low quality, or a model "
                                               "unsure of it): left out of summaries and shares by default")


class PhotoOut(BaseModel):
    index: int
    name: str | None
    width: int
    height: int
    faces: list[FaceOut]


class AnalyzeOut(BaseModel):
    images: list[PhotoOut]
    model_version: str


class ImageIn(BaseModel):
    data: str = Field(description="the encoded photo (JPEG, PNG, ...), base64")
    name: str | None = None


class AnalyzeIn(BaseModel):
    images: list[ImageIn | str] = Field(description="photos: objects with `data` (base64), or base64 strings")


_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "images": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
    "application/json": {"schema": AnalyzeIn.model_json_schema(ref_template="#/components/schemas/{model}")},
}}}


@router.post("/analyze", response_model=AnalyzeOut, openapi_extra=_BODY,
             summary="faces and emotions of one or more photos, now (the worker's detector and model)")
async def analyze(request: Request, state: ApiState = Depends(api_state)) -> AnalyzeOut:
    config = state.config
    limit = config.max_analyze_mb * MIB
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await read_multipart(request, limit, "the request", lambda *_: io.BytesIO(), config.max_images)
        photos = [(f.filename, f.sink.getvalue()) for f in form.files]
    elif kind == "application/json":
        photos = _from_json(await read_json(request, limit, "the request"))
    else:
        raise ApiProblem(415, "Unsupported media type", "send the photos as multipart/form-data (files) or as "
                         "application/json ({\"images\": [{\"data\": BASE64}]})")
    if not photos:
        raise ApiProblem(422, "Unprocessable content", "no photo in the request")
    if len(photos) > config.max_images:
        raise ApiProblem(413, "Content too large", f"{len(photos)} photos: at most {config.max_images} per request")
    try:
        with anyio.fail_after(config.request_timeout_s):
            results = await run_in_threadpool(_analyze_all, state, photos)
    except TimeoutError:
        raise ApiProblem(503, "Service unavailable", f"the analysis took longer than {config.request_timeout_s:g}s: "
                         "send fewer or smaller photos") from None
    return AnalyzeOut(images=results, model_version=state.photos.runtime.model.version)


def _from_json(body: object) -> list[tuple[str | None, bytes]]:
    try:
        request = AnalyzeIn.model_validate(body)
    except Exception:
        raise ApiProblem(422, "Unprocessable content", "expected {\"images\": [{\"data\": BASE64, \"name\": ...}]} or "
                         "{\"images\": [BASE64, ...]}") from None
    photos = []
    for i, item in enumerate(request.images):
        data, name = (item, None) if isinstance(item, str) else (item.data, item.name)
        if "," in data[:100] and data.startswith("data:"):
            data = data.split(",", 1)[1]  # a data: URL
        try:
            photos.append((name, base64.b64decode(data, validate=True)))
        except (binascii.Error, ValueError):
            raise ApiProblem(422, "Unprocessable content", f"image {i}: not valid base64") from None
    return photos


def _analyze_all(state: ApiState, photos: list[tuple[str | None, bytes]]) -> list[PhotoOut]:
    out = []
    for i, (name, data) in enumerate(photos):
        what = f"image {i}" + (f" ({name})" if name else "")
        image = decode_photo(data, what, state.config.max_image_pixels)
        found = state.photos.analyze(image)
        faces = []
        n = len(found.boxes)
        qualities = found.quality.tolist() if found.quality is not None else [float("nan")] * n
        flags = found.uncertain.tolist() if found.uncertain is not None else [False] * n
        for box, probs, q, flag in zip(found.boxes.tolist(), found.probabilities.tolist(), qualities, flags):
            best = max(range(len(probs)), key=probs.__getitem__)
            faces.append(FaceOut(box=Box(x=box[0], y=box[1], w=box[2], h=box[3]),
                                 probabilities=dict(zip(found.labels, probs)), emotion=found.labels[best],
                                 confidence=probs[best], quality=None if q != q else q, uncertain=bool(flag)))
        out.append(PhotoOut(index=i, name=name, width=found.width, height=found.height, faces=faces))
    return out
