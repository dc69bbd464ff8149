"""``/v1/cameras``: the live cameras of a running ``ferstream watch --config``, added, changed, enabled or disabled
and removed without a restart (``ingest.camera_store``: kept in the database, across restarts). URLs are shown
masked; a camera's name is its key in the path."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from ferstream.api_server.auth import caller, writer
from ferstream.api_server.state import ApiState, api_state

router = APIRouter(prefix="/v1/cameras", tags=["cameras"], dependencies=[Depends(caller)])
#: a camera's name: letters, digits, space, ``.``, ``_``, ``-`` (it goes in paths and metric labels)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"
CameraName = Path(pattern=NAME_PATTERN, description="the camera's name")


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a mistake, as in a cameras file

    name: str = Field(pattern=NAME_PATTERN, description="unique: the source's name in results")
    url: str = Field(min_length=1, max_length=2048, description="rtsp://, http(s):// stream, or a device (0, /dev/video0)")
    sample_fps: float | None = Field(None, description="frames per second analysed (default 5)")
    detector: str | None = Field(None, description="haar or blazeface (default: the watch's)")
    min_face: float | None = Field(None, description="smallest face, share of the frame's shorter side")
    enabled: bool = True
    retention: str | None = Field(None, description="keep its results this long: 30d, 12h, ...")


class CameraPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=1, max_length=2048)
    sample_fps: float | None = None
    detector: str | None = None
    min_face: float | None = None
    enabled: bool | None = None
    retention: str | None = None


class CameraOut(BaseModel):
    name: str
    url: str = Field(description="masked: its password and secret parameters read ***")
    sample_fps: float
    detector: str | None
    min_face: float | None
    enabled: bool
    retention: str | None
    origin: str = Field(description="where it came from: file (a cameras file's), api (added over HTTP) or cli "
                                    "(`ferstream cameras add`)")
    edited: bool = Field(description="changed through the API (the file no longer overwrites it)")
    created_at: datetime
    updated_at: datetime


def _out(stored) -> CameraOut:
    return CameraOut(**stored.shown())


@router.get("", response_model=list[CameraOut], summary="every camera (a running watch --config runs the enabled ones)")
def list_all(state: ApiState = Depends(api_state)) -> list[CameraOut]:
    from ferstream.ingest.camera_store import list_cameras

    return [_out(c) for c in list_cameras(state.engine)]


@router.get("/{name}", response_model=CameraOut, summary="one camera")
def get_one(name: str = CameraName, state: ApiState = Depends(api_state)) -> CameraOut:
    from ferstream.ingest.camera_store import get_camera

    return _out(get_camera(state.engine, name))


@router.post("", response_model=CameraOut, status_code=201, dependencies=[Depends(writer)],
             summary="add a camera: a running watch --config starts it within seconds")
def add(camera: CameraIn, response: Response, state: ApiState = Depends(api_state)) -> CameraOut:
    from ferstream.ingest.camera_store import add_camera

    added = add_camera(state.engine, camera.model_dump(exclude_none=True))
    response.headers["Location"] = f"/v1/cameras/{added.name}"
    return _out(added)


@router.patch("/{name}", response_model=CameraOut, dependencies=[Depends(writer)],
              summary="change a camera (url, sample_fps, detector, min_face, enabled, retention): it restarts")
def change(changes: CameraPatch, name: str = CameraName, state: ApiState = Depends(api_state)) -> CameraOut:
    from ferstream.ingest.camera_store import update_camera

    return _out(update_camera(state.engine, name, changes.model_dump(exclude_unset=True)))


@router.delete("/{name}", status_code=204, dependencies=[Depends(writer)],
               summary="remove a camera: a running watch stops it; a restart does not bring it back")
def remove(name: str = CameraName, state: ApiState = Depends(api_state)) -> Response:
    from ferstream.ingest.camera_store import remove_camera

    remove_camera(state.engine, name)
    return Response(status_code=204)
