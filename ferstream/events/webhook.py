"""Webhooks: an event change POSTed as JSON, signed with the endpoint's secret.

Headers: ``X-Ferstream-Event`` (the event id: a receiver de-duplicates on it and ``seq``),
``X-Ferstream-Timestamp`` (Unix seconds of this attempt) and ``X-Ferstream-Signature``
(``sha256=`` and the hex HMAC-SHA256, keyed with the secret, of ``"<timestamp>.<body>"``). A receiver checks the
signature with ``verify`` and refuses a timestamp older than a few minutes (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from ferstream.errors import FerstreamError
from ferstream.events.rules import Webhook
from ferstream.urls import mask_secrets

#: seconds a signature's timestamp stays acceptable to ``verify`` (replays older than this are refused)
DEFAULT_TOLERANCE_S = 300


class DeliveryError(FerstreamError):
    """An endpoint did not take a change (down, refused, timed out): it is tried again later."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: float = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> bool:
    """Whether a delivery's signature is the secret's and its timestamp recent (what a receiver checks)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


class WebhookSender:
    """POSTs change bodies to one webhook."""

    def __init__(self, webhook: Webhook):
        self.webhook = webhook
        self.endpoint = webhook.endpoint

    def send(self, body: str) -> None:
        data = body.encode()
        ts = int(time.time())
        event_id = json.loads(body).get("id", "")
        request = urllib.request.Request(self.webhook.url, data=data, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "ferstream-events", "X-Ferstream-Event": event_id,
            "X-Ferstream-Timestamp": str(ts), "X-Ferstream-Signature": sign(self.webhook.secret, ts, data)})
        try:
            with urllib.request.urlopen(request, timeout=self.webhook.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DeliveryError(mask_secrets(f"{type(exc).__name__}: {reason}")) from None

    def close(self) -> None:
        pass
