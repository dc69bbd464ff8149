"""``ferstream serve``: the app served by uvicorn, refused on an address other machines reach without an API key."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

from ferstream.api_server.config import ServerConfig
from ferstream.errors import ConfigError

log = logging.getLogger(__name__)


def uvicorn_server_class():
    import uvicorn

    return uvicorn.Server


def serve(config: ServerConfig) -> int:
    import uvicorn

    from ferstream import db
    from ferstream.api_server.app import create_app
    from ferstream.db.api_keys import active_keys, revoked_keys

    engine = db.connect(config.settings.database_url)
    keys, revoked = active_keys(engine), revoked_keys(engine)
    if not config.loopback and not keys:
        why = (f"every API key is revoked ({revoked} revoked, none active)" if revoked else "no API key was made yet")
        raise ConfigError(f"refusing to listen on {config.host}, which other machines reach, without an active API key: "
                          f"{why}; make one with `ferstream apikey create --name NAME` (or listen on 127.0.0.1)")
    app = create_app(config)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    server = _Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                                    timeout_graceful_shutdown=10))
    server.banner = (f"ferstream API on http://{shown}:{config.port} (docs at /docs)"
                     + ("" if keys else "; every API key is revoked: every request is refused until one is made"
                        if revoked else "; no API key made yet: this machine only, no key needed until one is made"))
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot listen (the port taken)
        raise ConfigError(f"cannot listen on {config.host}:{config.port} (is the port in use?)") from exc
    print("ferstream API stopped", flush=True)
    return 0


class _Server(uvicorn_server_class()):
    """uvicorn's server, but a SIGTERM or Ctrl-C that it has shut down for gracefully ends the command with status
    0 (uvicorn raises the signal again once it has stopped, which a supervisor reads as a crash). Its ``banner`` is
    printed once it listens."""

    banner = ""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.banner:
            print(self.banner, flush=True)

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
