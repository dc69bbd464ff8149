"""What the server refuses before any route runs (ASGI middleware, installed by ``app.create_app``):

- ``HostAndOrigin``: a request whose ``Host`` is not a name this server serves (400), so that a web page cannot
  reach a server on this machine through a name of its own (DNS rebinding); and a request that changes something
  (POST, PUT, PATCH, DELETE) sent by a web page of another site: an ``Origin`` that is neither the server itself nor
  a ``--cors-origin`` (403). A request without ``Origin`` (the CLI, curl, a script) is not a browser's: it passes.
- ``JsonDepthLimit``: a JSON body nested deeper than ``MAX_JSON_DEPTH``, refused (422) as it arrives, before any
  parser recurses into it.
"""

from __future__ import annotations

import ipaddress
import re
import socket

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from ferstream.api_server.config import ServerConfig
from ferstream.api_server.problems import problem
from ferstream.urls import embedded_ipv4

#: how deep a JSON body may nest ({"images": [{"data": ...}]} is 3)
MAX_JSON_DEPTH = 64
#: the methods that change something: refused from another site's web page
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: the names of this machine a server on a loopback (or every) address answers to
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def bare_host(host: str) -> str:
    """A Host header's (or an address's) name: lower case, without its port, brackets or final dot."""
    text = host.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


def served_hosts(config: ServerConfig) -> frozenset[str]:
    """The Host names a server answers to: its bind address, this machine's names for a loopback (or every-address)
    bind, its host names for an every-address bind, and ``--allowed-host``."""
    bind = bare_host(config.host)
    names = {bind} | {bare_host(h) for h in config.allowed_hosts}
    if config.loopback or bind in _WILDCARDS:
        names |= LOOPBACK_NAMES
    if bind in _WILDCARDS:
        names |= {bare_host(socket.gethostname()), bare_host(socket.getfqdn())}
    return frozenset(names)


class HostAndOrigin:
    def __init__(self, app, config: ServerConfig):
        self.app = app
        self.any_host = "*" in config.allowed_hosts
        self.hosts = served_hosts(config)
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in config.cors_origins)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not (self.any_host or self._served(host, scope)):
            answer = problem(400, "Bad request", f"this server does not answer for the host {host[:100]!r} (a name it "
                             "serves is added with --allowed-host NAME)")
            return await answer(scope, receive, send)
        origin = headers.get("origin")
        if origin is not None and scope["method"] in STATE_CHANGING and not self._allowed_origin(origin, host):
            answer = problem(403, "Forbidden", f"a {scope['method']} from the web page of another site (Origin "
                             f"{origin[:100]!r}) is refused: only this server's own pages and --cors-origin origins "
                             "may change anything")
            return await answer(scope, receive, send)
        await self.app(scope, receive, send)

    def _served(self, host: str, scope) -> bool:
        name = bare_host(host)
        if name in self.hosts:
            return True
        local = (scope.get("server") or ("",))[0]  # the address the request came in on: this server itself
        return bool(local) and _same_address(name, bare_host(local))

    def _allowed_origin(self, origin: str, host: str) -> bool:
        text = origin.strip().rstrip("/").lower()
        if text in self.origins:
            return True
        match = re.fullmatch(r"[a-z][a-z0-9+.-]*://([^/]+)", text)
        return match is not None and match.group(1) == host.strip().lower()


def _same_address(a: str, b: str) -> bool:
    try:
        first, second = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    return embedded_ipv4(first) == embedded_ipv4(second)


class JsonDepthLimit:
    """Refuses (422) a JSON body nested deeper than ``limit``, counted as its bytes arrive (strings skipped)."""

    def __init__(self, app, limit: int = MAX_JSON_DEPTH):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _is_json(Headers(scope=scope).get("content-type")):
            return await self.app(scope, receive, send)
        depth = _Depth()

        async def checked():
            message = await receive()
            if message["type"] == "http.request" and depth.feed(message.get("body", b"")) > self.limit:
                raise HTTPException(422, f"the JSON body is nested deeper than {self.limit} levels: refused unread",
                                    headers={"Connection": "close"})
            return message

        await self.app(scope, checked, send)


def _is_json(content_type: str | None) -> bool:
    """Whether a body of this Content-Type is parsed as JSON (none given, application/json, application/*+json)."""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


_JSON_TOKENS = re.compile(rb'["\\\[\]{}]')


class _Depth:
    """The deepest nesting of a JSON text fed in pieces, brackets inside strings left out."""

    def __init__(self):
        self.depth = self.deepest = 0
        self.in_string = self.escaped = False

    def feed(self, data: bytes) -> int:
        skip = 0
        if self.escaped and data:
            skip, self.escaped = 1, False
        for match in _JSON_TOKENS.finditer(data):
            i = match.start()
            if i < skip:
                continue
            char = data[i]
            if self.in_string:
                if char == 0x5C:  # a backslash: the next byte is escaped
                    skip = i + 2
                    self.escaped = skip > len(data)
                elif char == 0x22:
                    self.in_string = False
            elif char == 0x22:
                self.in_string = True
            elif char in b"[{":
                self.depth += 1
                self.deepest = max(self.deepest, self.depth)
            elif char in b"]}":
                self.depth -= 1
        return self.deepest
