"""Results: ``/v1/sources`` and one source's state, faces (filtered, paged; JSON, CSV or Parquet), tracks and
summary, read with the queries ``ferstream status`` and ``ferstream export`` use (``db.queries``)."""

from __future__ import annotations

import base64
import binascii
import math
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ferstream.api_server.auth import caller
from ferstream.api_server.config import DEFAULT_PAGE, MAX_PAGE
from ferstream.api_server.formats import MEDIA, chosen_format, csv_stream, face_schema, parquet_stream
from ferstream.api_server.problems import ApiProblem
from ferstream.api_server.state import ApiState, api_state
from ferstream.db.face_pages import COLUMNS, FaceFilter, face_page, face_pages
from ferstream.emotion_model import EMOTIONS

router = APIRouter(prefix="/v1/sources", tags=["sources"], dependencies=[Depends(caller)])
SourceId = Path(ge=1, le=2**31 - 1, description="the source's id")


class SourceOut(BaseModel):
    id: int
    name: str
    kind: str = Field(description="file or live")
    status: str = Field(description="queued, running, done or failed")
    state: str = Field(description="ingest's state: queued, reading, finished (files); starting, running, "
                                   "reconnecting, stalled, stopped (live); failed")
    progress: float | None = Field(description="share of the frames done, 0..1: a file's sampled frames (of its "
                                   "whole length while it is read) analysed or failed, a live source's frames sent; a "
                                   "failed source: the share analysed before it failed (of the whole file for a file)")
    duration_s: float | None
    fps: float | None
    width: int | None
    height: int | None
    sample_fps: float | None
    frames_read: int
    frames_queued: int
    frames_analysed: int
    frames_failed: int
    frames_dropped: int
    faces: int
    reconnects: int
    last_frame_at: datetime | None
    error: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _source(row: dict) -> SourceOut:
    from types import SimpleNamespace

    from ferstream.db.queries import source_progress

    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    clean["progress"] = source_progress(SimpleNamespace(**clean))
    for k in ("last_frame_at", "created_at", "updated_at"):
        at = clean.get(k)
        at = None if at is None or str(at) == "NaT" else at
        clean[k] = at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at  # SQLite: naive UTC
    return SourceOut(**{k: clean.get(k) for k in SourceOut.model_fields})


@router.get("", response_model=list[SourceOut], summary="every source (files and live) with its state and progress")
def list_sources(state: ApiState = Depends(api_state)) -> list[SourceOut]:
    from ferstream.db.queries import sources

    return [_source(r) for r in sources(state.engine).to_dict("records")]


@router.get("/{source_id}", response_model=SourceOut, summary="one source: state, progress, counts, error")
def get_source(source_id: int = SourceId, state: ApiState = Depends(api_state)) -> SourceOut:
    from ferstream.db.queries import progress

    return _source(progress(state.engine, source_id))


def _known(state: ApiState, source_id: int) -> None:
    from ferstream.db.queries import progress

    progress(state.engine, source_id)  # SourceNotFound: 404


def _cursor(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        frame, face = base64.urlsafe_b64decode(text.encode() + b"==").decode().split(":")
        return int(frame), int(face)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(422, "Unprocessable content", "cursor: not a cursor this API gave (next_cursor)") from None


def _next_cursor(row: dict) -> str:
    return base64.urlsafe_b64encode(f"{row['frame_index']}:{row['face_index']}".encode()).decode().rstrip("=")


class FacesPage(BaseModel):
    faces: list[dict] = Field(description=f"face rows: {', '.join(COLUMNS)}")
    next_cursor: str | None = Field(description="pass as ?cursor= for the rows after this page (also later, for the "
                                                "rows a live source adds); null: none yet")
    has_more: bool = Field(description="whether more rows are there now")


@router.get("/{source_id}/faces", summary="the source's faces: filters, cursor paging; JSON, CSV or Parquet",
            response_model=FacesPage,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["parquet"]: {}}}})
async def faces(request: Request, source_id: int = SourceId,
                start: float | None = Query(None, ge=0, description="from this media time, seconds"),
                end: float | None = Query(None, ge=0, description="up to this media time, seconds"),
                track: int | None = Query(None, ge=1, description="only this person (track id)"),
                emotion: str | None = Query(None, description=f"only this label: {', '.join(EMOTIONS)}"),
                min_quality: float | None = Query(None, ge=0, le=1, description="only faces of at least this quality"),
                cursor: str | None = Query(None, description="next_cursor of the page before"),
                limit: int | None = Query(None, ge=1, description=f"rows: a JSON page holds at most {MAX_PAGE} "
                                                                   f"(default {DEFAULT_PAGE}); CSV and Parquet: all"),
                format: str | None = Query(None, description="json, csv or parquet (default: by Accept, else json)"),
                state: ApiState = Depends(api_state)):
    from ferstream.db.face_pages import has_quality

    if emotion is not None and emotion not in EMOTIONS:
        raise ApiProblem(422, "Unprocessable content", f"emotion: one of {', '.join(EMOTIONS)}, got {emotion!r}")
    if min_quality is not None and not has_quality():
        raise ApiProblem(422, "Unprocessable content", "min_quality: this database's faces have no quality yet")
    kind = chosen_format(request, format)
    where = FaceFilter(start, end, track, emotion, min_quality)
    after = _cursor(cursor)
    await run_in_threadpool(_known, state, source_id)
    if kind == "json":
        size = min(limit or DEFAULT_PAGE, MAX_PAGE)
        rows = await run_in_threadpool(face_page, state.engine, source_id, where, after, size + 1)  # one more: is
        more, rows = len(rows) > size, rows[:size]  # there a row after this page, also when the page is exactly full
        return FacesPage(faces=rows, next_cursor=_next_cursor(rows[-1]) if rows else cursor, has_more=more)
    pages = face_pages(state.engine, source_id, where, after, page=5000, limit=limit)
    body = csv_stream(pages, COLUMNS) if kind == "csv" else parquet_stream(pages, COLUMNS, face_schema(COLUMNS))
    name = f"source-{source_id}-faces.{kind}"
    return StreamingResponse(body, media_type=MEDIA[kind], headers={"Content-Disposition": f'attachment; filename="{name}"'})


IncludeUncertain = Query(False, description="count uncertain faces (too turned, blurred, dark or small, or a model "
                                           "unsure of them) in the emotions; by default they are left out, and counted "
                                           "apart (uncertain_faces)")


def _number(value) -> float | None:
    """A float for JSON: NaN (no face counted) is null."""
    return None if value is None or value != value else float(value)


@router.get("/{source_id}/tracks", summary="one row per person (face track): when seen, faces (how many uncertain, "
            "their mean quality), emotion shares")
def tracks(source_id: int = SourceId, include_uncertain: bool = IncludeUncertain,
           state: ApiState = Depends(api_state)) -> dict:
    from ferstream.db.queries import tracks_table

    _known(state, source_id)
    df = tracks_table(state.engine, source_id, include_uncertain=include_uncertain)
    rows = []
    for r in df.to_dict("records"):
        rows.append({"track_id": int(r["track_id"]), "first_timestamp": r["first_timestamp"],
                     "last_timestamp": r["last_timestamp"], "seen_s": r["seen_s"], "faces": int(r["faces"]),
                     "uncertain_faces": int(r["uncertain_faces"]), "mean_quality": _number(r["mean_quality"]),
                     "dominant_emotion": r["dominant_emotion"],
                     "shares": {e: _number(r[f"share_{e}"]) for e in EMOTIONS},
                     "mean": {e: _number(r[f"mean_{e}"]) for e in EMOTIONS}})
    return {"source_id": source_id, "include_uncertain": include_uncertain, "tracks": rows}


@router.get("/{source_id}/summary", summary="what `ferstream analyze` prints: counts, emotions, people; uncertain "
            "faces counted apart unless include_uncertain")
def summary(source_id: int = SourceId, include_uncertain: bool = IncludeUncertain,
            state: ApiState = Depends(api_state)) -> dict:
    from ferstream.db.queries import emotion_summary, tracks_table

    source = get_source(source_id, state)
    table = emotion_summary(state.engine, source_id, include_uncertain=include_uncertain)
    emotions = {r["emotion"]: {"faces": int(r["faces"]), "share": float(r["share"]),
                               "mean_confidence": _number(r["mean_confidence"]), "uncertain": int(r["uncertain"])}
                for r in table.to_dict("records")}
    counted = sum(e["faces"] for e in emotions.values())
    uncertain = int(table["uncertain"].sum())
    people = tracks_table(state.engine, source_id)
    dominant = max(emotions, key=lambda e: emotions[e]["faces"]) if counted else None
    return {"source": source.model_dump(mode="json"), "emotions": emotions, "dominant_emotion": dominant,
            "people": len(people), "faces_counted": counted, "uncertain_faces": uncertain,
            "include_uncertain": include_uncertain,
            "counted": ("every face, uncertain ones included" if include_uncertain else
                        f"certain faces only: {uncertain} uncertain face{'' if uncertain == 1 else 's'} left out of "
                        "faces, share and mean_confidence (include_uncertain=true counts them)")}
