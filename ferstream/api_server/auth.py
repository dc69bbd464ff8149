"""Who calls: ``Authorization: Bearer KEY`` on every route but ``/healthz``; read-only keys only read (no analysis).

A server bound to this machine only (loopback) before any key was ever made answers without one, so that
``ferstream serve`` works at once on a laptop; the first key made (``ferstream apikey create``) ends that, and
``ferstream serve`` refuses a non-loopback address without a key.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select

from ferstream.api_server.problems import ApiProblem
from ferstream.db.api_keys import KeyInfo, verify_key
from ferstream.db.models import ApiKey

_bearer = HTTPBearer(auto_error=False, description="an API key from `ferstream apikey create`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ferstream"'}

#: the caller of a server that needs no key (loopback, no key ever made): may do everything
ANONYMOUS = KeyInfo(0, "(no key: this machine only, no key made yet)", "", False, None, None)  # type: ignore[arg-type]


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> KeyInfo:
    """The key of the request (a dependency); 401 when missing, unknown or revoked."""
    state = request.app.state.api
    if credentials is None:
        if request.headers.get("authorization"):
            raise ApiProblem(401, "Unauthorized", "the Authorization header must be `Bearer KEY`", _CHALLENGE)
        if state.config.loopback and not _any_key_made(state.engine):
            return ANONYMOUS
        raise ApiProblem(401, "Unauthorized", "an API key is needed: send `Authorization: Bearer KEY` (make one with "
                         "`ferstream apikey create --name NAME`)", _CHALLENGE)
    key = verify_key(state.engine, credentials.credentials)
    if key is None:
        raise ApiProblem(401, "Unauthorized", "this API key is unknown or revoked", _CHALLENGE)
    return key


def writer(key: KeyInfo = Depends(caller)) -> KeyInfo:
    """The key of a request that submits, changes or deletes; 403 for a read-only key."""
    if key.read_only:
        raise ApiProblem(403, "Forbidden", f"the API key {key.name!r} is read-only: it cannot analyse, submit, change "
                         "cameras or delete")
    return key


def _any_key_made(engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ApiKey)).scalar_one() > 0
