"""The real servers the events' tests deliver to: a Mosquitto broker of the tests' own on a free port (it can be
restarted), an MQTT subscriber (paho-mqtt), and a local HTTP receiver that checks each webhook's signature (it can
be taken down and brought back on its port)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ferstream.events.webhook import verify
from tests.conftest import free_port


def wait_until(predicate, timeout: float = 20.0, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


class Mosquitto:
    def __init__(self, workdir: Path, extra: str = "", anonymous: bool = True):
        self.binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
        if self.binary is None:
            pytest.fail("mosquitto is not installed: run the tests with `make test`, which installs it")
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        # run as root (a container), mosquitto would drop to its own user, who cannot read the test's files
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous {str(anonymous).lower()}\n"
                             f"persistence false\nlog_dest file {workdir / 'mosquitto.log'}\n{user}{extra}")
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        import socket

        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False

        assert wait_until(listening, 10), "mosquitto did not start"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    """Collects the messages of ``topic`` (a filter) as (topic, payload text, retained)."""

    def __init__(self, port: int, topic: str, user: tuple[str, str] | None = None, ca_certs: str | None = None):
        import paho.mqtt.client as paho

        self.messages: list[tuple[str, str, bool]] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(*user)
        if ca_certs:
            self.client.tls_set(ca_certs=ca_certs)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload.decode(), bool(m.retain)))
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def events(self) -> list[dict]:
        return [json.loads(p) for t, p, _ in list(self.messages) if t.endswith("/events")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Receiver:
    """A webhook receiver on a loopback port: keeps each body whose signature is good; ``down`` and ``up``."""

    def __init__(self, secret: str):
        self.secret, self.port = secret, free_port()
        self.bodies: list[dict] = []
        self.received_at: list[float] = []
        self.bad_signatures = 0
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(receiver.secret, self.headers["X-Ferstream-Timestamp"], body,
                            self.headers["X-Ferstream-Signature"])
                if ok:
                    receiver.bodies.append(json.loads(body))
                    receiver.received_at.append(time.time())
                else:
                    receiver.bad_signatures += 1
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
