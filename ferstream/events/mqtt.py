"""MQTT (paho-mqtt): the change feed on ``<prefix>/events``, each source's current crowd shares on
``<prefix>/<camera>/emotion`` (retained) and ``<prefix>/available`` (``online``, or ``offline`` by the last will
when this process goes away), all at QoS 1. TLS and the username and password come from the configuration and
are never printed: the endpoint is named by its host, port, user and prefix only.
"""

from __future__ import annotations

import json
import logging
import threading

from ferstream.events.rules import Mqtt
from ferstream.events.webhook import DeliveryError

log = logging.getLogger(__name__)

#: seconds to wait for the broker's acknowledgement (PUBACK) of one change
DEFAULT_ACK_TIMEOUT_S = 5.0


class MqttSender:
    """One connection to the broker, kept (and re-made) by paho's network thread."""

    def __init__(self, mqtt: Mqtt, ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S):
        import paho.mqtt.client as paho

        self.mqtt, self.ack_timeout_s = mqtt, ack_timeout_s
        self.endpoint = mqtt.endpoint
        self.connected = threading.Event()
        self.last_error: str | None = None
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=mqtt.client_id or "", protocol=paho.MQTTv311)
        if mqtt.username:
            client.username_pw_set(mqtt.username, mqtt.password)
        if mqtt.tls:
            client.tls_set(ca_certs=mqtt.ca_certs, certfile=mqtt.certfile, keyfile=mqtt.keyfile)
        client.will_set(self.topic("available"), "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self.client = client
        client.connect_async(mqtt.host, mqtt.port, keepalive=30)
        client.loop_start()

    def topic(self, *parts: str) -> str:
        return "/".join((self.mqtt.prefix, *parts))

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"refused: {reason_code}"
            log.warning("%s: connection refused: %s", self.endpoint, reason_code)
            return
        client.publish(self.topic("available"), "online", qos=1, retain=True)
        self.connected.set()
        log.info("%s: connected", self.endpoint)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        self.last_error = f"disconnected: {reason_code}"

    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        if not self.connected.wait(self.ack_timeout_s):
            raise DeliveryError(f"not connected to the broker ({self.last_error or 'connecting'})")
        try:
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            info.wait_for_publish(self.ack_timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryError(f"publish failed: {exc}") from None
        if not info.is_published():
            raise DeliveryError(f"no acknowledgement from the broker within {self.ack_timeout_s:g}s")

    def send(self, body: str) -> None:
        """One change on ``<prefix>/events``, acknowledged by the broker (QoS 1)."""
        self._publish(self.topic("events"), body)

    def publish_shares(self, shares: dict[str, dict]) -> None:
        """Each source's current crowd shares, retained on ``<prefix>/<camera>/emotion`` (skipped while not
        connected: the next ones replace them)."""
        if not self.connected.is_set():
            return
        for camera, payload in shares.items():
            self._publish(self.topic(camera.replace("/", "_").replace("+", "_").replace("#", "_"), "emotion"),
                          json.dumps(payload, sort_keys=True), retain=True)

    def close(self) -> None:
        try:
            if self.connected.is_set():
                self.client.publish(self.topic("available"), "offline", qos=1, retain=True).wait_for_publish(2.0)
        except (RuntimeError, ValueError):
            pass
        self.client.disconnect()
        self.client.loop_stop()
