"""Live pictures of a running camera or source: ``live.mjpeg`` (multipart MJPEG, which browsers and VLC play) and
``snapshot.jpg``, read from Redis where the workers put them (``ferstream.previews``), behind the same keys as every
route (a read-only key may watch).

A source is watched from the first request on, and the workers draw its pictures only while it is: the first
picture takes a moment. A viewer that stops reading holds up nothing but its own stream (the server writes the next
picture when the last one was taken; the workers never wait for a viewer), and only the newest pictures exist.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from ferstream import previews
from ferstream.api_server.auth import caller
from ferstream.api_server.problems import ApiProblem
from ferstream.api_server.routes.cameras import CameraName
from ferstream.api_server.routes.sources import SourceId
from ferstream.api_server.state import ApiState, api_state
from ferstream.urls import mask_url

router = APIRouter(prefix="/v1", tags=["live pictures"], dependencies=[Depends(caller)])

BOUNDARY = "ferstream-picture"
#: seconds a request waits for a first picture (nobody watched the source before: the workers drew none)
FIRST_PICTURE_WAIT_S = 4.0
#: seconds between two looks for newer pictures, between two "still watched", and between two looks at the source
POLL_S = 0.1
WATCH_EVERY_S = 1.0
STATE_EVERY_S = 2.0
#: the longest pause between two pictures of a chunk (their media times may be far apart in a sparse sample)
MAX_GAP_S = 1.0
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/cameras/{name}/live.mjpeg", response_class=StreamingResponse,
            summary="the camera's analysed frames with each face drawn (box, track, emotion, confidence), as MJPEG",
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}})
async def camera_stream(request: Request, name: str = CameraName, state: ApiState = Depends(api_state)):
    return await _stream_response(request, state, await run_in_threadpool(_camera_source, state, name))


@router.get("/cameras/{name}/snapshot.jpg", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}},
            summary="the camera's newest analysed frame with each face drawn")
async def camera_snapshot(name: str = CameraName, state: ApiState = Depends(api_state)):
    return await _snapshot(state, await run_in_threadpool(_camera_source, state, name))


@router.get("/sources/{source_id}/live.mjpeg", response_class=StreamingResponse,
            summary="a running source's analysed frames with each face drawn, as MJPEG",
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}})
async def source_stream(request: Request, source_id: int = SourceId, state: ApiState = Depends(api_state)):
    return await _stream_response(request, state, source_id)


@router.get("/sources/{source_id}/snapshot.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}},
            summary="a running source's newest analysed frame with each face drawn")
async def source_snapshot(source_id: int = SourceId, state: ApiState = Depends(api_state)):
    return await _snapshot(state, source_id)


def _camera_source(state: ApiState, name: str) -> int:
    """The source of the camera's current run; 404 for an unknown camera, 409 for one that never ran."""
    from ferstream.db.queries import newest_source
    from ferstream.ingest.camera_store import get_camera

    camera = get_camera(state.engine, name)  # CameraNotFound: 404
    source_id = newest_source(state.engine, camera.name)
    if source_id is None:
        raise ApiProblem(409, "Conflict", f"camera {name!r} is not running: it has never been watched "
                         f"({'enabled' if camera.enabled else 'disabled'}; `ferstream watch --config` runs the "
                         "enabled cameras)")
    return source_id


def _running(state: ApiState, source_id: int) -> None:
    """404 for an unknown source, 409 for one that has ended (nothing more is analysed: no live picture)."""
    from ferstream.db.queries import progress

    source = progress(state.engine, source_id)  # SourceNotFound: 404
    if source["status"] in ("done", "failed"):
        raise ApiProblem(409, "Conflict", f"source {source_id} ({source['name']}) is not running (it is "
                         f"{source['status']}, ingest {source['state']}): live pictures show running sources only",
                         source_status=source["status"])


def _redis(state: ApiState):
    """This app's Redis client (made on first use); 503 when the server has no Redis."""
    url = state.config.settings.redis_url
    if not url:
        raise ApiProblem(503, "Service unavailable", "live pictures come from the workers through Redis: start "
                         "`ferstream serve` with --redis URL (the workers' Redis)")
    client = state.clients.get("redis")
    if client is None:
        from ferstream.ingest.queue import connect_redis

        client = state.clients["redis"] = connect_redis(url)  # ServiceError (503) when unreachable
    return client


async def _call(state: ApiState, function, *args):
    try:
        return await run_in_threadpool(function, *args)
    except RedisError as exc:
        raise ApiProblem(503, "Service unavailable", f"Redis at {mask_url(state.config.settings.redis_url)}: "
                         f"{exc}") from None


async def _first(state: ApiState, source_id: int) -> tuple[object, previews.PreviewKeys, previews.Pictures]:
    """Redis, the source's keys and its newest pictures, the source watched from now on; the clear error otherwise."""
    from ferstream.db.identity import database_id

    await run_in_threadpool(_running, state, source_id)
    redis = await run_in_threadpool(_redis, state)
    keys = previews.preview_keys(await run_in_threadpool(database_id, state.engine), source_id)
    fps = state.config.settings.preview_fps
    first = await _call(state, previews.first_pictures, redis, keys, fps, FIRST_PICTURE_WAIT_S)
    if first is not None:
        return redis, keys, first
    if await _call(state, previews.turned_off, redis, keys):
        raise ApiProblem(409, "Conflict", f"source {source_id}: its live pictures are turned off (--preview off, or "
                         "FERSTREAM_PREVIEW=off, on its watch or its workers)")
    raise ApiProblem(503, "Service unavailable", f"source {source_id}: no live picture within "
                     f"{FIRST_PICTURE_WAIT_S:g} s: no worker analyses its frames now (workers down or behind, or a "
                     "stream that delivers nothing); try again", {"Retry-After": "2"})


async def _snapshot(state: ApiState, source_id: int) -> Response:
    _, _, pictures = await _first(state, source_id)
    return Response(pictures.last.jpeg, media_type="image/jpeg", headers={**NO_STORE, **_headers(pictures.last)})


async def _stream_response(request: Request, state: ApiState, source_id: int) -> StreamingResponse:
    redis, keys, first = await _first(state, source_id)
    return StreamingResponse(_parts(request, state, redis, keys, source_id, first),
                             media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={**NO_STORE, "X-Accel-Buffering": "no"})


def _headers(picture: previews.Picture) -> dict[str, str]:
    """Which frame a picture is: its index and media time in the source (as the faces' rows name it)."""
    return {"X-Frame-Index": str(picture.frame_index), "X-Timestamp": f"{picture.timestamp:.3f}"}


def _part(picture: previews.Picture) -> bytes:
    head = {"Content-Type": "image/jpeg", "Content-Length": str(len(picture.jpeg)), **_headers(picture)}
    return (f"--{BOUNDARY}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode() \
        + picture.jpeg + b"\r\n"


async def _parts(request: Request, state: ApiState, redis, keys: previews.PreviewKeys, source_id: int,
                 pictures: previews.Pictures):
    """Each new picture once, at the pace of the frames' media times, until the source ends or the viewer leaves."""
    fps = state.config.settings.preview_fps
    sent, seen = -1, None
    watched = checked = time.monotonic()
    try:
        while True:
            fresh = [p for p in pictures.frames if p.frame_index > sent]
            for k, picture in enumerate(fresh):
                yield _part(picture)
                sent = picture.frame_index
                if k + 1 < len(fresh):
                    await asyncio.sleep(min(MAX_GAP_S, max(0.0, fresh[k + 1].timestamp - picture.timestamp)))
            while True:  # the next pictures
                if await request.is_disconnected():
                    return
                now = time.monotonic()
                if now - watched >= WATCH_EVERY_S:
                    await run_in_threadpool(previews.watch, redis, keys, fps)
                    watched = now
                if now - checked >= STATE_EVERY_S:
                    await run_in_threadpool(_running, state, source_id)
                    checked = now
                version = await run_in_threadpool(previews.version, redis, keys)
                if version is not None and version != seen:
                    seen = version
                    newer = await run_in_threadpool(previews.latest, redis, keys)
                    if newer is not None and newer.last.frame_index > sent:
                        pictures = newer
                        break
                await asyncio.sleep(POLL_S)
    except (ApiProblem, RedisError):  # the source ended, or Redis went away: the stream ends
        return
