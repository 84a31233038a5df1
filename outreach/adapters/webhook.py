"""In-platform messages POSTed as signed JSON to MESSAGES_WEBHOOK_URL.

The body is JSON (``team_id``, ``mpid``, ``author``, ``text``, ``attachments`` with name, mime, size, sha256
and base64 data, ``idempotency_key``). The signature is HMAC-SHA256 over ``v1:{timestamp}:{body}`` with
MESSAGES_WEBHOOK_SECRET, sent as ``X-Outreach-Signature: v1=<hex>`` beside ``X-Outreach-Timestamp``
(:mod:`outreach.webhook_signing`); the receiver checks it with ``verify_signature`` there and de-duplicates on
``Idempotency-Key``.

Outcomes: 2xx → the provider id (``id`` in the JSON answer, else an ``X-Message-Id`` header, else the
idempotency key); anything else raises DeliveryFailed carrying a :class:`~outreach.errors.Refusal`: 4xx
(but 408/425/429) and redirects → permanent; 408, 425, 429, 5xx, timeouts, refused connections → passing.
The transport is dumb: who may be messaged is the core's business.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import Message
from typing import Any

from outreach.errors import DeliveryFailed, Refusal
from outreach.models import OutgoingMessage
from outreach.webhook_signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

ID_HEADERS = ("X-Message-Id", "X-Outreach-Message-Id")
TRANSIENT_CLIENT_STATUSES = frozenset({408, 425, 429})
_MAX_ANSWER = 64 * 1024


def message_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The JSON document for ``message`` (attachments inline, base64)."""
    return {
        "team_id": message.team_id,
        "mpid": message.mpid,
        "author": message.author_id,
        "text": message.text,
        "attachments": [
            {
                "name": a.filename,
                "mime": a.mime_type,
                "size": a.size,
                "sha256": a.sha256,
                "data": base64.b64encode(a.data).decode("ascii"),
            }
            for a in message.attachments
        ],
        "idempotency_key": idempotency_key(message),
    }


def idempotency_key(message: OutgoingMessage) -> str:
    """The message's own key, or one derived from its content so that a retry carries the same key."""
    if message.idempotency_key:
        return message.idempotency_key
    digest = hashlib.sha256()
    for part in (message.team_id, message.mpid, message.author_id, message.text):
        digest.update(part.encode() + b"\x00")
    for a in message.attachments:
        digest.update(a.sha256.encode() + b"\x00")
    return f"msg-{digest.hexdigest()[:40]}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would silently become a GET without body: treat 3xx as an answer instead."""

    def redirect_request(  # noqa: PLR0917 (urllib's signature)
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


class WebhookTransport:
    """Implements :class:`outreach.ports.MessageTransport`. Safe to share between threads."""

    def __init__(
        self,
        url: str,
        secret: str,
        timeout: float,
        *,
        clock: Callable[[], float] = time.time,
        user_agent: str = "prospect-outreach-webhook/1",
    ) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"MESSAGES_WEBHOOK_URL must be an http:// or https:// URL, not {url!r}")
        if not secret:
            raise ValueError("MESSAGES_WEBHOOK_SECRET must be set to sign webhook requests")
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self._clock = clock
        self._user_agent = user_agent
        # Direct connections only: no proxy from the environment, no redirects.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def send(self, message: OutgoingMessage) -> str:
        payload = message_payload(message)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": self._user_agent,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
                IDEMPOTENCY_HEADER: payload["idempotency_key"],
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer = response.read(_MAX_ANSWER)
                return _provider_id(answer, response.headers) or payload["idempotency_key"]
        except urllib.error.HTTPError as exc:
            with exc:
                raise DeliveryFailed.of(_http_refusal(exc.code, exc.read(_MAX_ANSWER))) from exc
        except urllib.error.URLError as exc:
            raise DeliveryFailed(f"webhook unreachable: {_reason(exc.reason)}", permanent=False) from exc
        except TimeoutError as exc:
            raise DeliveryFailed("webhook timed out", permanent=False) from exc
        except OSError as exc:  # reset or dropped while reading the answer
            raise DeliveryFailed(f"webhook connection failed: {_reason(exc)}", permanent=False) from exc


def _provider_id(answer: bytes, headers: Mapping[str, str] | Message) -> str:
    try:
        data = json.loads(answer) if answer.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("id"), str | int) and str(data["id"]):
        return str(data["id"])
    for name in ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return ""


def _http_refusal(status: int, answer: bytes) -> Refusal:
    detail = answer.decode("utf-8", "replace").strip()[:200]
    reason = f"webhook answered {status}" + (f": {detail}" if detail else "")
    transient = status >= 500 or status in TRANSIENT_CLIENT_STATUSES
    return Refusal(reason, permanent=not transient)


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)
