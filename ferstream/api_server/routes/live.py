"""``GET /v1/live``: Server-Sent Events as each chunk's faces land (``db.live_feed``); ``Last-Event-ID`` resumes
where a client left, so one that reconnects misses nothing still in the database."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ferstream.api_server.auth import caller
from ferstream.api_server.problems import ApiProblem
from ferstream.api_server.state import ApiState, api_state
from ferstream.db import live_feed

router = APIRouter(prefix="/v1", tags=["live"], dependencies=[Depends(caller)])

#: seconds between two keep-alive comments while nothing lands
KEEPALIVE_S = 15.0


@router.get("/live", summary="Server-Sent Events: each chunk's frames and faces as they land",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def live(request: Request, source: list[int] | None = Query(None, description="only these sources (repeat it)"),
               replay: bool = Query(False, description="start with every chunk still in the database"),
               last_event_id: str | None = Header(None, description="the id of the last event received: resume after it"),
               state: ApiState = Depends(api_state)):
    if last_event_id:
        after = live_feed.parse_key(last_event_id)
        if after is None:
            raise ApiProblem(422, "Unprocessable content", "Last-Event-ID: not an event id this feed gave")
    else:
        after = (0, 0, 0) if replay else live_feed.now_key()
    if source:
        from ferstream.db.queries import progress

        for sid in source:
            await run_in_threadpool(progress, state.engine, sid)  # SourceNotFound: 404 before the stream starts
    return StreamingResponse(_events(request, state, after, source), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(request: Request, state: ApiState, start, sources):
    """Every chunk done after ``start``, once: the newest key sent is the position; keys sent within the slack
    window are remembered so that a chunk that commits late is sent, and none twice."""
    poll = state.config.live_poll_s
    after, sent, idle = start, set(), 0.0
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        chunks = await run_in_threadpool(live_feed.done_since, state.engine, after, sources)
        fresh = [c for c in chunks if c[0] > start and c[0] not in sent]
        for key, _first, _last in fresh:
            frames = await run_in_threadpool(live_feed.chunk_results, state.engine, key[1], key[2])
            data = {"source_id": key[1], "chunk_index": key[2], "frames": frames}
            yield f"id: {live_feed.key_text(key)}\nevent: chunk\ndata: {json.dumps(jsonable_encoder(data))}\n\n"
            sent.add(key)
            after = max(after, key)
        cutoff = after[0] - int(live_feed.SLACK.total_seconds() * 1_000_000)
        sent = {k for k in sent if k[0] >= cutoff}
        if fresh:
            idle = 0.0
            continue
        await asyncio.sleep(poll)
        idle += poll
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"
