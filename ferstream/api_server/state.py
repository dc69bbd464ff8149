"""What one app holds for its lifetime (``app.state.api``): the config, the database, the photo analyzer, the video
submitter. Built by ``app.create_app``; routes reach it through ``api_state``."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from ferstream.api_server.analysis import PhotoAnalyzer
from ferstream.api_server.config import ServerConfig
from ferstream.api_server.videos import VideoSubmitter


@dataclass
class ApiState:
    config: ServerConfig
    engine: object
    photos: PhotoAnalyzer
    videos: VideoSubmitter
    clients: dict = field(default_factory=dict)  # made on first use: "redis" (the live pictures' Redis)


def api_state(request: Request) -> ApiState:
    return request.app.state.api
